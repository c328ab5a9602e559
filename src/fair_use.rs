//! Fair use: a token bucket per caller (subject, or client address for
//! anonymous callers), refilled at `rate` requests a second up to `burst`.
//! In memory, for one instance; shards keep requests of different callers
//! from waiting on one lock.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::Instant;

const SHARDS: usize = 16;
/// Callers remembered per shard before idle ones are forgotten.
const MAX_PER_SHARD: usize = 20_000;

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    /// Requests left in the burst after this one.
    pub remaining: u32,
    /// Seconds until a request would be allowed again (0 when allowed),
    /// or until the bucket is full again (when allowed).
    pub reset_secs: u64,
}

/// Per-caller token buckets.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    shards: Vec<Mutex<HashMap<String, Bucket>>>,
}

impl RateLimiter {
    /// `rate` requests a second with bursts of `burst`.
    pub fn new(rate: f64, burst: u32) -> RateLimiter {
        RateLimiter {
            rate,
            burst: f64::from(burst.max(1)),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn burst(&self) -> u32 {
        // The burst came from a u32.
        self.burst as u32
    }

    /// Takes one token for `caller` at `now`.
    pub fn check(&self, caller: &str, now: Instant) -> Verdict {
        let mut h = DefaultHasher::new();
        caller.hash(&mut h);
        let shard = &self.shards[(h.finish() as usize) % SHARDS];
        let mut map = match shard.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= MAX_PER_SHARD && !map.contains_key(caller) {
            // Forget callers whose bucket has refilled: they lose nothing.
            let full_after = self.burst / self.rate;
            map.retain(|_, b| now.duration_since(b.last).as_secs_f64() < full_after);
        }
        let bucket = map.entry(caller.to_string()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Verdict {
                allowed: true,
                remaining: bucket.tokens as u32,
                reset_secs: ((self.burst - bucket.tokens) / self.rate).ceil() as u64,
            }
        } else {
            Verdict {
                allowed: false,
                remaining: 0,
                reset_secs: ((1.0 - bucket.tokens) / self.rate).ceil().max(1.0) as u64,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_rate() {
        let limiter = RateLimiter::new(2.0, 3);
        let t0 = Instant::now();
        for left in [2, 1, 0] {
            let v = limiter.check("a", t0);
            assert!(v.allowed);
            assert_eq!(v.remaining, left);
        }
        let refused = limiter.check("a", t0);
        assert!(!refused.allowed);
        assert_eq!(refused.reset_secs, 1);
        // Another caller has a bucket of its own.
        assert!(limiter.check("b", t0).allowed);
        // Half a second refills one token at 2/s.
        assert!(limiter.check("a", t0 + Duration::from_millis(500)).allowed);
        assert!(!limiter.check("a", t0 + Duration::from_millis(500)).allowed);
    }
}
