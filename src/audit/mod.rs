//! The audit room: one record per request, hash-chained per instance,
//! committed durably by a group-commit writer before the response leaves,
//! sealed by signed checkpoints kept in the database and in a file outside
//! it; plus reading the log back (listing, verification, archiving). It
//! never updates or deletes a record except through an explicit archive.

pub mod archive;
pub mod chain;
pub mod check;
pub mod checkpoint;
pub mod export;
mod note;
pub mod record;
pub mod report;
pub mod store;
pub mod verify;
mod writer;
mod writer_stats;

pub use note::{Note, NoteData, StreamOutcome};
pub use record::AuditRecord;
pub use writer::{AuditWriter, WriterConfig, WriterStats};

/// The current time as the audit log writes it: RFC 3339, UTC, microseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
