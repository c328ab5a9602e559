//! Unit tests for the tokenizer: token kinds, character positions, number
//! edges and refusal of stray characters. Test-only.

// Tests fail by panicking; `unwrap` is the plain way to say "this must work".
#![allow(clippy::unwrap_used)]

use super::*;

fn toks(s: &str) -> Vec<Tok> {
    tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
}

#[test]
fn reads_every_kind_of_token() {
    assert_eq!(
        toks(r#"a_1 "x ""y""" 'it''s' -12 1.5e-3 2E6 = == != <> < <= > >= ( , )"#),
        vec![
            Tok::Word("a_1".into()),
            Tok::QuotedIdent(r#"x "y""#.into()),
            Tok::Str("it's".into()),
            Tok::Int(-12),
            Tok::Real(1.5e-3),
            Tok::Real(2e6),
            Tok::Op(CmpOp::Eq, "="),
            Tok::Op(CmpOp::Eq, "=="),
            Tok::Op(CmpOp::Ne, "!="),
            Tok::Op(CmpOp::Ne, "<>"),
            Tok::Op(CmpOp::Lt, "<"),
            Tok::Op(CmpOp::Le, "<="),
            Tok::Op(CmpOp::Gt, ">"),
            Tok::Op(CmpOp::Ge, ">="),
            Tok::LParen,
            Tok::Comma,
            Tok::RParen,
            Tok::End,
        ]
    );
}

#[test]
fn positions_count_characters_not_bytes() {
    let t = tokenize("\"région\" = 'é'").unwrap();
    let pos: Vec<usize> = t.iter().map(|t| t.pos).collect();
    assert_eq!(pos, vec![1, 10, 12, 15]);
}

#[test]
fn numbers_at_the_edges() {
    assert_eq!(toks("-9223372036854775808")[0], Tok::Int(i64::MIN));
    let e = tokenize("x = 9223372036854775808").unwrap_err();
    assert_eq!(e.position, 5);
    assert!(e.message.contains("out of range"), "{e}");
    assert!(tokenize("1e400").unwrap_err().message.contains("too large"));
    assert!(tokenize("1.").is_err());
    assert!(tokenize("1e").is_err());
    assert!(
        tokenize("12abc")
            .unwrap_err()
            .message
            .contains("not a number")
    );
}

#[test]
fn accented_bare_words_ask_for_quotes() {
    let e = tokenize("région = 'x'").unwrap_err();
    assert_eq!(e.position, 1);
    assert!(e.message.contains("\"région\""), "{e}");
}

#[test]
fn strange_characters_are_errors_not_panics() {
    for s in [
        "\u{0}",
        "\u{7f}",
        "@",
        "x = 1 ; drop",
        "-- c",
        "!",
        "\u{202e}",
        "#",
    ] {
        assert!(tokenize(s).is_err(), "{s:?}");
    }
}
