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
mod meter;
mod persist;
mod report;
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
pub use meter::{Allowance, Budget, GrantQuota, Meter};
pub use persist::{
    StoredLimits, check_reason, load_stored, load_versioned, reset_limits, set_limits,
    store_limits, stored_version,
};
pub use report::{GrantUsage, UsageReport};
pub use shared::{POOL_SIZE as SHARED_POOL_SIZE, SharedStore, sweep as sweep_shared};
pub use store::{CounterStore, MemoryStore, Usage, Verdict};

use crate::error::Result;

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
