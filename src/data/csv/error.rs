//! The error an import reports to the publisher: where in the file the
//! problem is and what to change. Holds no parsing logic and must never carry
//! more of the file than a short excerpt of the offending value.

use std::fmt;

/// Why a CSV file cannot be imported, pointing at the place to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// 1-based physical line where the offending record starts (the header
    /// is line 1). 0 when the problem concerns the whole file, such as a file
    /// that cannot be opened.
    pub line: u64,
    /// Name of the offending column, when the problem is in one field.
    pub column: Option<String>,
    /// What is wrong and what to change.
    pub message: String,
}

impl ImportError {
    pub(crate) fn new(line: u64, column: Option<&str>, message: impl Into<String>) -> Self {
        ImportError {
            line,
            column: column.map(str::to_owned),
            message: message.into(),
        }
    }

    /// An error about the file as a whole rather than one of its lines.
    pub(crate) fn file(message: impl Into<String>) -> Self {
        ImportError::new(0, None, message)
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, &self.column) {
            (0, None) => f.write_str(&self.message),
            (0, Some(column)) => write!(f, "column '{column}': {}", self.message),
            (line, None) => write!(f, "line {line}: {}", self.message),
            (line, Some(column)) => write!(f, "line {line}, column '{column}': {}", self.message),
        }
    }
}

impl std::error::Error for ImportError {}

/// A value shortened for quoting in a message: a publisher needs enough to
/// find the cell, and a 1 MiB value must not end up in a log line.
pub(crate) fn excerpt(value: &str) -> String {
    const MAX_CHARS: usize = 40;
    match value.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", value.get(..cut).unwrap_or_default()),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_line_and_column() {
        let e = ImportError::new(12, Some("dep_delay"), "not a number");
        assert_eq!(e.to_string(), "line 12, column 'dep_delay': not a number");
    }

    #[test]
    fn display_omits_missing_column_and_line_zero() {
        assert_eq!(
            ImportError::new(3, None, "ragged").to_string(),
            "line 3: ragged"
        );
        assert_eq!(ImportError::file("cannot open").to_string(), "cannot open");
    }

    #[test]
    fn excerpt_cuts_long_values_on_a_char_boundary() {
        let long = "é".repeat(100);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 41);
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }
}
