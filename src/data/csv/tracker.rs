//! A byte-level shadow of the `csv` crate's parser, sitting between the
//! decoded stream and `csv::Reader`. It exists because csv-core is lenient
//! where an importer must not be, and reports less than a publisher needs:
//!
//! - it closes a quoted field still open at end of input silently, so
//!   `1,"2\n3,4\n` reads as a two-field record;
//! - its `Position::line` is wrong after blank lines and CRLF endings;
//! - it buffers a field of any size before the caller can refuse it.
//!
//! The tracker walks the same state machine as csv-core with the reader's
//! default settings (`,` delimiter, `"` quote doubled to escape, CR, LF or
//! CRLF record ends, blank lines skipped), records the physical line each
//! record starts on, and stops the stream with an I/O error at the first
//! violation, so the parser never sees the bytes past it. It must never
//! change the bytes it passes on.

use std::collections::VecDeque;
use std::io::{self, Read};

/// The longest field we accept, counted as its value (quotes excluded).
pub(crate) const MAX_FIELD_BYTES: u64 = 1 << 20;
/// The longest record we accept, so a row of many large fields cannot
/// exhaust memory either.
pub(crate) const MAX_RECORD_BYTES: u64 = 16 << 20;
/// SQLite's default limit on columns in a table (SQLITE_MAX_COLUMN).
pub(crate) const MAX_FIELDS: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartRecord,
    StartField,
    InField,
    InQuoted,
    /// Just read a `"` inside a quoted field: either the closing quote or the
    /// first half of a doubled one.
    AfterQuote,
}

/// Why the tracker stopped the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ViolationKind {
    UnterminatedQuote { opened_line: u64 },
    TextAfterClosingQuote,
    FieldTooLong,
    RecordTooLong,
    TooManyFields,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// Physical line where the offending record starts.
    pub(crate) line: u64,
    /// 0-based index of the offending field within its record.
    pub(crate) field: usize,
    pub(crate) kind: ViolationKind,
}

pub(crate) struct Tracker<R> {
    inner: R,
    state: State,
    /// Physical line of the next byte; CR, LF and CRLF each end one line.
    line: u64,
    prev_cr: bool,
    field: usize,
    field_bytes: u64,
    record_bytes: u64,
    record_line: u64,
    quote_line: u64,
    /// Start lines of records seen here but not yet handed out by the parser;
    /// bounded by the parser's buffer, since we only run one read ahead.
    starts: VecDeque<u64>,
    violation: Option<Violation>,
}

impl<R: Read> Tracker<R> {
    pub(crate) fn new(inner: R) -> Self {
        Tracker {
            inner,
            state: State::StartRecord,
            line: 1,
            prev_cr: false,
            field: 0,
            field_bytes: 0,
            record_bytes: 0,
            record_line: 1,
            quote_line: 1,
            starts: VecDeque::new(),
            violation: None,
        }
    }

    pub(crate) fn get_ref(&self) -> &R {
        &self.inner
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    /// The start line of the record the parser has just returned. Call once
    /// per record, in order.
    pub(crate) fn next_record_line(&mut self) -> u64 {
        self.starts.pop_front().unwrap_or(self.line)
    }

    /// The violation that stopped the stream, if that is why it stopped.
    pub(crate) fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }

    /// The line the stream had reached, for errors from below (a corrupt
    /// gzip member) that belong to no particular record.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    fn violate(&self, kind: ViolationKind) -> Violation {
        Violation {
            line: self.record_line,
            field: self.field,
            kind,
        }
    }

    fn content_byte(&mut self) -> Result<(), Violation> {
        self.field_bytes += 1;
        self.record_bytes += 1;
        if self.field_bytes > MAX_FIELD_BYTES {
            return Err(self.violate(ViolationKind::FieldTooLong));
        }
        if self.record_bytes > MAX_RECORD_BYTES {
            return Err(self.violate(ViolationKind::RecordTooLong));
        }
        Ok(())
    }

    fn next_field(&mut self) -> Result<(), Violation> {
        self.field += 1;
        self.field_bytes = 0;
        self.state = State::StartField;
        if self.field >= MAX_FIELDS {
            return Err(self.violate(ViolationKind::TooManyFields));
        }
        Ok(())
    }

    fn step(&mut self, b: u8) -> Result<(), Violation> {
        let is_term = b == b'\n' || b == b'\r';
        if self.state == State::StartRecord {
            if is_term {
                self.advance_line(b);
                return Ok(());
            }
            self.record_line = self.line;
            self.starts.push_back(self.line);
            self.field = 0;
            self.field_bytes = 0;
            self.record_bytes = 0;
            self.state = State::StartField;
        }
        match self.state {
            State::StartRecord => {}
            State::StartField => match b {
                b'"' => {
                    self.quote_line = self.line;
                    self.state = State::InQuoted;
                }
                b',' => self.next_field()?,
                _ if is_term => self.state = State::StartRecord,
                _ => {
                    self.state = State::InField;
                    self.content_byte()?;
                }
            },
            // A quote inside an unquoted field (`5'10"`) is taken literally,
            // as csv-core and RFC 4180-lenient readers do: its meaning is
            // unambiguous.
            State::InField => match b {
                b',' => self.next_field()?,
                _ if is_term => self.state = State::StartRecord,
                _ => self.content_byte()?,
            },
            State::InQuoted => match b {
                b'"' => self.state = State::AfterQuote,
                _ => self.content_byte()?,
            },
            State::AfterQuote => match b {
                b'"' => {
                    self.state = State::InQuoted;
                    self.content_byte()?;
                }
                b',' => self.next_field()?,
                _ if is_term => self.state = State::StartRecord,
                // csv-core would glue this text onto the field. It is how a
                // quote that should have been doubled (`"say "hi""`) shows
                // up, so guessing would publish a mangled value.
                _ => return Err(self.violate(ViolationKind::TextAfterClosingQuote)),
            },
        }
        self.advance_line(b);
        Ok(())
    }

    fn advance_line(&mut self, b: u8) {
        if b == b'\r' || (b == b'\n' && !self.prev_cr) {
            self.line += 1;
        }
        self.prev_cr = b == b'\r';
    }

    fn stop(&mut self, v: Violation) -> io::Error {
        self.violation = Some(v);
        stopped()
    }
}

fn stopped() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "CSV structure violation")
}

impl<R: Read> Read for Tracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.violation.is_some() {
            return Err(stopped());
        }
        let n = self.inner.read(buf)?;
        if n == 0 && self.state == State::InQuoted {
            let opened_line = self.quote_line;
            let v = self.violate(ViolationKind::UnterminatedQuote { opened_line });
            return Err(self.stop(v));
        }
        for (i, &b) in buf.iter().take(n).enumerate() {
            if let Err(v) = self.step(b) {
                // Hand over the bytes before the violation so the parser
                // reports earlier records' problems first; the next read
                // fails.
                self.violation = Some(v);
                return if i == 0 { Err(stopped()) } else { Ok(i) };
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
#[path = "tracker_tests.rs"]
mod tests;
