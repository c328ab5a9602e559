//! One test per import rule, each on a small file written for it.

use super::*;
use crate::data::types::Column;

fn err(bytes: &[u8]) -> ImportError {
    match scan_bytes(bytes) {
        Ok(s) => panic!("expected an error, got {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn an_empty_file_is_refused_on_line_1() {
    for bytes in [&b""[..], b"\xef\xbb\xbf", b"\n\n\r\n"] {
        let e = err(bytes);
        assert_eq!(e.line, 1);
        assert_eq!(
            e.message,
            "the file is empty; send a CSV with a header row and at least one data row"
        );
    }
}

#[test]
fn a_header_without_rows_is_refused() {
    let e = err(b"a,b\n\n");
    assert_eq!(e.line, 1);
    assert!(e.message.contains("no data rows"), "{e}");
}

#[test]
fn header_problems_are_reported_on_line_1() {
    let e = err(b"id,Name,name\n1,2,3\n");
    assert_eq!((e.line, e.column.as_deref()), (1, Some("name")));
    assert!(e.message.contains("column 2 ('Name')"), "{e}");
    assert!(
        err(b"id,,x\n1,2,3\n")
            .message
            .contains("column 2 has no name")
    );
    assert!(err(b"__id\n1\n").message.contains("reserved"));
}

#[test]
fn a_ragged_row_names_its_line_and_both_counts() {
    // The multi-line quoted field and CRLF endings must not throw the line off.
    let e = err(b"a,b,c\r\n1,\"x\r\ny\",3\r\n\r\n4,5\r\n");
    assert_eq!((e.line, e.column.as_deref()), (5, None));
    assert!(e.message.contains("expected 3 fields"), "{e}");
    assert!(e.message.contains("found 2"), "{e}");
    assert_eq!(err(b"a\n1\n2,3\n").line, 3);
}

#[test]
fn invalid_utf8_names_line_and_column() {
    let e = err(b"code,nom\n01001,Cl\xe9menciat\n");
    assert_eq!((e.line, e.column.as_deref()), (2, Some("nom")));
    assert!(e.message.contains("0xE9"), "{e}");
    assert!(e.message.contains("UTF-8"), "{e}");
}

#[test]
fn an_unterminated_quote_is_refused_not_swallowed() {
    let e = err(b"a,b\n1,\"2\n3,4\n");
    assert_eq!((e.line, e.column.as_deref()), (2, Some("b")));
    assert!(e.message.contains("never closed"), "{e}");
    assert_eq!(
        e.to_string().split(':').next(),
        Some("line 2, column 'b'"),
        "{e}"
    );
    // Also when the open quote is the last byte.
    assert_eq!(err(b"a\n1\n\"").line, 3);
}

#[test]
fn text_after_a_closing_quote_is_refused() {
    let e = err(b"id,quote\n1,ok\n2,\"say \"hi\"\"\n");
    assert_eq!((e.line, e.column.as_deref()), (3, Some("quote")));
    assert!(e.message.contains("written twice"), "{e}");
}

#[test]
fn a_quote_inside_an_unquoted_field_is_kept_literally() {
    let (_, rows) = import(b"height\n5'10\"\n").unwrap();
    assert_eq!(rows, [vec![text("5'10\"")]]);
}

#[test]
fn a_field_over_one_mebibyte_is_refused() {
    let mut bytes = b"a,b\n1,".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', (1 << 20) + 1));
    let e = err(&bytes);
    assert_eq!((e.line, e.column.as_deref()), (2, Some("b")));
    assert!(e.message.contains("1 MiB"), "{e}");
    // Exactly 1 MiB is fine.
    bytes.pop();
    assert!(scan_bytes(&bytes).is_ok());
}

#[test]
fn blank_lines_are_skipped_and_a_final_one_is_fine() {
    let (scan, rows) = import(b"a\n1\n\n2\n\n").unwrap();
    assert_eq!(scan.rows, 2);
    assert_eq!(rows, [vec![Value::Int(1)], vec![Value::Int(2)]]);
}

#[test]
fn a_byte_order_mark_is_not_part_of_the_first_name() {
    let s = scan_bytes(b"\xef\xbb\xbfid,x\n1,2\n").unwrap();
    assert_eq!(s.columns[0].name, "id");
}

#[test]
fn quoted_fields_keep_commas_quotes_newlines_and_spaces() {
    let (scan, rows) =
        import(b"id,t\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\"x\ny\"\n4, padded \n").unwrap();
    assert_eq!(types(&scan), [ColumnType::Integer, ColumnType::Text]);
    let t: Vec<_> = rows.iter().map(|r| r[1].clone()).collect();
    assert_eq!(
        t,
        [
            text("a, b"),
            text("say \"hi\""),
            text("x\ny"),
            text(" padded ")
        ]
    );
}

#[test]
fn values_come_back_typed_with_empty_fields_as_null() {
    let csv = "i,r,b,d,ts,t\n\
               1,1.5,true,2013-01-01,2013-01-01 10:00:00,01001\n\
               ,,,,,\n\
               -7,.5,FALSE,2013-12-31,2013-06-01T12:00:00+02:00,x\n";
    let (scan, rows) = import(csv.as_bytes()).unwrap();
    use ColumnType::*;
    assert_eq!(
        types(&scan),
        [Integer, Real, Boolean, Date, Timestamp, Text]
    );
    assert_eq!(
        rows,
        [
            vec![
                Value::Int(1),
                Value::Real(1.5),
                Value::Bool(true),
                text("2013-01-01"),
                text("2013-01-01T10:00:00Z"),
                text("01001"),
            ],
            vec![Value::Null; 6],
            vec![
                Value::Int(-7),
                Value::Real(0.5),
                Value::Bool(false),
                text("2013-12-31"),
                text("2013-06-01T10:00:00Z"),
                text("x"),
            ],
        ]
    );
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let plain = b"a,b\n1,x\n2,y\n";
    let (scanned, rows) = import(&gzip(plain)).unwrap();
    assert_eq!(scanned.rows, 2);
    assert_eq!(rows[1], [Value::Int(2), text("y")]);
    let mut named_gz = tempfile::Builder::new()
        .suffix(".csv.gz")
        .tempfile()
        .unwrap();
    named_gz.write_all(plain).unwrap();
    assert_eq!(scan(named_gz.path(), &mut |_| {}).unwrap().rows, 2);
}

#[test]
fn a_truncated_gzip_file_is_an_error() {
    let mut many = b"a\n".to_vec();
    for i in 0..10_000 {
        many.extend(format!("{i}\n").bytes());
    }
    let gz = gzip(&many);
    let e = err(&gz[..gz.len() / 2]);
    assert!(e.message.contains("gzip"), "{e}");
}

#[test]
fn the_digest_and_size_are_of_the_stored_bytes() {
    use sha2::{Digest, Sha256};
    for stored in [b"a\n1\n".to_vec(), gzip(b"a\n1\n")] {
        let s = scan_bytes(&stored).unwrap();
        let hex: String = Sha256::digest(&stored)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!((s.sha256, s.bytes), (hex, stored.len() as u64));
    }
}

#[test]
fn progress_comes_every_65536_rows_and_at_the_end() {
    let mut csv = b"n\n".to_vec();
    for i in 0..70_000 {
        csv.extend(format!("{i}\n").bytes());
    }
    let f = file(&csv);
    let mut seen = Vec::new();
    scan(f.path(), &mut |p| seen.push(p)).unwrap();
    let rows: Vec<u64> = seen.iter().map(|p| p.rows).collect();
    assert_eq!(rows, [65_536, 70_000]);
    assert!(seen[0].bytes > 0);
    assert_eq!(seen[1].bytes, csv.len() as u64);
}

#[test]
fn indexed_columns_follow_the_rule_in_column_order() {
    let mut csv = b"id,day,origin,const,temp,flag,when\n".to_vec();
    for i in 0..1500 {
        let line = format!(
            "{i},2013-01-{:02},{},x,{}.5,{},2013-01-01T{:02}:00:00Z\n",
            i % 28 + 1,
            ["EWR", "JFK", "LGA"][i % 3],
            i % 40,
            i % 2 == 0,
            i % 24
        );
        csv.extend(line.bytes());
    }
    let s = scan_bytes(&csv).unwrap();
    assert_eq!(s.indexed, ["day", "origin", "flag", "when"]);
    assert!(!s.indexed.contains(&"temp".to_string()));
}

#[test]
fn rows_refuse_columns_that_do_not_match_the_header() {
    let f = file(b"a,b\n1,2\n");
    let columns = [Column {
        name: "a".into(),
        ty: ColumnType::Integer,
    }];
    let e = rows(f.path(), &columns).err().unwrap();
    assert_eq!(e.line, 1);
    assert!(e.message.contains("scan it again"), "{e}");
}

#[test]
fn rows_report_values_that_do_not_fit_the_given_types() {
    let f = file(b"a\n1\nx\n3\n");
    let columns = [Column {
        name: "a".into(),
        ty: ColumnType::Integer,
    }];
    let got: Vec<_> = rows(f.path(), &columns).unwrap().collect();
    assert_eq!(got.len(), 2, "the iterator ends after the first error");
    assert_eq!(got[0], Ok(vec![Value::Int(1)]));
    let e = got[1].clone().unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (3, Some("a")));
}

#[test]
fn a_missing_file_is_an_error_about_the_file() {
    let e = scan(std::path::Path::new("/nonexistent/x.csv"), &mut |_| {}).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(
        e.to_string().starts_with("the file could not be opened"),
        "{e}"
    );
}
