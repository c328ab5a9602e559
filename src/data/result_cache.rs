//! Results of page statements kept in memory, so that a page many callers
//! ask for is read from the database once.
//!
//! Why it is safe to keep them: a statement reads only its version table,
//! and a version table never changes after its version is switched in (an
//! import fills a new table under a fresh random name, see
//! `store::table_name`). Everything else that shapes the rows — the
//! caller's masks and row filters, the columns, the order, the cursor
//! position, the format they are rendered in — is in the statement's text
//! or its bound values, which together are the key. Two callers share an
//! entry only when the database would have run the same statement for
//! both. A replaced version's entries are never asked for again and age
//! out.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use super::plan::Statement;
use super::types::Value;

/// Bytes an entry is counted for beyond its text: its map slots, its
/// vectors and the strings' headers, roughly.
const ENTRY_OVERHEAD: usize = 256;
const STRING_OVERHEAD: usize = 24;

/// The rows a statement returned: each rendered row, and the cursor key
/// of each row when the statement is keyed.
#[derive(Debug, Default)]
pub struct Rows {
    pub rows: Vec<String>,
    pub keys: Vec<String>,
}

impl Rows {
    fn bytes(&self) -> usize {
        self.rows
            .iter()
            .chain(&self.keys)
            .map(|s| s.len() + STRING_OVERHEAD)
            .sum()
    }
}

struct Entry {
    value: CachedValue,
    bytes: usize,
    /// Its place in `Inner::order`.
    tick: u64,
}

#[derive(Clone)]
enum CachedValue {
    Rows(Arc<Rows>),
    Count(i64),
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Arc<str>, Entry>,
    /// Least recently used first.
    order: BTreeMap<u64, Arc<str>>,
    next_tick: u64,
    bytes: usize,
}

/// A bounded, least-recently-used map from statement to result, shared by
/// every request of the server. Capacity 0 keeps nothing.
pub struct ResultCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for ResultCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultCache")
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl ResultCache {
    pub fn new(capacity_bytes: usize) -> ResultCache {
        ResultCache {
            capacity: capacity_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Bytes the entries are counted for now.
    pub fn bytes(&self) -> usize {
        self.inner.lock().map(|i| i.bytes).unwrap_or(0)
    }

    /// The rows of `stmt`, from memory or from `load` (then kept).
    pub fn rows<E>(
        &self,
        stmt: &Statement,
        load: impl FnOnce() -> Result<Rows, E>,
    ) -> Result<Arc<Rows>, E> {
        if self.capacity == 0 {
            return load().map(Arc::new);
        }
        let key = key_of(stmt);
        if let Some(CachedValue::Rows(rows)) = self.get(&key) {
            return Ok(rows);
        }
        let rows = Arc::new(load()?);
        let bytes = rows.bytes();
        self.put(key, CachedValue::Rows(Arc::clone(&rows)), bytes);
        Ok(rows)
    }

    /// The count `stmt` returns, from memory or from `load` (then kept).
    pub fn count<E>(
        &self,
        stmt: &Statement,
        load: impl FnOnce() -> Result<i64, E>,
    ) -> Result<i64, E> {
        if self.capacity == 0 {
            return load();
        }
        let key = key_of(stmt);
        if let Some(CachedValue::Count(n)) = self.get(&key) {
            return Ok(n);
        }
        let n = load()?;
        self.put(key, CachedValue::Count(n), 0);
        Ok(n)
    }

    fn get(&self, key: &str) -> Option<CachedValue> {
        // A poisoned lock only means another request panicked mid-update of
        // this map; reading the database instead is always correct.
        let mut inner = self.inner.lock().ok()?;
        let inner = &mut *inner;
        let tick = inner.next_tick;
        let entry = inner.entries.get_mut(key)?;
        let old = std::mem::replace(&mut entry.tick, tick);
        let value = entry.value.clone();
        if let Some(k) = inner.order.remove(&old) {
            inner.order.insert(tick, k);
        }
        inner.next_tick += 1;
        Some(value)
    }

    fn put(&self, key: String, value: CachedValue, value_bytes: usize) {
        let bytes = key.len() + value_bytes + ENTRY_OVERHEAD;
        // One entry may not push out most of the others.
        if bytes > self.capacity / 4 {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let inner = &mut *inner;
        let key: Arc<str> = key.into();
        if inner.entries.contains_key(&key) {
            // Another request read the same statement meanwhile.
            return;
        }
        while inner.bytes + bytes > self.capacity {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.bytes -= e.bytes;
            }
        }
        let tick = inner.next_tick;
        inner.next_tick += 1;
        inner.order.insert(tick, Arc::clone(&key));
        inner.entries.insert(key, Entry { value, bytes, tick });
        inner.bytes += bytes;
    }
}

/// The statement's text and its bound values, each tagged with its type
/// and, for text, its length: no two different statements share a key.
fn key_of(stmt: &Statement) -> String {
    let mut key = String::with_capacity(stmt.sql.len() + 16 * stmt.binds.len() + 1);
    key.push_str(&stmt.sql);
    key.push('\0');
    for v in &stmt.binds {
        // Writing to a String cannot fail.
        let _ = match v {
            Value::Null => write!(key, "N;"),
            Value::Int(i) => write!(key, "I{i};"),
            Value::Real(f) => write!(key, "R{:x};", f.to_bits()),
            Value::Bool(b) => write!(key, "B{};", u8::from(*b)),
            Value::Text(s) => write!(key, "T{}:{s};", s.len()),
        };
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stmt(sql: &str, binds: Vec<Value>) -> Statement {
        Statement {
            sql: sql.to_owned(),
            binds,
        }
    }

    fn rows(n: usize, width: usize) -> Rows {
        Rows {
            rows: (0..n).map(|i| format!("{i:0width$}")).collect(),
            keys: Vec::new(),
        }
    }

    #[test]
    fn a_statement_is_read_once_and_then_answered_from_memory() {
        let cache = ResultCache::new(1 << 20);
        let s = stmt(
            "SELECT r FROM t WHERE c = ?",
            vec![Value::Text("UA".into())],
        );
        let mut loads = 0;
        for _ in 0..3 {
            let got = cache
                .rows(&s, || {
                    loads += 1;
                    Ok::<_, ()>(rows(3, 4))
                })
                .unwrap();
            assert_eq!(got.rows, vec!["0000", "0001", "0002"]);
        }
        assert_eq!(loads, 1);
    }

    #[test]
    fn statements_differing_in_text_or_any_bound_value_do_not_share_an_entry() {
        let cache = ResultCache::new(1 << 20);
        const Q: &str = "SELECT a FROM t WHERE c = ?";
        let text = |s: &str| vec![Value::Text(s.into())];
        let cases = [
            stmt(Q, text("UA")),
            stmt("SELECT b FROM t WHERE c = ?", text("UA")),
            stmt(Q, text("AA")),
            stmt(Q, vec![Value::Int(1)]),
            stmt(Q, vec![Value::Real(1.0)]),
            stmt(Q, vec![Value::Bool(true)]),
            stmt(Q, vec![Value::Null]),
            // Text values that spell another value's encoding.
            stmt(Q, text("I1;")),
            stmt(Q, text("T2:UA;")),
        ];
        for (i, s) in cases.iter().enumerate() {
            let got = cache
                .rows(s, || {
                    Ok::<_, ()>(Rows {
                        rows: vec![i.to_string()],
                        keys: vec![],
                    })
                })
                .unwrap();
            assert_eq!(got.rows, vec![i.to_string()], "case {i} got another's rows");
        }
        for (i, s) in cases.iter().enumerate() {
            let got = cache.rows(s, || Err(())).unwrap();
            assert_eq!(got.rows, vec![i.to_string()]);
        }
    }

    #[test]
    fn the_least_recently_used_entries_leave_first_and_the_total_stays_within_capacity() {
        let cache = ResultCache::new(16 * 1024);
        let a = stmt("a", vec![]);
        let b = stmt("b", vec![]);
        let c = stmt("c", vec![]);
        // Each entry is about 3 KiB: two fit beside a third only by evicting.
        let load = || Ok::<_, ()>(rows(10, 300));
        cache.rows(&a, load).unwrap();
        cache.rows(&b, load).unwrap();
        cache.rows(&a, || Err(())).unwrap();
        for i in 0..3 {
            cache.rows(&stmt(&format!("x{i}"), vec![]), load).unwrap();
        }
        assert!(cache.bytes() <= 16 * 1024, "{} bytes", cache.bytes());
        // `b` was used least recently, so it went before `a`.
        assert!(cache.rows(&b, || Err(())).is_err());
        cache.rows(&c, load).unwrap();
        assert!(cache.bytes() <= 16 * 1024);
    }

    #[test]
    fn an_entry_over_a_quarter_of_the_capacity_is_not_kept() {
        let cache = ResultCache::new(8 * 1024);
        let s = stmt("big", vec![]);
        cache.rows(&s, || Ok::<_, ()>(rows(10, 300))).unwrap();
        assert_eq!(cache.bytes(), 0);
        assert!(cache.rows(&s, || Err(())).is_err());
    }

    #[test]
    fn capacity_zero_reads_every_time() {
        let cache = ResultCache::new(0);
        let s = stmt("SELECT count(*) FROM t", vec![]);
        let mut loads = 0;
        for _ in 0..2 {
            let n = cache
                .count(&s, || {
                    loads += 1;
                    Ok::<_, ()>(7)
                })
                .unwrap();
            assert_eq!(n, 7);
        }
        assert_eq!(loads, 2);
    }

    #[test]
    fn a_failed_read_is_not_kept() {
        let cache = ResultCache::new(1 << 20);
        let s = stmt("SELECT count(*) FROM t", vec![]);
        assert_eq!(cache.count(&s, || Err("gone")), Err("gone"));
        assert_eq!(cache.count(&s, || Ok::<_, &str>(5)), Ok(5));
        assert_eq!(cache.count(&s, || Err("not asked")), Ok(5));
    }
}
