//! Integration tests: each drives a real gateway over HTTP, on its own
//! SQLite file, through the harness in `helpers`.

mod catalog;
mod errors;
mod export;
mod helpers;
mod publishing;
mod query;
mod spec;
