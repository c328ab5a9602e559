//! How a protected column's values leave the database: partial masks by
//! type, a keyed hash, or nothing at all. The functions here are plain Rust
//! (unit-tested below) and are installed into SQLite as SQL functions on the
//! connection that runs a masked plan, so masked rows are rendered inside the
//! engine like every other row and the raw value never reaches Rust.
//! Deciding *who* sees a column how is not this module's job (see `masks`);
//! it must never log or return a raw value it was asked to protect.

use diesel::define_sql_function;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::sql::SqlBuilder;
use super::types::{ColumnType, Value, canonical_date};
use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// Hex characters kept of a hash: 128 bits, far beyond any collision in a
/// dataset, short enough to read.
pub const HASH_HEX_LEN: usize = 32;

/// How one protected column reaches a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// Partial value by type; `bucket` overrides the automatic width of
    /// numeric buckets.
    Mask { bucket: Option<i64> },
    /// Keyed HMAC-SHA256, hex, truncated: equal raw values give equal hashes.
    Hash,
    /// Not shown at all.
    Hide,
}

impl Protection {
    /// The past participle messages use: masked, hashed, hidden.
    pub fn verb(self) -> &'static str {
        match self {
            Protection::Mask { .. } => "masked",
            Protection::Hash => "hashed",
            Protection::Hide => "hidden",
        }
    }
}

/// The key of the `hash` treatment, shared by every instance of a
/// deployment so that hashes stay stable across instances and restarts.
#[derive(Clone)]
pub struct MaskKey(Vec<u8>);

impl MaskKey {
    pub fn new(bytes: Vec<u8>) -> MaskKey {
        MaskKey(bytes)
    }
}

impl std::fmt::Debug for MaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MaskKey([redacted])")
    }
}

/// Text: the first and the last character with one `*` for each character
/// between; values of 1 to 3 characters become all stars; empty stays empty.
/// Characters are Unicode scalar values, so non-ASCII text is cut cleanly.
pub fn mask_text(s: &str) -> String {
    let n = s.chars().count();
    if n <= 3 {
        return "*".repeat(n);
    }
    let mut out = String::with_capacity(s.len());
    if let Some(first) = s.chars().next() {
        out.push(first);
    }
    out.extend(std::iter::repeat_n('*', n - 2));
    if let Some(last) = s.chars().next_back() {
        out.push(last);
    }
    out
}

/// The automatic bucket width of an integer: 10^(digits − 1) of its
/// absolute value, and at least 10 (so 7 → 0, 54 → 50, 54321 → 50000).
fn auto_width(abs: u64) -> i64 {
    let digits = abs.checked_ilog10().map_or(1, |d| d + 1);
    10_i64.saturating_pow(digits.max(2) - 1)
}

/// Integer: rounded down (towards −∞) to a multiple of the bucket width:
/// `bucket` when positive, else the automatic width. The result is the
/// bucket's lower bound (−54321 → −60000). `None` (null) when it would not
/// fit 64 bits.
pub fn mask_int(x: i64, bucket: i64) -> Option<i64> {
    let width = if bucket > 0 {
        bucket
    } else {
        auto_width(x.unsigned_abs())
    };
    x.div_euclid(width).checked_mul(width)
}

/// Real: like integers, on the integer part's digits (at least 10), the
/// result the bucket's lower bound; not-a-number and infinities become null.
pub fn mask_real(x: f64, bucket: i64) -> Option<f64> {
    if !x.is_finite() {
        return None;
    }
    let width = if bucket > 0 {
        bucket as f64
    } else if x.abs() < 10.0 {
        10.0
    } else {
        // `powi` drifts at large exponents; the parsed literal is exact.
        let exp = x.abs().log10().floor() as i32;
        format!("1e{exp}").parse::<f64>().ok()?
    };
    let r = (x / width).floor() * width;
    // `+ 0.0` turns −0.0 into 0.0.
    r.is_finite().then_some(r + 0.0)
}

/// Date: the first day of its month (`2013-06-17` → `2013-06-01`); text
/// that is not a date becomes null.
pub fn mask_date(s: &str) -> Option<String> {
    let d = canonical_date(s.get(..10)?)?;
    Some(format!("{}-01", d.get(..7)?))
}

/// Timestamp: midnight UTC of the first day of its month.
pub fn mask_timestamp(s: &str) -> Option<String> {
    Some(format!("{}T00:00:00Z", mask_date(s)?))
}

/// HMAC-SHA256 of the value's text under `key`, the first
/// `HASH_HEX_LEN` hex characters.
pub fn hash_text(key: &[u8], s: &str) -> Option<String> {
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(s.as_bytes());
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    hex.get(..HASH_HEX_LEN).map(str::to_string)
}

define_sql_function! { fn kf_mask_text(x: Nullable<Text>) -> Nullable<Text>; }
define_sql_function! { fn kf_mask_int(x: Nullable<BigInt>, bucket: BigInt) -> Nullable<BigInt>; }
define_sql_function! { fn kf_mask_real(x: Nullable<Double>, bucket: BigInt) -> Nullable<Double>; }
define_sql_function! { fn kf_mask_date(x: Nullable<Text>) -> Nullable<Text>; }
define_sql_function! { fn kf_mask_timestamp(x: Nullable<Text>) -> Nullable<Text>; }
define_sql_function! { fn kf_hash(x: Nullable<Text>) -> Nullable<Text>; }

/// Installs the mask functions on `conn`, the hash keyed with `key`.
/// Cheap (a few registrations); done on the connection that runs a masked
/// plan, right before it runs, so every pooled connection can serve one.
pub fn install(conn: &mut diesel::SqliteConnection, key: &MaskKey) -> Result<()> {
    let fail = |e: diesel::result::Error| Error::internal("installing the mask functions", e);
    kf_mask_text_utils::register_impl(conn, |x: Option<String>| x.map(|s| mask_text(&s)))
        .map_err(fail)?;
    kf_mask_int_utils::register_impl(conn, |x: Option<i64>, b: i64| {
        x.and_then(|v| mask_int(v, b))
    })
    .map_err(fail)?;
    kf_mask_real_utils::register_impl(conn, |x: Option<f64>, b: i64| {
        x.and_then(|v| mask_real(v, b))
    })
    .map_err(fail)?;
    kf_mask_date_utils::register_impl(conn, |x: Option<String>| x.and_then(|s| mask_date(&s)))
        .map_err(fail)?;
    kf_mask_timestamp_utils::register_impl(conn, |x: Option<String>| {
        x.and_then(|s| mask_timestamp(&s))
    })
    .map_err(fail)?;
    let key = key.0.clone();
    kf_hash_utils::register_impl(conn, move |x: Option<String>| {
        x.and_then(|s| hash_text(&key, &s))
    })
    .map_err(fail)?;
    Ok(())
}

/// The inner and outer HMAC-SHA256 pads of `key` (RFC 2104), hex: what the
/// PostgreSQL `kf_hash` function reads from the settings table, so that it
/// computes exactly `hash_text` without an extension.
pub fn hmac_pads_hex(key: &MaskKey) -> (String, String) {
    use sha2::Digest;
    let mut block = if key.0.len() > 64 {
        Sha256::digest(&key.0).to_vec()
    } else {
        key.0.clone()
    };
    block.resize(64, 0);
    let hex = |pad: u8| block.iter().map(|b| format!("{:02x}", b ^ pad)).collect();
    (hex(0x36), hex(0x5c))
}

/// The type of a protected column's values as the caller receives them.
pub fn shown_type(ty: ColumnType, p: Protection) -> ColumnType {
    match p {
        Protection::Hash => ColumnType::Text,
        _ => ty,
    }
}

/// Pushes the SQL value of `column` (of type `ty`) under protection `p`.
/// Hidden columns never reach here; if one did, it renders as null.
pub fn push_masked(b: &mut SqlBuilder, column: &str, ty: ColumnType, p: Protection) {
    let bucket = |b: &mut SqlBuilder, bucket: Option<i64>| {
        b.push(", ").push_bind(Value::Int(bucket.unwrap_or(0)));
    };
    match (p, ty) {
        (Protection::Hide, _) | (Protection::Mask { .. }, ColumnType::Boolean) => {
            b.push("NULL");
        }
        (Protection::Hash, _) if b.dialect() == super::sql::Dialect::Postgres => {
            // Hash the text SQLite would have stored, so a deployment
            // copied from SQLite keeps its hashes.
            b.push("kf_hash(");
            match ty {
                ColumnType::Boolean => {
                    b.push("CASE WHEN ")
                        .push_ident(column)
                        .push(" THEN '1' WHEN NOT ")
                        .push_ident(column)
                        .push(" THEN '0' END");
                }
                ColumnType::Date => {
                    b.push("to_char(")
                        .push_ident(column)
                        .push(", 'YYYY-MM-DD')");
                }
                ColumnType::Timestamp => {
                    b.push("to_char(")
                        .push_ident(column)
                        .push(" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
                }
                _ => {
                    b.push("CAST(").push_ident(column).push(" AS TEXT)");
                }
            }
            b.push(")");
        }
        (Protection::Hash, _) => {
            b.push("kf_hash(CAST(")
                .push_ident(column)
                .push(" AS TEXT))");
        }
        (Protection::Mask { .. }, ColumnType::Text) => {
            b.push("kf_mask_text(").push_ident(column).push(")");
        }
        (Protection::Mask { bucket: w }, ColumnType::Integer) => {
            b.push("kf_mask_int(").push_ident(column);
            bucket(b, w);
            b.push(")");
        }
        (Protection::Mask { bucket: w }, ColumnType::Real) => {
            b.push("kf_mask_real(").push_ident(column);
            bucket(b, w);
            b.push(")");
        }
        (Protection::Mask { .. }, ColumnType::Date) => {
            b.push("kf_mask_date(").push_ident(column).push(")");
        }
        (Protection::Mask { .. }, ColumnType::Timestamp) => {
            b.push("kf_mask_timestamp(").push_ident(column).push(")");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_first_and_last_character() {
        assert_eq!(mask_text(""), "");
        assert_eq!(mask_text("a"), "*");
        assert_eq!(mask_text("ab"), "**");
        assert_eq!(mask_text("abc"), "***");
        assert_eq!(mask_text("abcd"), "a**d");
        assert_eq!(mask_text("N14228"), "N****8");
        assert_eq!(mask_text("13812345678"), "1*********8");
    }

    #[test]
    fn text_cuts_non_ascii_by_character() {
        assert_eq!(mask_text("Zoë"), "***");
        assert_eq!(mask_text("Zoëé"), "Z**é");
        assert_eq!(mask_text("北京市朝阳区"), "北****区");
        assert_eq!(mask_text("🙂🙃🙂🙃"), "🙂**🙃");
        assert_eq!(mask_text("e\u{301}abc"), "e***c");
    }

    #[test]
    fn integers_round_down_to_their_bucket() {
        assert_eq!(mask_int(0, 0), Some(0));
        assert_eq!(mask_int(7, 0), Some(0));
        assert_eq!(mask_int(10, 0), Some(10));
        assert_eq!(mask_int(54, 0), Some(50));
        assert_eq!(mask_int(999, 0), Some(900));
        assert_eq!(mask_int(54321, 0), Some(50000));
        assert_eq!(mask_int(-7, 0), Some(-10));
        assert_eq!(mask_int(-54321, 0), Some(-60000));
        assert_eq!(mask_int(54321, 1000), Some(54000));
        assert_eq!(mask_int(-1, 1000), Some(-1000));
        assert_eq!(mask_int(i64::MAX, 0), Some(9_000_000_000_000_000_000));
        assert_eq!(mask_int(i64::MIN, 0), None);
        assert_eq!(mask_int(i64::MIN, 1), Some(i64::MIN));
        assert_eq!(mask_int(i64::MIN, i64::MAX), None);
    }

    #[test]
    fn reals_round_down_and_odd_values_become_null() {
        assert_eq!(mask_real(0.37, 0), Some(0.0));
        assert_eq!(mask_real(-0.37, 0), Some(-10.0));
        assert_eq!(mask_real(-0.0, 0), Some(0.0));
        assert_eq!(mask_real(54321.9, 0), Some(50000.0));
        assert_eq!(mask_real(1000.0, 0), Some(1000.0));
        assert_eq!(mask_real(-54321.9, 0), Some(-60000.0));
        assert_eq!(mask_real(12.5, 5), Some(10.0));
        assert_eq!(mask_real(f64::NAN, 0), None);
        assert_eq!(mask_real(f64::INFINITY, 0), None);
        assert_eq!(mask_real(f64::MAX, 0), Some(1e308));
        assert_eq!(mask_real(f64::MIN, 0), None);
    }

    #[test]
    fn dates_and_timestamps_keep_their_month() {
        assert_eq!(mask_date("2013-06-17").as_deref(), Some("2013-06-01"));
        assert_eq!(
            mask_timestamp("2013-06-17T08:30:00Z").as_deref(),
            Some("2013-06-01T00:00:00Z")
        );
        assert_eq!(mask_date(""), None);
        assert_eq!(mask_date("2013-06"), None);
        assert_eq!(mask_date("not a date at all"), None);
        assert_eq!(mask_date("2013-02-30"), None);
        assert_eq!(mask_date("éééééééééé"), None);
    }

    #[test]
    fn hashes_are_keyed_stable_and_short() {
        let a = hash_text(b"key one", "N14228").unwrap();
        assert_eq!(a.len(), HASH_HEX_LEN);
        assert_eq!(hash_text(b"key one", "N14228").unwrap(), a);
        assert_ne!(hash_text(b"key two", "N14228").unwrap(), a);
        assert_ne!(hash_text(b"key one", "N14229").unwrap(), a);
        assert_eq!(hash_text(b"k", "").unwrap().len(), HASH_HEX_LEN);
        assert_eq!(hash_text(b"", "é").unwrap().len(), HASH_HEX_LEN);
    }

    #[test]
    fn installed_functions_mask_inside_sqlite_and_keep_nulls() {
        use diesel::prelude::*;
        use diesel::sql_types::Nullable as N;
        #[derive(QueryableByName, Debug)]
        struct Out {
            #[diesel(sql_type = N<Text>)]
            t: Option<String>,
            #[diesel(sql_type = N<BigInt>)]
            i: Option<i64>,
            #[diesel(sql_type = N<Double>)]
            r: Option<f64>,
            #[diesel(sql_type = N<Text>)]
            d: Option<String>,
            #[diesel(sql_type = N<Text>)]
            h: Option<String>,
            #[diesel(sql_type = N<Text>)]
            n: Option<String>,
        }
        let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
        install(&mut conn, &MaskKey::new(b"k".to_vec())).unwrap();
        let out: Out = diesel::sql_query(
            "SELECT kf_mask_text('Zoëé') AS t, kf_mask_int(-54321, 0) AS i, \
             kf_mask_real(12.5, 5) AS r, kf_mask_date('2013-06-17') AS d, \
             kf_hash(CAST(42 AS TEXT)) AS h, kf_mask_text(NULL) AS n",
        )
        .get_result(&mut conn)
        .unwrap();
        assert_eq!(out.t.as_deref(), Some("Z**é"));
        assert_eq!(out.i, Some(-60000));
        assert_eq!(out.r, Some(10.0));
        assert_eq!(out.d.as_deref(), Some("2013-06-01"));
        assert_eq!(out.h, hash_text(b"k", "42"));
        assert_eq!(out.n, None);
    }
}
