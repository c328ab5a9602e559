//! Tests that the tracker agrees with csv-core on where records start and
//! stops the stream exactly at the violations it exists to catch.

use super::*;
use proptest::prelude::*;

/// Everything the parser returned, each record with its tracked start line,
/// and the violation that ended the stream, if any.
type Parsed = (Vec<(u64, Vec<Vec<u8>>)>, Option<Violation>);

fn parse(input: &[u8]) -> Parsed {
    parse_from(input)
}

fn parse_from(input: impl Read) -> Parsed {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Tracker::new(input));
    let mut record = ::csv::ByteRecord::new();
    let mut out = Vec::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {
                let line = reader.get_mut().next_record_line();
                out.push((line, record.iter().map(<[u8]>::to_vec).collect()));
            }
            Ok(false) => return (out, None),
            Err(_) => return (out, reader.get_ref().violation().cloned()),
        }
    }
}

fn lines(parsed: &Parsed) -> Vec<u64> {
    parsed.0.iter().map(|(line, _)| *line).collect()
}

#[test]
fn start_lines_count_blank_lines_crlf_and_quoted_newlines() {
    let parsed = parse(b"a,b\r\n\r\n1,\"x\ny\"\r\n2,3\n\n\n4,5");
    assert_eq!(lines(&parsed), [1, 3, 5, 8]);
    assert_eq!(parsed.1, None);
    assert_eq!(parsed.0[1].1, [b"1".to_vec(), b"x\ny".to_vec()]);
}

#[test]
fn lone_carriage_returns_end_lines_too() {
    assert_eq!(lines(&parse(b"a\r1\r\r2\r")), [1, 2, 4]);
}

#[test]
fn an_unterminated_quote_stops_the_stream_at_its_record() {
    let parsed = parse(b"a,b\n1,\"2\n3,4\n");
    assert_eq!(lines(&parsed), [1]);
    let v = parsed.1.unwrap();
    assert_eq!((v.line, v.field), (2, 1));
    assert_eq!(v.kind, ViolationKind::UnterminatedQuote { opened_line: 2 });
}

#[test]
fn a_closed_quote_at_end_of_input_is_fine() {
    let parsed = parse(b"a\n\"x\"\"y\"");
    assert_eq!(parsed.1, None);
    assert_eq!(parsed.0[1].1, [b"x\"y".to_vec()]);
}

#[test]
fn text_after_a_closing_quote_is_a_violation() {
    let parsed = parse(b"a,b\n1,2\n3,\"say \"hi\"\"\n");
    assert_eq!(lines(&parsed), [1, 2]);
    let v = parsed.1.unwrap();
    assert_eq!(
        (v.line, v.field, v.kind),
        (3, 1, ViolationKind::TextAfterClosingQuote)
    );
}

#[test]
fn a_quote_inside_an_unquoted_field_is_literal() {
    let parsed = parse(b"h\n5'10\"\n");
    assert_eq!(parsed.1, None);
    assert_eq!(parsed.0[1].1, [b"5'10\"".to_vec()]);
}

#[test]
fn fields_over_one_mebibyte_are_refused_before_buffering() {
    let mut input = b"a,b\n1,".to_vec();
    input.extend(std::iter::repeat_n(b'x', MAX_FIELD_BYTES as usize));
    input.extend(b"\n2,\"");
    input.extend(std::iter::repeat_n(b'y', MAX_FIELD_BYTES as usize + 1));
    input.extend(b"\"\n");
    let parsed = parse(&input);
    assert_eq!(lines(&parsed), [1, 2]);
    let v = parsed.1.unwrap();
    assert_eq!(
        (v.line, v.field, v.kind),
        (3, 1, ViolationKind::FieldTooLong)
    );
}

#[test]
fn records_over_the_column_limit_are_refused() {
    let input = ",".repeat(MAX_FIELDS) + "\n";
    let v = parse(input.as_bytes()).1.unwrap();
    assert_eq!(
        (v.line, v.field, v.kind),
        (1, MAX_FIELDS, ViolationKind::TooManyFields)
    );
    assert_eq!(parse(",".repeat(MAX_FIELDS - 1).as_bytes()).1, None);
}

#[test]
fn passes_bytes_through_unchanged() {
    let input = b"a,\"b\"\"c\"\r\n\n1,2".to_vec();
    let mut out = Vec::new();
    Tracker::new(input.as_slice())
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, input);
}

/// Feeds a reader one byte per call, as a slow decoder might.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(dst)) => {
                *dst = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

proptest! {
    /// Whatever the input, the tracker sees the same records csv-core does,
    /// so every start line it hands out belongs to the record returned.
    #[test]
    fn agrees_with_csv_core_on_record_boundaries(
        input in proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b','), Just(b'"'), Just(b'\r'), Just(b'\n')],
            0..64,
        )
    ) {
        let plain = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input.as_slice())
            .into_byte_records()
            .map(|r| r.map(|r| r.iter().map(<[u8]>::to_vec).collect::<Vec<_>>()))
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let (tracked, violation) = parse(&input);
        let tracked: Vec<_> = tracked.into_iter().map(|(_, fields)| fields).collect();
        match violation {
            None => prop_assert_eq!(&tracked, &plain),
            // Stopped early: what was delivered is a prefix of csv-core's view.
            Some(_) => prop_assert!(plain.starts_with(&tracked)),
        }
        // Chunking must not matter: one byte per read gives the same result.
        prop_assert_eq!(parse_from(Trickle(&input)), parse(&input));
    }
}
