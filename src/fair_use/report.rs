//! What `GET /v1/me/usage` answers: a caller's use today, its limits and
//! what is left, and its grants' use.

use serde::Serialize;
use utoipa::ToSchema;

use super::clock::{DAY_SECS, day_end_text, day_of};
use super::{FairUse, GrantQuota, LimitSet, Meter};
use crate::error::Result;

/// One grant's use today.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantUsage {
    /// The grant.
    #[schema(example = "3c2b1a0f9e8d7c6b")]
    pub grant_id: String,
    /// Its dataset.
    #[schema(example = "us-census-acs-2012-sample")]
    pub dataset: String,
    /// Most rows a day under this grant.
    #[schema(example = 5000)]
    pub row_quota: u64,
    /// Rows sent under it today.
    #[schema(example = 1200)]
    pub rows: u64,
    /// Rows it may still give today.
    #[schema(example = 3800)]
    pub rows_remaining: u64,
}

/// A caller's use today and its limits.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageReport {
    /// Whom the counters are kept for: the subject, or `ip:<address>` for anonymous callers.
    #[schema(example = "user:alice")]
    pub counted_as: String,
    /// The limit entry the request rate comes from: `default` or a role.
    #[schema(example = "researcher")]
    pub policy: String,
    /// The limits that apply to the caller (the most generous of its roles').
    #[schema(example = json!({"rate_per_second": 50.0, "burst": 200, "daily_rows": 1000000, "daily_bytes": 1000000000u64}))]
    pub limits: LimitSet,
    /// The UTC day counted.
    #[schema(example = "2026-11-29")]
    pub day: String,
    /// When the daily counters start again from zero (RFC 3339).
    #[schema(example = "2026-11-30T00:00:00Z")]
    pub resets_at: String,
    /// Rows of data sent today.
    #[schema(example = 1200)]
    pub rows: u64,
    /// Bytes of data sent today.
    #[schema(example = 84000)]
    pub bytes: u64,
    /// Rows that may still be sent today; null when there is no row quota.
    #[schema(example = 998800)]
    pub rows_remaining: Option<u64>,
    /// Bytes that may still be sent today; null when there is no byte quota.
    #[schema(example = 999916000)]
    pub bytes_remaining: Option<u64>,
    /// The caller's grants in force that carry a row quota.
    #[schema(example = json!([{"grant_id": "3c2b1a0f9e8d7c6b", "dataset": "us-census-acs-2012-sample", "row_quota": 5000, "rows": 1200, "rows_remaining": 3800}]))]
    pub grants: Vec<GrantUsage>,
}

impl FairUse {
    /// The use and limits of the caller behind `meter`; `grants` lists (grant id, dataset,
    /// row quota) of the caller's grants in force that have a quota. Call it through
    /// `counting` (it may wait on the database).
    pub fn report(&self, meter: &Meter, grants: Vec<(String, String, u64)>) -> Result<UsageReport> {
        let (day, _) = day_of(self.clock.now());
        let used = self.store.used(&meter.key, day)?;
        let limits = meter.limits.clone();
        let mut grant_use = Vec::with_capacity(grants.len());
        for (grant_id, dataset, row_quota) in grants {
            let key = GrantQuota {
                grant_id: grant_id.clone(),
                rows: row_quota,
            }
            .key();
            let rows = self.store.used(&key, day)?.rows;
            grant_use.push(GrantUsage {
                grant_id,
                dataset,
                row_quota,
                rows,
                rows_remaining: row_quota.saturating_sub(rows),
            });
        }
        Ok(UsageReport {
            counted_as: meter.key.clone(),
            policy: meter.policy.clone(),
            day: chrono::DateTime::from_timestamp(day * DAY_SECS, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            resets_at: day_end_text(day),
            rows: used.rows,
            bytes: used.bytes,
            rows_remaining: limits.daily_rows.map(|q| q.saturating_sub(used.rows)),
            bytes_remaining: limits.daily_bytes.map(|q| q.saturating_sub(used.bytes)),
            limits,
            grants: grant_use,
        })
    }
}
