//! Fair use: a request rate with a burst per caller (subject, API key, or
//! client address for anonymous callers) and daily quotas of rows and bytes,
//! all set per role (see `limits`), plus the row quota a grant may carry.
//! Counters live behind `CounterStore`: in memory for one instance (SQLite),
//! in the shared database when several instances serve (PostgreSQL), so a
//! limit holds across them. The limits in force are swapped whole when an
//! admin or a reload changes them. A store that waits on the database is
//! never called on the async runtime's threads, and a counter that cannot
//! be read or written fails the request: nothing passes uncounted.

mod clock;
mod limits;
mod persist;
mod shared;
mod store;

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::Serialize;
use utoipa::ToSchema;

pub use clock::{Clock, DAY_SECS, day_end_text, day_of};
pub use limits::{
    ANONYMOUS, Applied, LimitSet, Limits, REGISTERED, RoleLimitSettings,
    from_settings as limits_from_settings,
};
pub use persist::{
    StoredLimits, check_reason, load_stored, load_versioned, reset_limits, set_limits,
    store_limits, stored_version,
};
pub use shared::{POOL_SIZE as SHARED_POOL_SIZE, SharedStore, sweep as sweep_shared};
pub use store::{CounterStore, MemoryStore, Usage, Verdict};

use crate::error::{Error, Kind, Result};

/// Where the limits in force come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "admin")]
pub enum Source {
    /// The configuration (file and `KAIFANG_*` variables).
    Config,
    /// Set by an administrator through the API; kept in the database.
    Admin,
}

/// The limits in force and where they come from.
#[derive(Debug, Clone)]
pub struct InForce {
    pub limits: Limits,
    pub source: Source,
    /// Whether a role other than `anonymous` and `registered` has an entry: only then
    /// are a caller's roles worth looking up.
    pub by_role: bool,
}

impl InForce {
    fn of(limits: &Limits, source: Source) -> InForce {
        InForce {
            by_role: limits
                .roles
                .keys()
                .any(|r| r != ANONYMOUS && r != REGISTERED),
            limits: limits.clone(),
            source,
        }
    }
}

/// The configuration's limits, and those an admin stored (which win when set).
struct Sources {
    config: Limits,
    admin: Option<Limits>,
    /// The stored version `admin` was read at (see `persist`): a read of an older
    /// version, finishing after a newer one, must not put older limits back.
    admin_version: i64,
}

/// The fair-use state of one instance.
pub struct FairUse {
    in_force: ArcSwap<InForce>,
    sources: std::sync::Mutex<Sources>,
    store: Arc<dyn CounterStore>,
    clock: Clock,
}

/// The rate part of an admission: the bucket's answer and what the
/// `RateLimit-Policy` header states.
#[derive(Debug, Clone, PartialEq)]
pub struct RateState {
    pub verdict: Verdict,
    /// The entry the rate comes from (`default` or a role).
    pub policy: String,
    /// Requests of a full burst.
    pub quota: u32,
    /// Seconds a full burst takes to refill.
    pub window: u64,
}

/// What the pipeline learns about a request before it runs.
pub struct Admission {
    pub meter: Meter,
    /// None when the caller's request rate is not limited.
    pub rate: Option<RateState>,
}

impl FairUse {
    /// Fair use under the configuration's limits, or `admin`'s when an admin set some
    /// (read at stored version `admin_version`).
    pub fn new(
        config: Limits,
        admin: Option<Limits>,
        admin_version: i64,
        store: Arc<dyn CounterStore>,
        clock: Clock,
    ) -> FairUse {
        let fair = FairUse {
            in_force: ArcSwap::from_pointee(InForce::of(&config, Source::Config)),
            sources: std::sync::Mutex::new(Sources {
                config,
                admin,
                admin_version,
            }),
            store,
            clock,
        };
        fair.settle(|_| {});
        fair
    }

    pub fn in_force(&self) -> Arc<InForce> {
        self.in_force.load_full()
    }

    /// Whether some role has limits of its own (see `InForce::by_role`).
    pub fn by_role(&self) -> bool {
        self.in_force.load().by_role
    }

    /// Changes the sources with `f` and puts the resulting limits in force from the next
    /// request on.
    fn settle(&self, f: impl FnOnce(&mut Sources)) {
        let mut sources = self.sources();
        f(&mut sources);
        let in_force = match &sources.admin {
            Some(admin) => InForce::of(admin, Source::Admin),
            None => InForce::of(&sources.config, Source::Config),
        };
        self.in_force.store(Arc::new(in_force));
    }

    fn sources(&self) -> std::sync::MutexGuard<'_, Sources> {
        match self.sources.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The configuration's limits changed (a reload); they apply unless an admin set some.
    pub fn set_config(&self, limits: Limits) {
        self.settle(|s| s.config = limits);
    }

    /// Limits an admin stored at `version` (`None`: back to the configuration's). Ignored
    /// when limits of a newer version are in force already; returns whether they apply.
    pub fn set_admin(&self, version: i64, limits: Option<Limits>) -> bool {
        if version < self.admin_version() {
            return false;
        }
        let mut applied = false;
        self.settle(|s| {
            if version >= s.admin_version {
                s.admin = limits;
                s.admin_version = version;
                applied = true;
            }
        });
        applied
    }

    /// The stored version of the admin's limits in force (0: none ever stored).
    pub fn admin_version(&self) -> i64 {
        self.sources().admin_version
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Takes one request from the caller's bucket. `key` names the caller
    /// (`user:alice`, `key:etl`, `ip:192.0.2.1`); `roles` is `None` for an
    /// anonymous caller. Fails when the counters cannot be reached.
    pub async fn admit(
        self: &Arc<Self>,
        key: String,
        roles: Option<&[String]>,
    ) -> Result<Admission> {
        let applied = self.in_force.load().limits.for_caller(roles);
        let limits = applied.limits;
        let policy = applied.policy;
        let rate = if limits.rate_limited() {
            let (rate, burst, now) = (limits.rate_per_second, limits.burst, self.clock.now());
            let verdict = if self.store.blocks() {
                let store = Arc::clone(&self.store);
                let key = key.clone();
                tokio::task::spawn_blocking(move || store.take(&key, rate, burst, now)).await??
            } else {
                self.store.take(&key, rate, burst, now)?
            };
            Some(RateState {
                verdict,
                policy: policy.clone(),
                quota: burst,
                window: (f64::from(burst) / rate).ceil().max(1.0) as u64,
            })
        } else {
            None
        };
        Ok(Admission {
            meter: Meter {
                fair: Arc::clone(self),
                key,
                limits,
                policy,
            },
            rate,
        })
    }

    /// Runs `f` where the store may be called: on the blocking pool when it
    /// waits on the database, else right here.
    pub async fn counting<T, F>(self: &Arc<Self>, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&FairUse) -> Result<T> + Send + 'static,
    {
        if self.store.blocks() {
            let fair = Arc::clone(self);
            tokio::task::spawn_blocking(move || f(&fair)).await?
        } else {
            f(self)
        }
    }
}

/// A grant's own daily row quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantQuota {
    pub grant_id: String,
    pub rows: u64,
}

impl GrantQuota {
    fn key(&self) -> String {
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
    fair: Arc<FairUse>,
    key: String,
    limits: LimitSet,
    policy: String,
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
