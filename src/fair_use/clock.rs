//! The time fair use counts by: the system clock, plus an offset that only
//! tests move, so a day boundary can be crossed without waiting a day.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds in a quota day (days are UTC).
pub const DAY_SECS: i64 = 86_400;

/// Wall-clock time in seconds since the Unix epoch, shared by clones.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Now, in seconds since the epoch (fractions included).
    pub fn now(&self) -> f64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        real + self.offset_ms.load(Ordering::Relaxed) as f64 / 1000.0
    }

    /// Moves this clock (and every clone) forward by `secs`; for tests.
    pub fn advance(&self, secs: f64) {
        self.offset_ms
            .fetch_add((secs * 1000.0) as i64, Ordering::Relaxed);
    }
}

/// The quota day (UTC) of a moment, and the seconds until the next one starts.
pub fn day_of(now: f64) -> (i64, u64) {
    let secs = now.floor() as i64;
    let day = secs.div_euclid(DAY_SECS);
    let left = (day + 1) * DAY_SECS - secs;
    (day, u64::try_from(left.max(1)).unwrap_or(1))
}

/// The RFC 3339 time at which `day` ends.
pub fn day_end_text(day: i64) -> String {
    chrono::DateTime::from_timestamp((day + 1) * DAY_SECS, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_and_reset_at_midnight() {
        // 2026-11-29T23:59:30Z
        let t = 1_795_996_770.0;
        let (day, left) = day_of(t);
        assert_eq!(left, 30);
        assert_eq!(day_end_text(day), "2026-11-30T00:00:00Z");
        assert_eq!(day_of(t + 30.0).0, day + 1);
    }

    #[test]
    fn advancing_moves_every_clone() {
        let a = Clock::system();
        let b = a.clone();
        let before = b.now();
        a.advance(86_400.0);
        assert!(b.now() - before >= 86_400.0);
    }
}
