//! Whatever bytes arrive, `scan` and `rows` answer Ok or Err; they never
//! panic. Random input, CSV-shaped random input and fake gzip are tried.

use proptest::prelude::*;

use super::*;

/// Runs both passes; the only requirement is that they return.
fn survives(bytes: &[u8]) {
    let f = file(bytes);
    if let Ok(s) = scan(f.path(), &mut |_| {}) {
        assert!(s.rows > 0);
        let rows = rows(f.path(), &s.columns).unwrap();
        let mut n = 0;
        for row in rows {
            // A file that scanned cleanly must convert cleanly.
            assert_eq!(row.unwrap().len(), s.columns.len());
            n += 1;
        }
        assert_eq!(n, s.rows);
    }
}

fn csv_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => Just(b'a'),
        2 => Just(b'1'),
        3 => Just(b','),
        2 => Just(b'"'),
        2 => Just(b'\n'),
        1 => Just(b'\r'),
        1 => Just(b'-'),
        1 => Just(b'.'),
        1 => Just(b'_'),
        1 => Just(0xc3),
        1 => Just(0xa9),
        1 => Just(0xff),
        1 => any::<u8>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        survives(&bytes);
    }

    #[test]
    fn csv_shaped_bytes_never_panic(bytes in proptest::collection::vec(csv_byte(), 0..256)) {
        survives(&bytes);
    }

    #[test]
    fn fake_gzip_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..128)) {
        let mut bytes = vec![0x1f, 0x8b];
        bytes.extend(tail);
        survives(&bytes);
    }

    #[test]
    fn damaged_gzip_never_panics(cut in 0usize..200, flip in 0usize..200) {
        let mut gz = gzip(b"a,b\n1,x\n2,\"y\nz\"\n3,2013-01-01\n");
        if let Some(b) = gz.get_mut(flip) {
            *b ^= 0x5a;
        }
        gz.truncate(cut);
        survives(&gz);
    }
}

#[test]
fn known_nasty_inputs_never_panic() {
    let nasty: &[&[u8]] = &[
        b"\"",
        b",",
        b"\xef\xbb",
        b"\xef\xbb\xbf\"",
        b"a\n\"",
        b"a\n\"\"\"",
        b"a,a\n1,2\n",
        b"a\n-\n",
        b"a\n-9223372036854775809\n",
        b"a\n1e99999\n",
        b"a\n\xff\n",
        b"\xff\n1\n",
        b"a\r\r\r",
        b"a\n\x00\n",
        b"\x1f\x8b",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
    ];
    for bytes in nasty {
        survives(bytes);
    }
}
