//! Where fair-use counters live, behind `CounterStore`: a token bucket per
//! caller and the rows and bytes each caller (and each grant) used per day.
//! `MemoryStore` is the one-instance store: shards keep requests of
//! different callers from waiting on one lock, and nothing touches the
//! database on the hot path. `SharedStore` (in `shared`) implements the
//! same trait in PostgreSQL for several instances.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, MutexGuard};

use crate::error::Result;

/// The answer of a token bucket for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    /// Requests left in the burst after this one.
    pub remaining: u32,
    /// Seconds until a request would be allowed again (when refused), or
    /// until the bucket is full again (when allowed).
    pub reset_secs: u64,
}

/// Rows and bytes sent on one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub rows: u64,
    pub bytes: u64,
}

/// Fair-use counters. Times are seconds since the epoch (`Clock::now`), days
/// are UTC day numbers (`clock::day_of`); a store never reads a clock itself.
/// An error means the counters could not be read or written: the request
/// fails with it rather than pass uncounted.
pub trait CounterStore: Send + Sync {
    /// Whether calls wait on I/O (a database). Callers on the async runtime
    /// then make them on the blocking pool; a store in memory is called in
    /// place.
    fn blocks(&self) -> bool {
        false
    }
    /// Takes one request from `key`'s bucket, refilled at `rate` a second up
    /// to `burst`.
    fn take(&self, key: &str, rate: f64, burst: u32, now: f64) -> Result<Verdict>;
    /// What `key` used on `day`.
    fn used(&self, key: &str, day: i64) -> Result<Usage>;
    /// Adds `sent` to what `key` used on `day`; returns the new total.
    fn add(&self, key: &str, day: i64, sent: Usage) -> Result<Usage>;
}

/// The answer for a bucket holding `tokens` after a take that was `allowed`
/// or not; one formula for every store, so they answer alike.
pub(super) fn verdict(allowed: bool, tokens: f64, rate: f64, burst: f64) -> Verdict {
    if allowed {
        Verdict {
            allowed: true,
            remaining: tokens as u32,
            reset_secs: ((burst - tokens) / rate).ceil() as u64,
        }
    } else {
        Verdict {
            allowed: false,
            remaining: 0,
            reset_secs: ((1.0 - tokens) / rate).ceil().max(1.0) as u64,
        }
    }
}

const SHARDS: usize = 16;
/// Keys remembered per shard before forgettable ones are dropped.
const MAX_PER_SHARD: usize = 20_000;

struct Bucket {
    tokens: f64,
    last: f64,
    /// Seconds after `last` at which the bucket is full again.
    full_after: f64,
}

struct DayUse {
    day: i64,
    usage: Usage,
}

/// Counters in this process's memory.
pub struct MemoryStore {
    buckets: Vec<Mutex<HashMap<String, Bucket>>>,
    days: Vec<Mutex<HashMap<String, DayUse>>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            buckets: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            days: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

fn shard_of(key: &str) -> usize {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() as usize) % SHARDS
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn day_shard(&self, key: &str) -> Option<MutexGuard<'_, HashMap<String, DayUse>>> {
        self.days.get(shard_of(key)).map(lock)
    }
}

impl CounterStore for MemoryStore {
    fn take(&self, key: &str, rate: f64, burst: u32, now: f64) -> Result<Verdict> {
        let burst = f64::from(burst.max(1));
        let Some(shard) = self.buckets.get(shard_of(key)) else {
            return Ok(Verdict {
                allowed: true,
                remaining: 0,
                reset_secs: 0,
            });
        };
        let mut map = lock(shard);
        if map.len() >= MAX_PER_SHARD && !map.contains_key(key) {
            // Forget callers whose bucket has refilled: they lose nothing.
            map.retain(|_, b| now - b.last < b.full_after);
        }
        let bucket = map.entry(key.to_string()).or_insert(Bucket {
            tokens: burst,
            last: now,
            full_after: 0.0,
        });
        // A clock stepped backwards refills nothing, and takes nothing either.
        let elapsed = (now - bucket.last).max(0.0);
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.last = bucket.last.max(now);
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        bucket.full_after = (burst - bucket.tokens) / rate;
        Ok(verdict(allowed, bucket.tokens, rate, burst))
    }

    fn used(&self, key: &str, day: i64) -> Result<Usage> {
        Ok(self
            .day_shard(key)
            .and_then(|map| map.get(key).filter(|u| u.day == day).map(|u| u.usage))
            .unwrap_or_default())
    }

    fn add(&self, key: &str, day: i64, sent: Usage) -> Result<Usage> {
        let Some(mut map) = self.day_shard(key) else {
            return Ok(sent);
        };
        if map.len() >= MAX_PER_SHARD && !map.contains_key(key) {
            // Yesterday's use counts for nothing any more.
            map.retain(|_, u| u.day >= day);
        }
        let entry = map.entry(key.to_string()).or_insert(DayUse {
            day,
            usage: Usage::default(),
        });
        if entry.day != day {
            entry.day = day;
            entry.usage = Usage::default();
        }
        entry.usage.rows = entry.usage.rows.saturating_add(sent.rows);
        entry.usage.bytes = entry.usage.bytes.saturating_add(sent.bytes);
        Ok(entry.usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let store = MemoryStore::new();
        let t0 = 1000.0;
        for left in [2, 1, 0] {
            let v = store.take("a", 2.0, 3, t0).unwrap();
            assert!(v.allowed);
            assert_eq!(v.remaining, left);
        }
        let refused = store.take("a", 2.0, 3, t0).unwrap();
        assert!(!refused.allowed);
        assert_eq!(refused.reset_secs, 1);
        // Another caller has a bucket of its own.
        assert!(store.take("b", 2.0, 3, t0).unwrap().allowed);
        // Half a second refills one token at 2/s.
        assert!(store.take("a", 2.0, 3, t0 + 0.5).unwrap().allowed);
        assert!(!store.take("a", 2.0, 3, t0 + 0.5).unwrap().allowed);
    }

    #[test]
    fn use_is_counted_per_day() {
        let store = MemoryStore::new();
        let sent = Usage {
            rows: 10,
            bytes: 100,
        };
        assert_eq!(store.add("k", 5, sent).unwrap(), sent);
        assert_eq!(store.add("k", 5, sent).unwrap().rows, 20);
        assert_eq!(store.used("k", 5).unwrap().bytes, 200);
        // The next day starts from nothing.
        assert_eq!(store.used("k", 6).unwrap(), Usage::default());
        assert_eq!(store.add("k", 6, sent).unwrap(), sent);
        assert_eq!(store.used("other", 6).unwrap(), Usage::default());
    }
}
