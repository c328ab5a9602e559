//! Unit tests for `parse_filter`: operators, precedence, quoting, error
//! positions and limits. Test-only; never compiled into the server.

// Tests fail by panicking; `unwrap` is the plain way to say "this must work".
#![allow(clippy::unwrap_used)]

use super::*;

fn p(s: &str) -> Expr {
    match parse_filter(s) {
        Ok(e) => e,
        Err(e) => panic!("{s:?} failed: {e}"),
    }
}

fn err(s: &str) -> ParseError {
    match parse_filter(s) {
        Ok(e) => panic!("{s:?} parsed as {e:?}"),
        Err(e) => e,
    }
}

fn col(c: &str) -> String {
    c.to_owned()
}

fn text(s: &str) -> Literal {
    Literal::Text(s.to_owned())
}

fn eq(c: &str, v: Literal) -> Expr {
    Expr::Eq {
        column: col(c),
        value: v,
    }
}

#[test]
fn every_comparison_operator() {
    let v = || Literal::Int(30);
    let cases = [
        (
            "d = 30",
            Expr::Eq {
                column: col("d"),
                value: v(),
            },
        ),
        (
            "d == 30",
            Expr::Eq {
                column: col("d"),
                value: v(),
            },
        ),
        (
            "d != 30",
            Expr::Ne {
                column: col("d"),
                value: v(),
            },
        ),
        (
            "d <> 30",
            Expr::Ne {
                column: col("d"),
                value: v(),
            },
        ),
        (
            "d < 30",
            Expr::Lt {
                column: col("d"),
                value: v(),
            },
        ),
        (
            "d <= 30",
            Expr::Le {
                column: col("d"),
                value: v(),
            },
        ),
        (
            "d > 30",
            Expr::Gt {
                column: col("d"),
                value: v(),
            },
        ),
        (
            "d>=30",
            Expr::Ge {
                column: col("d"),
                value: v(),
            },
        ),
    ];
    for (s, e) in cases {
        assert_eq!(p(s), e, "{s}");
    }
}

#[test]
fn in_like_and_null_tests() {
    assert_eq!(
        p("origin IN ('JFK', 'LGA')"),
        Expr::In {
            column: col("origin"),
            values: vec![text("JFK"), text("LGA")]
        }
    );
    assert_eq!(
        p("x not in (1, -2.5, true)"),
        Expr::Not {
            arg: Box::new(Expr::In {
                column: col("x"),
                values: vec![Literal::Int(1), Literal::Real(-2.5), Literal::Bool(true)]
            })
        }
    );
    let like = Expr::Like {
        column: col("dest"),
        pattern: "S%".into(),
    };
    assert_eq!(p("dest like 'S%'"), like);
    assert_eq!(
        p("dest NOT LIKE 'S%'"),
        Expr::Not {
            arg: Box::new(like)
        }
    );
    assert_eq!(
        p("tailnum is null"),
        Expr::IsNull {
            column: col("tailnum")
        }
    );
    assert_eq!(
        p("tailnum Is Not NULL"),
        Expr::IsNotNull {
            column: col("tailnum")
        }
    );
    assert_eq!(
        p("time_hour >= '2013-06-01T00:00:00Z'"),
        Expr::Ge {
            column: col("time_hour"),
            value: text("2013-06-01T00:00:00Z")
        }
    );
    assert_eq!(p("ok = FALSE"), eq("ok", Literal::Bool(false)));
}

#[test]
fn and_binds_tighter_than_or_and_chains_flatten() {
    let a = || eq("a", Literal::Int(1));
    let b = || eq("b", Literal::Int(2));
    let c = || eq("c", Literal::Int(3));
    assert_eq!(
        p("a = 1 or b = 2 and c = 3"),
        Expr::Or {
            args: vec![
                a(),
                Expr::And {
                    args: vec![b(), c()]
                }
            ]
        }
    );
    assert_eq!(
        p("(a = 1 or b = 2) and c = 3"),
        Expr::And {
            args: vec![
                Expr::Or {
                    args: vec![a(), b()]
                },
                c()
            ]
        }
    );
    assert_eq!(
        p("a = 1 AND b = 2 and c = 3"),
        Expr::And {
            args: vec![a(), b(), c()]
        }
    );
    assert_eq!(
        p("a = 1 or b = 2 OR c = 3"),
        Expr::Or {
            args: vec![a(), b(), c()]
        }
    );
    // Parentheses keep structure rather than being flattened away.
    assert_eq!(
        p("(a = 1 or b = 2) or c = 3"),
        Expr::Or {
            args: vec![
                Expr::Or {
                    args: vec![a(), b()]
                },
                c()
            ]
        }
    );
    assert_eq!(p("((a = 1))"), a());
}

#[test]
fn not_binds_tightest() {
    assert_eq!(
        p("not a = 1 and b = 2"),
        Expr::And {
            args: vec![
                Expr::Not {
                    arg: Box::new(eq("a", Literal::Int(1)))
                },
                eq("b", Literal::Int(2))
            ]
        }
    );
    assert_eq!(
        p("not (origin in ('JFK','LGA') or dest like 'S%')"),
        Expr::Not {
            arg: Box::new(Expr::Or {
                args: vec![
                    Expr::In {
                        column: col("origin"),
                        values: vec![text("JFK"), text("LGA")]
                    },
                    Expr::Like {
                        column: col("dest"),
                        pattern: "S%".into()
                    }
                ]
            })
        }
    );
    assert!(matches!(p("not not a = 1"), Expr::Not { .. }));
}

#[test]
fn quoting_and_escaping() {
    assert_eq!(p("name = 'O''Brien'"), eq("name", text("O'Brien")));
    assert_eq!(p("name = ''"), eq("name", text("")));
    assert_eq!(p(r#""dest name" = 'x'"#), eq("dest name", text("x")));
    assert_eq!(p(r#""say ""hi""" = 'x'"#), eq(r#"say "hi""#, text("x")));
    assert_eq!(p(r#""and" = 1"#), eq("and", Literal::Int(1)));
    assert_eq!(
        p("\"région\" = 'Île-de-France'"),
        eq("région", text("Île-de-France"))
    );
    assert_eq!(p("\"名前\" = '東京'"), eq("名前", text("東京")));
    assert_eq!(p("x = 'a\nb\u{0}'"), eq("x", text("a\nb\u{0}")));
}

#[test]
fn error_positions_point_at_the_offending_token() {
    let cases = [
        ("carrier = 'UA", 11, "unclosed text"),
        (
            "carrier = 'UA' and x =",
            23,
            "expected a value after '=', found end of input",
        ),
        ("carrier = 'UA' xyz", 16, "found the word xyz"),
        ("carrier = UA", 11, "single quotes, e.g. 'UA'"),
        ("x = null", 5, "x is null"),
        ("x in (1, null)", 10, "is null"),
        ("x in ()", 7, "empty 'in ()'"),
        ("x in (1 2)", 9, "expected ',' or ')'"),
        ("(a = 1", 7, "expected ')' to close the '(' at position 1"),
        ("a = 1)", 6, "unmatched ')'"),
        ("and = 1", 1, "\"and\""),
        ("x is 5", 6, "'null' or 'not null'"),
        ("x not = 1", 7, "expected 'in' or 'like' after 'not'"),
        ("x like 5", 8, "quoted pattern"),
        ("x", 2, "expected an operator"),
        ("", 1, "empty filter"),
        ("   ", 4, "empty filter"),
        (
            "\"région\" = 'é' and",
            19,
            "expected a column name, found end of input",
        ),
    ];
    for (input, pos, msg) in cases {
        let e = err(input);
        assert_eq!(e.position, pos, "{input:?}: {e}");
        assert!(e.message.contains(msg), "{input:?}: {e}");
    }
}

#[test]
fn display_has_position_prefix() {
    assert_eq!(
        err("carrier = 'UA' and x =").to_string(),
        "at position 23: expected a value after '=', found end of input"
    );
}

#[test]
fn sql_fragments_fail_or_stay_inside_a_value() {
    for s in [
        "x = 1;--",
        "x = 1 ;-- comment",
        "x = 1 -- comment",
        "x = 1; DROP TABLE x",
        "x = ''; DROP TABLE x; --",
        "x = 1 union select 1",
        "x = 1) or (1 = 1",
    ] {
        assert!(parse_filter(s).is_err(), "{s:?}");
    }
    // Inside quotes the same text is just a value.
    assert_eq!(
        p("x = '''; DROP TABLE x; --'"),
        eq("x", text("'; DROP TABLE x; --"))
    );
    assert_eq!(
        p(r#""x; DROP TABLE y; --" = 1"#),
        eq("x; DROP TABLE y; --", Literal::Int(1))
    );
}

#[test]
fn length_limit() {
    let long = format!("x = '{}'", "a".repeat(MAX_FILTER_BYTES));
    let e = err(&long);
    assert!(e.message.contains("limit is 8192"), "{e}");
    assert_eq!(e.position, MAX_FILTER_BYTES + 1);
    let ok = format!("x = '{}'", "a".repeat(MAX_FILTER_BYTES - 6));
    assert!(parse_filter(&ok).is_ok());
    // Multi-byte characters: the position is counted in characters.
    let wide = format!("x = '{}'", "é".repeat(MAX_FILTER_BYTES));
    assert_eq!(err(&wide).position, 5 + (MAX_FILTER_BYTES - 5) / 2 + 1);
}

#[test]
fn nesting_limits() {
    let parens = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
    assert!(parse_filter(&parens(MAX_DEPTH)).is_ok());
    let e = err(&parens(MAX_DEPTH + 1));
    assert_eq!(e.position, MAX_DEPTH + 1);
    assert!(e.message.contains("more than 32 levels"), "{e}");

    let nots = |n: usize| format!("{}a = 1", "not ".repeat(n));
    assert!(parse_filter(&nots(MAX_DEPTH)).is_ok());
    assert!(parse_filter(&nots(MAX_DEPTH + 1)).is_err());

    // Alternating groups grow the tree two levels per parenthesis.
    let mut s = "a = 1".to_owned();
    for _ in 0..17 {
        s = format!("b = 1 or c = 1 and ({s})");
    }
    let e = err(&s);
    assert!(e.message.contains("levels deep"), "{e}");
    // The outermost 'and' would sit 33 levels up: the tree limit fired,
    // not the parenthesis one (17 open parentheses are allowed).
    assert_eq!(e.position, 16, "{e}");

    // Far past any limit: still an error, not a stack overflow.
    assert!(parse_filter(&"(".repeat(MAX_FILTER_BYTES)).is_err());
    assert!(parse_filter(&"not ".repeat(2000)).is_err());
}

#[test]
fn in_list_limit() {
    let list = |n: usize| {
        let vals: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        format!("x in ({})", vals.join(","))
    };
    assert!(parse_filter(&list(MAX_IN_VALUES)).is_ok());
    let e = err(&list(MAX_IN_VALUES + 1));
    assert!(e.message.contains("more than 1000 values"), "{e}");
}

#[test]
fn huge_numbers_are_errors() {
    assert!(
        err("x = 99999999999999999999")
            .message
            .contains("out of range")
    );
    assert!(err("x = -1e999").message.contains("too large"));
    assert_eq!(
        p("x = -9223372036854775808"),
        eq("x", Literal::Int(i64::MIN))
    );
}
