//! The tokenizer for filter text: turns characters into words, quoted
//! names, literals and punctuation, each with its 1-based character
//! position. It knows nothing of grammar and must never panic or index a
//! slice directly, whatever the input (it sees raw request text).

use super::ast::is_keyword;
use super::parse::ParseError;

/// A comparison operator as written; `<>` and `!=` are the same operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A bare word: a keyword or a plain column name. Keywords are told
    /// apart by the parser, case-insensitively.
    Word(String),
    /// A double-quoted column name, never a keyword.
    QuotedIdent(String),
    Str(String),
    Int(i64),
    Real(f64),
    /// The operator and its spelling, for messages.
    Op(CmpOp, &'static str),
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    /// 1-based character (not byte) position of the token's first char.
    pub pos: usize,
}

/// Longest stretch of a text literal quoted back in a message; the whole
/// value could be kilobytes.
const SHOWN_TEXT: usize = 30;

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(SHOWN_TEXT).collect();
    if s.chars().nth(SHOWN_TEXT).is_some() {
        out.push('…');
    }
    out
}

impl Tok {
    /// How a token is named in "found …" messages.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Word(w) if is_keyword(w) => {
                format!("keyword '{}'", w.to_ascii_lowercase())
            }
            Tok::Word(w) => format!("the word {}", shorten(w)),
            Tok::QuotedIdent(s) => format!("column name \"{}\"", shorten(s)),
            Tok::Str(s) => format!("text '{}'", shorten(s)),
            Tok::Int(i) => format!("number {i}"),
            Tok::Real(r) => format!("number {r}"),
            Tok::Op(_, text) => format!("'{text}'"),
            Tok::LParen => "'('".to_owned(),
            Tok::RParen => "')'".to_owned(),
            Tok::Comma => "','".to_owned(),
            Tok::End => "end of input".to_owned(),
        }
    }
}

fn err(pos: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        position: pos,
        message: message.into(),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The comparison operator starting with `c`, its spelling and length.
fn operator(c: char, next: Option<char>) -> Option<(CmpOp, &'static str, usize)> {
    Some(match (c, next) {
        ('=', Some('=')) => (CmpOp::Eq, "==", 2),
        ('=', _) => (CmpOp::Eq, "=", 1),
        ('!', Some('=')) => (CmpOp::Ne, "!=", 2),
        ('<', Some('=')) => (CmpOp::Le, "<=", 2),
        ('<', Some('>')) => (CmpOp::Ne, "<>", 2),
        ('<', _) => (CmpOp::Lt, "<", 1),
        ('>', Some('=')) => (CmpOp::Ge, ">=", 2),
        ('>', _) => (CmpOp::Gt, ">", 1),
        _ => return None,
    })
}

struct Lexer {
    chars: Vec<char>,
    i: usize,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    /// Reads a quoted run after the opening `quote`, where a doubled quote
    /// stands for one quote character.
    fn quoted(&mut self, quote: char, start: usize, what: &str) -> Result<String, ParseError> {
        self.i += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(err(
                        start,
                        format!(
                            "unclosed {what}: add a closing {quote} \
                             (write {quote}{quote} for a {quote} inside it)"
                        ),
                    ));
                }
                Some(c) if c == quote => {
                    if self.peek_at(1) == Some(quote) {
                        s.push(quote);
                        self.i += 2;
                    } else {
                        self.i += 1;
                        return Ok(s);
                    }
                }
                Some(c) => {
                    s.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn digits(&mut self, text: &mut String) -> usize {
        let mut n = 0;
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            text.push(c);
            self.i += 1;
            n += 1;
        }
        n
    }

    fn number(&mut self, start: usize) -> Result<Tok, ParseError> {
        let mut text = String::new();
        if self.peek() == Some('-') {
            text.push('-');
            self.i += 1;
        }
        self.digits(&mut text);
        let mut real = false;
        if self.peek() == Some('.') {
            text.push('.');
            self.i += 1;
            real = true;
            if self.digits(&mut text) == 0 {
                return Err(err(
                    start,
                    format!("expected digits after the decimal point in {text}, e.g. {text}0"),
                ));
            }
        }
        if let Some(e) = self.peek().filter(|c| *c == 'e' || *c == 'E') {
            text.push(e);
            self.i += 1;
            real = true;
            if let Some(sign) = self.peek().filter(|c| *c == '+' || *c == '-') {
                text.push(sign);
                self.i += 1;
            }
            if self.digits(&mut text) == 0 {
                return Err(err(
                    start,
                    format!("expected digits in the exponent of {text}, e.g. 1e6"),
                ));
            }
        }
        if self.peek().is_some_and(|c| is_word_char(c) || c == '.') {
            while let Some(c) = self.peek().filter(|c| is_word_char(*c) || *c == '.') {
                text.push(c);
                self.i += 1;
            }
            return Err(err(
                start,
                format!(
                    "{} is not a number; quote text as '{}' and column names \
                     that start with a digit as \"{}\"",
                    shorten(&text),
                    shorten(&text),
                    shorten(&text)
                ),
            ));
        }
        if real {
            match text.parse::<f64>() {
                Ok(r) if r.is_finite() => Ok(Tok::Real(r)),
                _ => Err(err(
                    start,
                    format!("number {} is too large to compare", shorten(&text)),
                )),
            }
        } else {
            text.parse::<i64>().map(Tok::Int).map_err(|_| {
                err(
                    start,
                    format!(
                        "whole number {} is out of range; whole numbers go from {} to {}",
                        shorten(&text),
                        i64::MIN,
                        i64::MAX
                    ),
                )
            })
        }
    }

    fn word(&mut self, start: usize) -> Result<Tok, ParseError> {
        let mut w = String::new();
        while let Some(c) = self.peek().filter(|c| is_word_char(*c)) {
            w.push(c);
            self.i += 1;
        }
        if w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Ok(Tok::Word(w));
        }
        Err(err(
            start,
            format!(
                "{} is not a plain name; write a column name with accents or other \
                 letters in double quotes, e.g. \"{}\", and text in single quotes",
                shorten(&w),
                shorten(&w)
            ),
        ))
    }

    fn next_token(&mut self) -> Result<Option<Token>, ParseError> {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
        let pos = self.i + 1;
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        let next = self.peek_at(1);
        if let Some((op, text, len)) = operator(c, next) {
            self.i += len;
            return Ok(Some(Token {
                tok: Tok::Op(op, text),
                pos,
            }));
        }
        let tok = match c {
            '(' | ')' | ',' => {
                self.i += 1;
                Ok(match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    _ => Tok::Comma,
                })
            }
            '\'' => self.quoted('\'', pos, "text").map(Tok::Str),
            '"' => match self.quoted('"', pos, "column name") {
                Ok(name) if name.is_empty() => Err(err(
                    pos,
                    "empty column name \"\"; put the name between the quotes",
                )),
                other => other.map(Tok::QuotedIdent),
            },
            '-' if next.is_some_and(|n| n.is_ascii_digit()) => self.number(pos),
            c if c.is_ascii_digit() => self.number(pos),
            c if is_word_char(c) => self.word(pos),
            ';' => Err(err(
                pos,
                "unexpected ';': a filter is one condition, not SQL; remove the ';' and what follows",
            )),
            '-' if next == Some('-') => Err(err(
                pos,
                "unexpected '--': filters have no comments; remove it",
            )),
            '!' => Err(err(pos, "unexpected '!'; write != for 'not equal'")),
            '-' => Err(err(
                pos,
                "unexpected '-'; write a negative number with no space after the sign, e.g. -3",
            )),
            c => Err(err(
                pos,
                format!(
                    "unexpected character '{}'; quote text as 'text' and unusual \
                     column names as \"name\"",
                    c.escape_debug()
                ),
            )),
        }?;
        Ok(Some(Token { tok, pos }))
    }
}

/// Splits `input` into tokens, ending with `Tok::End` positioned one past
/// the last character.
pub(super) fn tokenize(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer {
        chars: input.chars().collect(),
        i: 0,
    };
    let mut out = Vec::new();
    while let Some(t) = lx.next_token()? {
        out.push(t);
    }
    out.push(Token {
        tok: Tok::End,
        pos: lx.chars.len() + 1,
    });
    Ok(out)
}

#[cfg(test)]
#[path = "lex_tests.rs"]
mod tests;
