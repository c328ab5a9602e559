//! Checks the header row and turns it into column names that are safe to
//! use as SQL identifiers on both backends. Must never rename or trim a
//! column: the name the publisher wrote is the name callers query.

use std::collections::HashMap;

use super::error::{ImportError, excerpt};
use super::tracker::MAX_FIELDS;

/// Longest column name, in bytes. PostgreSQL cuts identifiers at 63 bytes,
/// so whatever creates the table there must map longer names itself.
pub(crate) const MAX_NAME_BYTES: usize = 128;

/// Prefix of the columns the gateway adds itself (row ids and the like).
const RESERVED_PREFIX: &str = "__";

/// The column names in `header`, or the first problem with them.
pub(crate) fn column_names(header: &::csv::ByteRecord) -> Result<Vec<String>, ImportError> {
    if header.len() > MAX_FIELDS {
        return Err(at_line_1(
            None,
            format!(
                "the header has {} columns; at most {MAX_FIELDS} are supported",
                header.len()
            ),
        ));
    }
    // Keyed by lowercase: SQL identifiers are case-insensitive, so `Name`
    // and `name` would be one column in a query. Unicode lowercase is
    // stricter than SQLite's ASCII-only folding, which is the safe side.
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(header.len());
    let mut names = Vec::with_capacity(header.len());
    for (i, raw) in header.iter().enumerate() {
        let position = i + 1;
        let name = std::str::from_utf8(raw).map_err(|_| {
            at_line_1(
                None,
                format!("the name of column {position} is not valid UTF-8; save the file as UTF-8"),
            )
        })?;
        check_name(name, position)?;
        if let Some(first) = seen.insert(name.to_lowercase(), position) {
            let earlier = names.get(first - 1).map(String::as_str).unwrap_or_default();
            return Err(at_line_1(
                Some(name),
                format!(
                    "column {position} has the same name as column {first} ('{earlier}'), \
                     ignoring case; column names must be unique regardless of case, so \
                     rename one of them"
                ),
            ));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

fn check_name(name: &str, position: usize) -> Result<(), ImportError> {
    if name.trim().is_empty() {
        return Err(at_line_1(
            None,
            format!("column {position} has no name; give every column a name in the header row"),
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(at_line_1(
            Some(&excerpt(name)),
            format!(
                "the name of column {position} is {} bytes long; shorten it to at most \
                 {MAX_NAME_BYTES} bytes",
                name.len()
            ),
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(at_line_1(
            Some(name),
            format!(
                "the name of column {position} contains the control character {:?}; \
                 remove it (a line break in a header usually means a quote is misplaced)",
                c
            ),
        ));
    }
    if name.starts_with(RESERVED_PREFIX) {
        return Err(at_line_1(
            Some(name),
            format!(
                "column names starting with '{RESERVED_PREFIX}' are reserved for the \
                 gateway's own columns; rename column {position}"
            ),
        ));
    }
    Ok(())
}

fn at_line_1(column: Option<&str>, message: String) -> ImportError {
    ImportError::new(1, column, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(fields: &[&[u8]]) -> Result<Vec<String>, ImportError> {
        column_names(&::csv::ByteRecord::from(fields.to_vec()))
    }

    #[test]
    fn accepts_ordinary_names_unchanged() {
        let got = names(&[b"code", b"nom", b"codesPostaux", b"d\xc3\xa9partement"]).unwrap();
        assert_eq!(got, ["code", "nom", "codesPostaux", "département"]);
    }

    #[test]
    fn refuses_empty_and_blank_names() {
        let e = names(&[b"a", b""]).unwrap_err();
        assert_eq!((e.line, e.column.as_deref()), (1, None));
        assert!(e.message.contains("column 2 has no name"), "{e}");
        assert!(names(&[b" "]).is_err());
    }

    #[test]
    fn refuses_duplicates_ignoring_case_and_names_both() {
        let e = names(&[b"id", b"Name", b"x", b"NAME"]).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("NAME"));
        assert!(e.message.contains("column 4"), "{e}");
        assert!(e.message.contains("column 2 ('Name')"), "{e}");
        assert!(names(&[b"\xc3\x89t\xc3\xa9", b"\xc3\xa9t\xc3\xa9"]).is_err());
    }

    #[test]
    fn refuses_long_names_control_characters_and_reserved_prefix() {
        let long = vec![b'a'; MAX_NAME_BYTES + 1];
        assert!(names(&[&long]).unwrap_err().message.contains("129 bytes"));
        assert!(names(&[&[b'a'; MAX_NAME_BYTES]]).is_ok());
        assert!(
            names(&[b"a\tb"])
                .unwrap_err()
                .message
                .contains("control character")
        );
        assert!(names(&[b"a\nb"]).is_err());
        assert!(
            names(&[b"__rowid"])
                .unwrap_err()
                .message
                .contains("reserved")
        );
        assert!(names(&[b"_ok"]).is_ok());
    }

    #[test]
    fn refuses_non_utf8_names() {
        let e = names(&[b"ok", b"caf\xe9"]).unwrap_err();
        assert!(e.message.contains("column 2 is not valid UTF-8"), "{e}");
    }
}
