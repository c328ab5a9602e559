//! The row-filter language: its syntax tree (also the JSON form clients
//! send), the text parser, and the compiler that checks a filter against a
//! dataset's columns and writes it as SQL with every value bound. It must
//! never put a client-supplied value into SQL text, and never run a query.

mod ast;
mod compile;
mod display;
mod lex;
mod parse;

#[cfg(test)]
mod proptests;

pub use ast::{Expr, Literal};
pub use compile::{FilterError, columns_used, write_filter};
pub use parse::{ParseError, parse_filter};

/// Longest filter text accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 8192;
/// Deepest nesting of `and` / `or` / `not` (and of parentheses in text).
pub const MAX_DEPTH: usize = 32;
/// Most values in one `in` list.
pub const MAX_IN_VALUES: usize = 1000;
/// Most values in a whole filter. SQLite binds at most 32,766 values per
/// statement; staying well below keeps planning cheap and the limit clear.
pub const MAX_FILTER_VALUES: usize = 10_000;
