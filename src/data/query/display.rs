//! The text form of a filter tree: `Display` for `Expr` and `Literal`,
//! written so that `parse_filter` reads it back to an equal tree. It must
//! never be used to build SQL; it is for messages, logs and round trips.

use std::fmt;

use super::ast::{Expr, Literal, is_keyword};

/// Writes a column name so the parser reads it back: bare when it is a
/// plain identifier that is not a keyword, double-quoted otherwise.
fn fmt_ident(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !is_keyword(name);
    if plain {
        return f.write_str(name);
    }
    f.write_str("\"")?;
    f.write_str(&name.replace('"', "\"\""))?;
    f.write_str("\"")
}

fn fmt_text(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    f.write_str(&s.replace('\'', "''"))?;
    f.write_str("'")
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            // Debug, not Display: it always keeps a `.` or an exponent
            // (`1.0`, `1e20`), which is what makes the parser read it back
            // as a real and not an integer, and it round-trips exactly.
            Literal::Real(r) => write!(f, "{r:?}"),
            Literal::Text(s) => fmt_text(f, s),
        }
    }
}

impl Expr {
    fn is_group(&self) -> bool {
        matches!(self, Expr::And { .. } | Expr::Or { .. })
    }
}

/// Writes a sub-expression, parenthesised when it is an `and`/`or`, so the
/// printed text parses back to the same tree whatever the precedence.
fn fmt_operand(f: &mut fmt::Formatter<'_>, e: &Expr) -> fmt::Result {
    if e.is_group() {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

fn fmt_joined(f: &mut fmt::Formatter<'_>, args: &[Expr], sep: &str) -> fmt::Result {
    if args.is_empty() {
        // No text form exists for an empty group; `()` fails to parse,
        // which is the honest outcome (the compiler refuses it too).
        return f.write_str("()");
    }
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        fmt_operand(f, a)?;
    }
    Ok(())
}

/// Prints the text syntax that `parse_filter` reads back to an equal tree,
/// for every tree with finite reals, non-empty column names and and/or
/// groups of two or more (a one-element group prints as its element).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cmp = |f: &mut fmt::Formatter<'_>, column: &str, op: &str, value: &Literal| {
            fmt_ident(f, column)?;
            write!(f, " {op} {value}")
        };
        match self {
            Expr::And { args } => fmt_joined(f, args, " and "),
            Expr::Or { args } => fmt_joined(f, args, " or "),
            Expr::Not { arg } => {
                f.write_str("not ")?;
                fmt_operand(f, arg)
            }
            Expr::Eq { column, value } => cmp(f, column, "=", value),
            Expr::Ne { column, value } => cmp(f, column, "!=", value),
            Expr::Lt { column, value } => cmp(f, column, "<", value),
            Expr::Le { column, value } => cmp(f, column, "<=", value),
            Expr::Gt { column, value } => cmp(f, column, ">", value),
            Expr::Ge { column, value } => cmp(f, column, ">=", value),
            Expr::In { column, values } => {
                fmt_ident(f, column)?;
                f.write_str(" in (")?;
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Expr::Like { column, pattern } => {
                fmt_ident(f, column)?;
                f.write_str(" like ")?;
                fmt_text(f, pattern)
            }
            Expr::IsNull { column } => {
                fmt_ident(f, column)?;
                f.write_str(" is null")
            }
            Expr::IsNotNull { column } => {
                fmt_ident(f, column)?;
                f.write_str(" is not null")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(c: &str, v: Literal) -> Expr {
        Expr::Eq {
            column: c.into(),
            value: v,
        }
    }

    #[test]
    fn display_quotes_what_needs_quoting() {
        let e = Expr::And {
            args: vec![
                eq("and", Literal::Text("O'Brien".into())),
                eq("dest name", Literal::Real(1.0)),
                eq(r#"say "hi""#, Literal::Int(-3)),
                Expr::Or {
                    args: vec![
                        Expr::IsNull { column: "x".into() },
                        Expr::Not {
                            arg: Box::new(eq("région", Literal::Bool(false))),
                        },
                    ],
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            r#""and" = 'O''Brien' and "dest name" = 1.0 and "say ""hi""" = -3 and (x is null or not "région" = false)"#
        );
    }
}
