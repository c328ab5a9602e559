//! The policy module's one error type; the gateway maps it onto its own API error.

use std::fmt;

/// How many valid choices an error lists: enough to spot a typo, short enough to read.
pub(crate) const MAX_CHOICES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// A CSV line that is not a rule.
    Parse { line: String, reason: String },
    /// One field of a rule is malformed or names something that does not exist.
    InvalidField {
        field: &'static str,
        value: String,
        reason: String,
        /// Closest valid values first, at most [`MAX_CHOICES`].
        choices: Vec<String>,
    },
    /// The model text was refused by Casbin or fails a trial decision.
    Model(String),
    /// Casbin refused the rule set.
    Build(String),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Parse { line, reason } => {
                write!(f, "cannot read policy line '{line}': {reason}")
            }
            PolicyError::InvalidField {
                field,
                value,
                reason,
                choices,
            } => {
                write!(f, "invalid {field} '{value}': {reason}")?;
                if !choices.is_empty() {
                    write!(f, "; valid choices: {}", choices.join(", "))?;
                }
                Ok(())
            }
            PolicyError::Model(msg) => write!(f, "policy model rejected: {msg}"),
            PolicyError::Build(msg) => write!(f, "policy rules rejected: {msg}"),
        }
    }
}

impl std::error::Error for PolicyError {}

/// Cuts user input to a length an error message can carry, on a character boundary so
/// non-ASCII input cannot panic the slicing.
pub(crate) fn shorten(s: &str) -> String {
    const LIMIT: usize = 120;
    if s.chars().count() <= LIMIT {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(LIMIT).collect();
        out.push('…');
        out
    }
}
