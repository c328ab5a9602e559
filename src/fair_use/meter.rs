//! One caller's fair use in one request: its meter (limits and counters),
//! the budget a data request may send under its daily quotas and its
//! grant's, charged as it sends, and the 429s a used-up quota answers.
//! Every call that reads or writes counters may wait on the database: call
//! it off the async runtime.

use std::sync::Arc;

use super::clock::{day_end_text, day_of};
use super::store::Usage;
use super::{FairUse, LimitSet};
use crate::error::{Error, Kind, Result};

/// A grant's own daily row quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantQuota {
    pub grant_id: String,
    pub rows: u64,
}

impl GrantQuota {
    pub(super) fn key(&self) -> String {
        format!("grant:{}", self.grant_id)
    }
}

/// What may still be sent today; `None`: no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allowance {
    pub rows: Option<u64>,
    pub bytes: Option<u64>,
}

fn least(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// 429 for a used-up quota, saying when it resets; `Retry-After` carries the seconds.
fn exhausted(what: String, day: i64, reset_secs: u64) -> Error {
    refused(
        format!("{what} is used up for today (UTC)"),
        day,
        reset_secs,
    )
}

/// 429 for `why`, a quota running out; says when it resets, with `Retry-After`.
fn refused(why: String, day: i64, reset_secs: u64) -> Error {
    Error::new(
        Kind::TooManyRequests,
        format!(
            "{why}; it resets at {} (in {reset_secs} s). \
             GET /v1/me/usage shows your use and limits",
            day_end_text(day)
        ),
    )
    .with_retry_after(reset_secs)
}

/// One caller's fair-use handle for one request: its limits and counters.
#[derive(Clone)]
pub struct Meter {
    pub(super) fair: Arc<FairUse>,
    pub(super) key: String,
    pub(super) limits: LimitSet,
    pub(super) policy: String,
}

impl Meter {
    /// The caller's name in the counters.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn limits(&self) -> &LimitSet {
        &self.limits
    }

    /// Before data is sent: 429 when a daily quota of the caller (or of `grant`) is used
    /// up, else a budget holding what may still be sent today. Call it off the async
    /// runtime (it may wait on the database).
    pub fn budget(&self, grant: Option<GrantQuota>) -> Result<Budget> {
        let store = &self.fair.store;
        let (day, reset) = day_of(self.fair.clock.now());
        // A shared store costs a query: read only when a quota needs it.
        let used = if self.limits.daily_rows.is_some() || self.limits.daily_bytes.is_some() {
            store.used(&self.key, day)?
        } else {
            Usage::default()
        };
        if let Some(q) = self.limits.daily_rows
            && used.rows >= q
        {
            return Err(exhausted(
                format!("your daily quota of {q} rows"),
                day,
                reset,
            ));
        }
        if let Some(q) = self.limits.daily_bytes
            && used.bytes >= q
        {
            return Err(exhausted(
                format!("your daily quota of {q} bytes"),
                day,
                reset,
            ));
        }
        if let Some(g) = &grant
            && store.used(&g.key(), day)?.rows >= g.rows
        {
            return Err(exhausted(
                format!("the daily quota of {} rows of grant {}", g.rows, g.grant_id),
                day,
                reset,
            ));
        }
        Ok(Budget {
            meter: self.clone(),
            grant,
        })
    }
}

/// What one request may still send, charged as it sends.
#[derive(Clone)]
pub struct Budget {
    meter: Meter,
    grant: Option<GrantQuota>,
}

impl Budget {
    /// Whether any quota bounds this request.
    pub fn limited(&self) -> bool {
        let l = &self.meter.limits;
        l.daily_rows.is_some() || l.daily_bytes.is_some() || self.grant.is_some()
    }

    /// The error that ends a transfer cut off at a quota.
    pub fn exceeded(&self) -> Error {
        let (day, reset) = day_of(self.meter.fair.clock.now());
        exhausted("a daily quota of yours".to_string(), day, reset)
    }

    /// The error for a page of which not even one row fits in the `left` bytes of the
    /// caller's byte quota: sending it would pass the quota.
    pub fn too_few_bytes(&self, left: u64) -> Error {
        let (day, reset) = day_of(self.meter.fair.clock.now());
        let quota = self.meter.limits.daily_bytes.unwrap_or(0);
        refused(
            format!(
                "only {left} bytes of your daily quota of {quota} bytes are left today (UTC), \
                 fewer than this page needs for one row"
            ),
            day,
            reset,
        )
    }

    /// What may still be sent today, as of now.
    pub fn remaining(&self) -> Result<Allowance> {
        let fair = &self.meter.fair;
        let (day, _) = day_of(fair.clock.now());
        let used = fair.store.used(&self.meter.key, day)?;
        let limits = &self.meter.limits;
        let mut rows = limits.daily_rows.map(|q| q.saturating_sub(used.rows));
        let bytes = limits.daily_bytes.map(|q| q.saturating_sub(used.bytes));
        if let Some(g) = &self.grant {
            let granted = fair.store.used(&g.key(), day)?.rows;
            rows = least(rows, Some(g.rows.saturating_sub(granted)));
        }
        Ok(Allowance { rows, bytes })
    }

    /// Counts `rows` and `bytes` that left, against the caller and the grant.
    pub fn charge(&self, rows: u64, bytes: u64) -> Result<()> {
        if rows == 0 && bytes == 0 {
            return Ok(());
        }
        let fair = &self.meter.fair;
        let (day, _) = day_of(fair.clock.now());
        fair.store
            .add(&self.meter.key, day, Usage { rows, bytes })?;
        if let Some(g) = &self.grant {
            fair.store.add(&g.key(), day, Usage { rows, bytes })?;
        }
        Ok(())
    }
}
