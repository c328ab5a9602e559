//! Raw records with their line numbers: the `csv` reader over the tracked
//! stream, the header, and the checks both passes make on every record
//! (width, stream violations, read errors). Turns bytes into no typed value
//! and must never hold more than the current record.

use std::path::Path;

use ::csv::{ByteRecord, Reader, ReaderBuilder};

use super::error::ImportError;
use super::header;
use super::source::{self, Source};
use super::tracker::{MAX_FIELD_BYTES, MAX_FIELDS, MAX_RECORD_BYTES, Tracker, ViolationKind};

/// Large reads keep the per-call overhead of the stream layers negligible.
const BUFFER_BYTES: usize = 1 << 16;

pub(crate) struct Records {
    reader: Reader<Tracker<Source>>,
    names: Vec<String>,
}

impl Records {
    /// Opens `path` and reads and checks its header row.
    pub(crate) fn open(path: &Path, hash: bool) -> Result<Records, ImportError> {
        let reader = ReaderBuilder::new()
            // The header goes through `read` like any record, so it gets
            // the same tracking and its line number.
            .has_headers(false)
            // Width is checked here, to name the line and both counts.
            .flexible(true)
            .buffer_capacity(BUFFER_BYTES)
            .from_reader(Tracker::new(source::open(path, hash)?));
        let mut records = Records {
            reader,
            names: Vec::new(),
        };
        let mut header = ByteRecord::new();
        if records.read(&mut header)?.is_none() {
            return Err(ImportError::new(
                1,
                None,
                "the file is empty; send a CSV with a header row and at least one data row",
            ));
        }
        records.names = header::column_names(&header)?;
        Ok(records)
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// Reads the next record into `record` and returns the line it starts
    /// on, or `None` at the end of the file. Records of the wrong width are
    /// errors, except the header itself.
    pub(crate) fn read(&mut self, record: &mut ByteRecord) -> Result<Option<u64>, ImportError> {
        match self.reader.read_byte_record(record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let line = self.reader.get_mut().next_record_line();
                if !self.names.is_empty() && record.len() != self.names.len() {
                    return Err(ImportError::new(
                        line,
                        None,
                        format!(
                            "expected {} fields, as in the header, but found {}; every row \
                             needs one value per column (leave a field empty for a missing \
                             value, and quote values that contain commas)",
                            self.names.len(),
                            record.len()
                        ),
                    ));
                }
                Ok(Some(line))
            }
            Err(e) => Err(self.read_error(&e)),
        }
    }

    /// Stored bytes read so far, for progress reports.
    pub(crate) fn stored_bytes(&self) -> u64 {
        self.reader.get_ref().get_ref().get_ref().get_ref().bytes()
    }

    /// The SHA-256 (hex) and size of the file as stored.
    pub(crate) fn finish(self) -> Result<(String, u64), ImportError> {
        let stored = self
            .reader
            .into_inner()
            .into_inner()
            .into_inner()
            .into_inner();
        stored
            .finish()
            .map_err(|e| ImportError::file(format!("the file could not be read: {e}")))
    }

    fn column(&self, field: usize) -> Option<&str> {
        self.names.get(field).map(String::as_str)
    }

    fn read_error(&self, e: &::csv::Error) -> ImportError {
        let tracker = self.reader.get_ref();
        if let Some(v) = tracker.violation() {
            let column = self.column(v.field);
            let message = match v.kind {
                ViolationKind::UnterminatedQuote { opened_line } => format!(
                    "a quoted field is never closed: the quote opened on line {opened_line} \
                     has no closing quote before the end of the file; add the closing \" \
                     (a quote inside a quoted value is written twice: \"\")"
                ),
                ViolationKind::TextAfterClosingQuote => "text follows the closing quote of a \
                     quoted field; a quote inside a quoted value must be written twice, as in \
                     \"say \"\"hi\"\"\""
                    .to_owned(),
                ViolationKind::FieldTooLong => format!(
                    "the value is longer than {MAX_FIELD_BYTES} bytes (1 MiB), the most a field \
                     may hold; shorten it or publish it as a separate file"
                ),
                ViolationKind::RecordTooLong => format!(
                    "the row is longer than {MAX_RECORD_BYTES} bytes (16 MiB), the most a row \
                     may hold; split large values into a separate file"
                ),
                ViolationKind::TooManyFields => format!(
                    "the row has more than {MAX_FIELDS} fields, the most a table may have; \
                     split the columns over several datasets"
                ),
            };
            let column = match v.kind {
                ViolationKind::TooManyFields | ViolationKind::RecordTooLong => None,
                _ => column,
            };
            return ImportError::new(v.line, column, message);
        }
        let cause = match e.kind() {
            ::csv::ErrorKind::Io(io) => io.to_string(),
            other => format!("{other:?}"),
        };
        let message = if tracker.get_ref().get_ref().is_gzip() {
            format!(
                "the file is gzip-compressed but could not be decompressed ({cause}); check \
                 that the upload is complete and send it again"
            )
        } else {
            format!("the file could not be read ({cause})")
        };
        ImportError::new(tracker.line(), None, message)
    }
}

/// The UTF-8 text of a field, or an error naming the line and column.
pub(crate) fn field_str<'a>(
    field: &'a [u8],
    line: u64,
    column: &str,
) -> Result<&'a str, ImportError> {
    std::str::from_utf8(field).map_err(|e| {
        let at = e.valid_up_to();
        let byte = field.get(at).copied().unwrap_or_default();
        ImportError::new(
            line,
            Some(column),
            format!(
                "the value is not valid UTF-8 (byte 0x{byte:02X} at position {}); save the \
                 file as UTF-8 (it may be in Latin-1 or Windows-1252)",
                at + 1
            ),
        )
    })
}
