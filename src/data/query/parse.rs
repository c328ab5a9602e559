//! The recursive-descent parser for filter text, turning tokens into an
//! `Expr`. It enforces the size and nesting limits so hostile input cannot
//! exhaust the stack, and reports errors by character position. It must
//! never look at dataset columns (that is `compile`'s job) nor panic.

use std::fmt;

use super::ast::{Expr, Literal, is_keyword};
use super::lex::{CmpOp, Tok, Token, tokenize};
use super::{MAX_DEPTH, MAX_FILTER_BYTES, MAX_IN_VALUES};

/// Why filter text was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based character (not byte) position of the offending token; one
    /// past the last character when the input ended too early.
    pub position: usize,
    /// What was expected, what was found, and what to change.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses filter text such as `carrier = 'UA' and dep_delay > 30`.
///
/// Grammar (keywords case-insensitive):
/// ```text
/// or-expr   := and-expr ('or' and-expr)*
/// and-expr  := unary ('and' unary)*
/// unary     := 'not' unary | '(' or-expr ')' | predicate
/// predicate := column (cmp literal | ['not'] 'in' '(' literal, ... ')'
///                      | ['not'] 'like' 'text' | 'is' ['not'] 'null')
/// ```
pub fn parse_filter(input: &str) -> Result<Expr, ParseError> {
    if input.len() > MAX_FILTER_BYTES {
        // Point at the first character that does not fit in the limit.
        let position = input
            .char_indices()
            .take_while(|(b, c)| b + c.len_utf8() <= MAX_FILTER_BYTES)
            .count()
            + 1;
        return Err(ParseError {
            position,
            message: format!(
                "filter is {} bytes long; the limit is {MAX_FILTER_BYTES}: \
                 shorten it or send the JSON form",
                input.len()
            ),
        });
    }
    let tokens = tokenize(input)?;
    let end = tokens.last().cloned().unwrap_or(Token {
        tok: Tok::End,
        pos: 1,
    });
    let mut p = Parser {
        tokens,
        i: 0,
        end,
        nesting: 0,
    };
    if p.peek().tok == Tok::End {
        return Err(p.error("empty filter; write a condition, e.g. carrier = 'UA'"));
    }
    let parsed = p.or_expr()?;
    let t = p.peek();
    match t.tok {
        Tok::End => Ok(parsed.expr),
        Tok::RParen => Err(p.error("unmatched ')'; remove it or add a '(' before it")),
        _ => Err(p.error(format!(
            "expected 'and', 'or' or the end of the filter after a complete \
             condition, found {}",
            t.tok.describe()
        ))),
    }
}

/// A parsed sub-tree and its depth (and/or/not levels above its deepest
/// predicate), counted bottom-up so the limit matches `write_filter`'s.
struct Parsed {
    expr: Expr,
    depth: usize,
}

fn leaf(expr: Expr) -> Parsed {
    Parsed { expr, depth: 0 }
}

struct Parser {
    tokens: Vec<Token>,
    i: usize,
    /// Returned by `peek` past the last token, so no lookup can fail.
    end: Token,
    /// Open `(` and `not` around the current token; bounds recursion.
    nesting: usize,
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

fn too_deep() -> String {
    format!(
        "the filter nests more than {MAX_DEPTH} levels deep; remove parentheses \
         or 'not's, e.g. write a and b and c rather than a and (b and (c))"
    )
}

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.i).unwrap_or(&self.end)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::End {
            self.i += 1;
        }
        t
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            position: self.peek().pos,
            message: message.into(),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(self.error(too_deep()));
        }
        Ok(())
    }

    /// Parses `first (kw next)*`, flattening a chain into one group.
    fn chain(
        &mut self,
        kw: &str,
        next: fn(&mut Self) -> Result<Parsed, ParseError>,
        group: fn(Vec<Expr>) -> Expr,
    ) -> Result<Parsed, ParseError> {
        let first = next(self)?;
        if !is_kw(&self.peek().tok, kw) {
            return Ok(first);
        }
        let op_pos = self.peek().pos;
        let mut depth = first.depth;
        let mut args = vec![first.expr];
        while is_kw(&self.peek().tok, kw) {
            self.bump();
            let p = next(self)?;
            depth = depth.max(p.depth);
            args.push(p.expr);
        }
        if depth + 1 > MAX_DEPTH {
            return Err(ParseError {
                position: op_pos,
                message: too_deep(),
            });
        }
        Ok(Parsed {
            expr: group(args),
            depth: depth + 1,
        })
    }

    fn or_expr(&mut self) -> Result<Parsed, ParseError> {
        self.chain("or", Self::and_expr, |args| Expr::Or { args })
    }

    fn and_expr(&mut self) -> Result<Parsed, ParseError> {
        self.chain("and", Self::unary, |args| Expr::And { args })
    }

    fn unary(&mut self) -> Result<Parsed, ParseError> {
        let t = self.peek().clone();
        if is_kw(&t.tok, "not") {
            self.enter()?;
            self.bump();
            let inner = self.unary()?;
            self.nesting -= 1;
            if inner.depth + 1 > MAX_DEPTH {
                return Err(ParseError {
                    position: t.pos,
                    message: too_deep(),
                });
            }
            return Ok(Parsed {
                expr: Expr::Not {
                    arg: Box::new(inner.expr),
                },
                depth: inner.depth + 1,
            });
        }
        if t.tok == Tok::LParen {
            self.enter()?;
            self.bump();
            let inner = self.or_expr()?;
            if self.peek().tok != Tok::RParen {
                return Err(self.error(format!(
                    "expected ')' to close the '(' at position {}, found {}",
                    t.pos,
                    self.peek().tok.describe()
                )));
            }
            self.bump();
            self.nesting -= 1;
            return Ok(inner);
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Parsed, ParseError> {
        let column = match &self.peek().tok {
            Tok::Word(w) if !is_keyword(w) => w.clone(),
            Tok::QuotedIdent(name) => name.clone(),
            Tok::Word(w) => {
                return Err(self.error(format!(
                    "expected a column name, found keyword '{0}'; if '{0}' is a column, \
                     write it in double quotes: \"{0}\"",
                    w.to_ascii_lowercase()
                )));
            }
            other => {
                return Err(self.error(format!(
                    "expected a column name, found {}",
                    other.describe()
                )));
            }
        };
        self.bump();
        let t = self.peek().clone();
        if let Tok::Op(op, text) = t.tok {
            self.bump();
            let value = self.value(&column, &format!("after '{text}'"))?;
            return Ok(leaf(comparison(op, column, value)));
        }
        let negate = is_kw(&t.tok, "not");
        if negate {
            self.bump();
        }
        let t = self.peek().clone();
        let e = if is_kw(&t.tok, "in") {
            self.bump();
            self.in_list(column)?
        } else if is_kw(&t.tok, "like") {
            self.bump();
            let pattern = self.pattern()?;
            Expr::Like { column, pattern }
        } else if negate {
            return Err(self.error(format!(
                "expected 'in' or 'like' after 'not', found {}",
                t.tok.describe()
            )));
        } else if is_kw(&t.tok, "is") {
            self.bump();
            return self.null_test(column);
        } else {
            return Err(self.error(format!(
                "expected an operator (=, !=, <>, <, <=, >, >=, in, like, is null) \
                 after column {column}, found {}",
                t.tok.describe()
            )));
        };
        Ok(if negate {
            Parsed {
                expr: Expr::Not { arg: Box::new(e) },
                depth: 1,
            }
        } else {
            leaf(e)
        })
    }

    fn null_test(&mut self, column: String) -> Result<Parsed, ParseError> {
        let negate = is_kw(&self.peek().tok, "not");
        if negate {
            self.bump();
        }
        if !is_kw(&self.peek().tok, "null") {
            let expected = if negate {
                "'null'"
            } else {
                "'null' or 'not null'"
            };
            return Err(self.error(format!(
                "expected {expected} after '{}', found {}",
                if negate { "is not" } else { "is" },
                self.peek().tok.describe()
            )));
        }
        self.bump();
        Ok(leaf(if negate {
            Expr::IsNotNull { column }
        } else {
            Expr::IsNull { column }
        }))
    }

    fn value(&mut self, column: &str, context: &str) -> Result<Literal, ParseError> {
        let lit = match &self.peek().tok {
            Tok::Str(s) => Literal::Text(s.clone()),
            Tok::Int(i) => Literal::Int(*i),
            Tok::Real(r) => Literal::Real(*r),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => {
                return Err(self.error(format!(
                    "null is not a value to compare with; test for it with \
                     '{column} is null' or '{column} is not null'"
                )));
            }
            Tok::Word(w) if !is_keyword(w) => {
                return Err(self.error(format!(
                    "expected a value {context}, found the word {w}; write text in \
                     single quotes, e.g. '{w}'"
                )));
            }
            other => {
                return Err(self.error(format!(
                    "expected a value {context}, found {}",
                    other.describe()
                )));
            }
        };
        self.bump();
        Ok(lit)
    }

    fn in_list(&mut self, column: String) -> Result<Expr, ParseError> {
        if self.peek().tok != Tok::LParen {
            return Err(self.error(format!(
                "expected '(' after 'in', found {}; write e.g. {column} in ('a', 'b')",
                self.peek().tok.describe()
            )));
        }
        self.bump();
        if self.peek().tok == Tok::RParen {
            return Err(self.error("empty 'in ()' list; give at least one value"));
        }
        let mut values = Vec::new();
        loop {
            if values.len() == MAX_IN_VALUES {
                return Err(self.error(format!(
                    "more than {MAX_IN_VALUES} values in one 'in' list; split the \
                     request or filter on a range instead"
                )));
            }
            values.push(self.value(&column, "in the 'in' list")?);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(Expr::In { column, values });
                }
                ref other => {
                    return Err(self.error(format!(
                        "expected ',' or ')' in the 'in' list, found {}",
                        other.describe()
                    )));
                }
            }
        }
    }

    fn pattern(&mut self) -> Result<String, ParseError> {
        match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.bump();
                Ok(s)
            }
            other => Err(self.error(format!(
                "expected a quoted pattern after 'like', e.g. 'S%', found {}",
                other.describe()
            ))),
        }
    }
}

fn comparison(op: CmpOp, column: String, value: Literal) -> Expr {
    match op {
        CmpOp::Eq => Expr::Eq { column, value },
        CmpOp::Ne => Expr::Ne { column, value },
        CmpOp::Lt => Expr::Lt { column, value },
        CmpOp::Le => Expr::Le { column, value },
        CmpOp::Gt => Expr::Gt { column, value },
        CmpOp::Ge => Expr::Ge { column, value },
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
