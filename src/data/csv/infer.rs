//! Column type inference and the value grammars it rests on. Both passes use
//! the same `parse_*` functions, so a value that made a column Integer in
//! pass 1 is exactly a value that converts to an `Int` in pass 2. This file
//! must never store the values it sees: a column's state is one byte.

use crate::data::types::{ColumnType, canonical_date, canonical_timestamp};

const INTEGER: u8 = 1 << 0;
const REAL: u8 = 1 << 1;
const BOOLEAN: u8 = 1 << 2;
const DATE: u8 = 1 << 3;
const TIMESTAMP: u8 = 1 << 4;
const ALL: u8 = INTEGER | REAL | BOOLEAN | DATE | TIMESTAMP;

/// What one column can still be, narrowed as values arrive. Text is always
/// possible and is what remains when every other bit is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inference {
    possible: u8,
    seen_value: bool,
    /// Length shared by every value so far while all are plain digits;
    /// `NOT_FIXED` once one differs.
    width: u8,
}

const NOT_FIXED: u8 = u8::MAX;

/// Digit strings all of one width of at least this many digits are codes
/// (postal codes, SIREN and INSEE numbers), not quantities: they stay text.
const MIN_CODE_WIDTH: usize = 5;

impl Default for Inference {
    fn default() -> Self {
        Inference::new()
    }
}

impl Inference {
    pub fn new() -> Self {
        Inference {
            possible: ALL,
            seen_value: false,
            width: 0,
        }
    }

    /// Narrows the candidates with one field. Empty fields are missing
    /// values and say nothing about the type.
    pub fn observe(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        self.seen_value = true;
        if self.possible == 0 {
            return;
        }
        let b = value.as_bytes();
        if self.width != NOT_FIXED {
            let digits = b.iter().all(u8::is_ascii_digit);
            match u8::try_from(b.len()) {
                Ok(len) if digits && (self.width == 0 || self.width == len) => self.width = len,
                _ => self.width = NOT_FIXED,
            }
        }
        if self.possible & INTEGER != 0 && parse_integer(b).is_none() {
            self.possible &= !INTEGER;
        }
        // Every integer is also a valid real, so the real grammar only needs
        // checking once the integer candidate is gone.
        if self.possible & REAL != 0 && self.possible & INTEGER == 0 && parse_real(b).is_none() {
            self.possible &= !REAL;
        }
        if self.possible & BOOLEAN != 0 && parse_bool(b).is_none() {
            self.possible &= !BOOLEAN;
        }
        if self.possible & DATE != 0 && canonical_date(value).is_none() {
            self.possible &= !DATE;
        }
        if self.possible & TIMESTAMP != 0 && canonical_timestamp(value).is_none() {
            self.possible &= !TIMESTAMP;
        }
    }

    /// The narrowest type every observed value fits. A column with no
    /// values at all is Text: nothing proves it is anything else.
    pub fn finish(&self) -> ColumnType {
        if !self.seen_value {
            return ColumnType::Text;
        }
        let p = self.possible;
        if self.width != NOT_FIXED && usize::from(self.width) >= MIN_CODE_WIDTH {
            return ColumnType::Text;
        }
        if p & INTEGER != 0 {
            ColumnType::Integer
        } else if p & REAL != 0 {
            ColumnType::Real
        } else if p & BOOLEAN != 0 {
            ColumnType::Boolean
        } else if p & DATE != 0 {
            ColumnType::Date
        } else if p & TIMESTAMP != 0 {
            ColumnType::Timestamp
        } else {
            ColumnType::Text
        }
    }
}

/// The type of a column holding `values` (empty strings are missing values).
pub fn infer_type<'a>(values: impl IntoIterator<Item = &'a str>) -> ColumnType {
    let mut inference = Inference::new();
    for v in values {
        inference.observe(v);
    }
    inference.finish()
}

/// An integer as written by a program, not a code: an optional `-`, digits,
/// no leading zero except `0` itself, and within i64. `01001` (a postal or
/// INSEE code) and `-0` are refused so codes keep their exact text.
pub fn parse_integer(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    match digits {
        [] => return None,
        [b'0'] => return if negative { None } else { Some(0) },
        [b'0', ..] => return None,
        _ => {}
    }
    // Accumulating downwards reaches i64::MIN, which has no positive twin.
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(i64::from(d - b'0'))?;
    }
    if negative { Some(n) } else { n.checked_neg() }
}

/// A finite decimal number: an integer as in [`parse_integer`], or
/// `-?(0|[1-9][0-9]*)?(\.[0-9]+)?([eE][+-]?[0-9]+)?` with a fraction or an
/// exponent. The integer part may be left out (`.5`, as spreadsheets and
/// hand-typed data write it) but the fraction may not (`5.` is refused).
pub fn parse_real(b: &[u8]) -> Option<f64> {
    if let Some(n) = parse_integer(b) {
        // i64 to f64 rounds beyond 2^53, as storing in a REAL column would.
        return Some(n as f64);
    }
    let unsigned = match b.split_first() {
        Some((b'-', rest)) => rest,
        _ => b,
    };
    let int_len = unsigned.iter().take_while(|c| c.is_ascii_digit()).count();
    let (int_part, rest) = unsigned.split_at(int_len);
    if int_part.len() > 1 && int_part.first() == Some(&b'0') {
        return None;
    }
    let (has_fraction, rest) = match rest.split_first() {
        Some((b'.', frac)) => {
            let frac_len = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if frac_len == 0 {
                return None;
            }
            (true, frac.get(frac_len..)?)
        }
        _ if int_len == 0 => return None,
        _ => (false, rest),
    };
    let exponent_ok = match rest.split_first() {
        None => has_fraction,
        Some((b'e' | b'E', exp)) => {
            let digits = match exp.split_first() {
                Some((b'+' | b'-', d)) => d,
                _ => exp,
            };
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        }
        Some(_) => false,
    };
    if !exponent_ok {
        return None;
    }
    // The grammar above admits only ASCII, so this never fails in practice;
    // `1e999` parses to infinity and is refused as not finite.
    let value: f64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    value.is_finite().then_some(value)
}

/// `true` or `false`, in any case (`TRUE`, `False`).
pub fn parse_bool(b: &[u8]) -> Option<bool> {
    if b.eq_ignore_ascii_case(b"true") {
        Some(true)
    } else if b.eq_ignore_ascii_case(b"false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_plain_decimal_within_i64() {
        assert_eq!(parse_integer(b"0"), Some(0));
        assert_eq!(parse_integer(b"-17"), Some(-17));
        assert_eq!(parse_integer(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_integer(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            "",
            "-",
            "-0",
            "01001",
            "00",
            "+5",
            " 5",
            "5 ",
            "1_000",
            "9223372036854775808",
            "1234567890123456789012345",
            "١٢",
        ] {
            assert_eq!(parse_integer(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn reals_are_finite_decimals_without_leading_zeros() {
        for (text, value) in [
            ("1.5", 1.5),
            ("-0.25", -0.25),
            (".5", 0.5),
            ("-.5", -0.5),
            ("0.0", 0.0),
            ("-0.0", -0.0),
            ("1e5", 1e5),
            ("1.5E-3", 1.5e-3),
            ("2e+10", 2e10),
            ("42", 42.0),
            ("10.357019999999999", 10.357019999999999),
        ] {
            assert_eq!(parse_real(text.as_bytes()), Some(value), "{text:?}");
        }
        for bad in [
            "", ".", "5.", "-", "-0", "01.5", "00.5", "1e", "1e+", "e5", "1.5.2", "1,5", "inf",
            "NaN", "1e999", "+1.5", "0x10", "1.5 ",
        ] {
            assert_eq!(parse_real(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn booleans_ignore_case_but_not_synonyms() {
        assert_eq!(parse_bool(b"TRUE"), Some(true));
        assert_eq!(parse_bool(b"False"), Some(false));
        assert_eq!(parse_bool(b"yes"), None);
        assert_eq!(parse_bool(b"1"), None);
    }

    #[test]
    fn integer_column() {
        assert_eq!(infer_type(["1", "", "-20", "0"]), ColumnType::Integer);
    }

    #[test]
    fn codes_with_leading_zeros_stay_text() {
        assert_eq!(infer_type(["01001", "2A004", "75056"]), ColumnType::Text);
        assert_eq!(infer_type(["01001", "75056"]), ColumnType::Text);
        assert_eq!(infer_type(["-0"]), ColumnType::Text);
    }

    #[test]
    fn fixed_width_digit_codes_are_text() {
        assert_eq!(infer_type(["200054781", "", "213000029"]), ColumnType::Text);
        assert_eq!(infer_type(["75056", "69123"]), ColumnType::Text);
        assert_eq!(infer_type(["2013", "2013"]), ColumnType::Integer);
        assert_eq!(infer_type(["12345", "123456"]), ColumnType::Integer);
        assert_eq!(infer_type(["12345", "-1234"]), ColumnType::Integer);
    }

    #[test]
    fn integers_too_long_for_i64_are_text() {
        assert_eq!(
            infer_type(["1", "1234567890123456789012345"]),
            ColumnType::Text
        );
    }

    #[test]
    fn integers_mixed_with_decimals_are_real() {
        assert_eq!(
            infer_type(["1012", "1012.3", ".5", "1e5"]),
            ColumnType::Real
        );
    }

    #[test]
    fn booleans_dates_and_timestamps() {
        assert_eq!(infer_type(["true", "FALSE", ""]), ColumnType::Boolean);
        assert_eq!(infer_type(["2013-01-01", "2013-12-31"]), ColumnType::Date);
        assert_eq!(
            infer_type(["2013-01-01T10:00:00Z", "2013-01-01 11:00:00"]),
            ColumnType::Timestamp
        );
    }

    #[test]
    fn mixed_kinds_fall_back_to_text() {
        assert_eq!(
            infer_type(["2013-01-01", "2013-01-01T10:00:00Z"]),
            ColumnType::Text
        );
        assert_eq!(infer_type(["1", "true"]), ColumnType::Text);
        assert_eq!(infer_type(["2013-02-30"]), ColumnType::Text);
    }

    #[test]
    fn a_column_without_values_is_text() {
        assert_eq!(infer_type(["", ""]), ColumnType::Text);
        assert_eq!(infer_type([]), ColumnType::Text);
    }

    #[test]
    fn one_odd_value_anywhere_demotes_the_column() {
        let mut values = vec!["7"; 1000];
        values.push("7.5");
        assert_eq!(infer_type(values.iter().copied()), ColumnType::Real);
        values.push("n/a");
        assert_eq!(infer_type(values.iter().copied()), ColumnType::Text);
    }
}
