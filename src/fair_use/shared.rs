//! Fair-use counters shared by every instance on one PostgreSQL database,
//! so a limit holds however many instances serve. A take and a charge are
//! each one upsert whose arithmetic runs in the server under the row's lock:
//! two instances racing for a caller's last token cannot both get it. The
//! bucket math is `MemoryStore`'s, operation for operation, so both stores
//! answer alike. `now` comes from the caller as for every store; the
//! server's clock is never read. Every call blocks: callers on the async
//! runtime run it on the blocking pool. It never holds a connection of the
//! main pool, since it is called while a request holds one.

use std::sync::atomic::{AtomicI64, Ordering};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Text};

use super::clock::day_of;
use super::store::{CounterStore, Usage, Verdict, verdict};
use crate::db::{AnyConnection, Db};
use crate::error::{Error, Result};

/// Connections of the counters' own pool (`Db::companion`), opened as
/// needed: each statement is one short upsert.
pub const POOL_SIZE: u32 = 4;

/// Seconds between an instance's sweeps of rows nobody needs any more.
const SWEEP_EVERY: f64 = 3600.0;

/// $1 key, $2 rate, $3 burst, $4 now. A new bucket starts full and gives
/// one token at once; else the bucket refills for the time since its last
/// take (none when the clock went back), up to the burst, and gives a token
/// when it holds one. `allowed` keeps the answer so RETURNING can say it.
const TAKE_SQL: &str = "\
INSERT INTO fair_use_buckets AS b (key, tokens, last_at, full_at, allowed)
VALUES ($1, $3 - 1, $4, $4 + 1 / $2, TRUE)
ON CONFLICT (key) DO UPDATE SET (tokens, last_at, full_at, allowed) = (
    SELECT s.tokens, s.last_at, s.last_at + ($3 - s.tokens) / $2, s.allowed
    FROM (SELECT CASE WHEN r.t >= 1 THEN r.t - 1 ELSE r.t END AS tokens,
                 r.at AS last_at,
                 r.t >= 1 AS allowed
          FROM (SELECT LEAST(b.tokens + GREATEST($4 - b.last_at, 0) * $2, $3) AS t,
                       GREATEST(b.last_at, $4) AS at) AS r) AS s)
RETURNING tokens, allowed";

/// $1 key, $2 day, $3 rows, $4 bytes; totals saturate as `MemoryStore`'s do.
const ADD_SQL: &str = "\
INSERT INTO fair_use_days AS d (key, day, rows_sent, bytes_sent)
VALUES ($1, $2, $3, $4)
ON CONFLICT (key, day) DO UPDATE SET
    rows_sent = LEAST(d.rows_sent::numeric + EXCLUDED.rows_sent, 9223372036854775807)::bigint,
    bytes_sent = LEAST(d.bytes_sent::numeric + EXCLUDED.bytes_sent, 9223372036854775807)::bigint
RETURNING rows_sent, bytes_sent";

const USED_SQL: &str =
    "SELECT rows_sent, bytes_sent FROM fair_use_days WHERE key = $1 AND day = $2";

/// Buckets full again by $1: a missing bucket starts full, so dropping
/// them loses nothing.
const SWEEP_BUCKETS_SQL: &str = "DELETE FROM fair_use_buckets WHERE full_at < $1";

/// Days before $1 (yesterday): no quota counts them any more.
const SWEEP_DAYS_SQL: &str = "DELETE FROM fair_use_days WHERE day < $1";

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Double)]
    tokens: f64,
    #[diesel(sql_type = Bool)]
    allowed: bool,
}

#[derive(QueryableByName)]
struct Sent {
    #[diesel(sql_type = BigInt)]
    rows_sent: i64,
    #[diesel(sql_type = BigInt)]
    bytes_sent: i64,
}

impl From<Sent> for Usage {
    fn from(s: Sent) -> Usage {
        Usage {
            rows: u64::try_from(s.rows_sent).unwrap_or(0),
            bytes: u64::try_from(s.bytes_sent).unwrap_or(0),
        }
    }
}

fn bound(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Counters in the `fair_use_buckets` and `fair_use_days` tables.
pub struct SharedStore {
    /// A pool of the counters' own (`Db::companion`).
    db: Db,
    /// The sweep period this instance last swept in.
    swept: AtomicI64,
}

impl SharedStore {
    /// Counters reached through `db`, a pool on a PostgreSQL database kept
    /// for them alone.
    pub fn new(db: Db) -> SharedStore {
        SharedStore {
            db,
            swept: AtomicI64::new(i64::MIN),
        }
    }

    fn with_pg<T>(&self, f: impl FnOnce(&mut PgConnection) -> QueryResult<T>) -> Result<T> {
        let mut conn = self.db.get()?;
        match &mut *conn {
            AnyConnection::Postgres(c) => Ok(f(c)?),
            AnyConnection::Sqlite(_) => Err(Error::internal(
                "counting fair use",
                "the shared counters need PostgreSQL",
            )),
        }
    }

    /// Once a period per instance, drops old rows on a task of its own, so
    /// no request waits for it and a failure only delays the cleaning.
    fn sweep_if_due(&self, now: f64) {
        let period = (now / SWEEP_EVERY).floor() as i64;
        let last = self.swept.load(Ordering::Relaxed);
        if period <= last
            || self
                .swept
                .compare_exchange(last, period, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let db = self.db.clone();
        let sweep = move || {
            if let Err(e) = sweep(&db, now) {
                tracing::warn!(error = %e, "dropping old fair-use counters failed; next period tries again");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(sweep)),
            Err(_) => sweep(),
        }
    }
}

/// Drops the buckets full again at `now` and the days before yesterday.
pub fn sweep(db: &Db, now: f64) -> Result<()> {
    let (today, _) = day_of(now);
    let mut conn = db.get()?;
    let AnyConnection::Postgres(c) = &mut *conn else {
        return Ok(());
    };
    diesel::sql_query(SWEEP_BUCKETS_SQL)
        .bind::<Double, _>(now)
        .execute(c)?;
    diesel::sql_query(SWEEP_DAYS_SQL)
        .bind::<BigInt, _>(today - 1)
        .execute(c)?;
    Ok(())
}

impl CounterStore for SharedStore {
    fn blocks(&self) -> bool {
        true
    }

    fn take(&self, key: &str, rate: f64, burst: u32, now: f64) -> Result<Verdict> {
        let burst = f64::from(burst.max(1));
        let taken: Taken = self.with_pg(|c| {
            diesel::sql_query(TAKE_SQL)
                .bind::<Text, _>(key)
                .bind::<Double, _>(rate)
                .bind::<Double, _>(burst)
                .bind::<Double, _>(now)
                .get_result(c)
        })?;
        self.sweep_if_due(now);
        Ok(verdict(taken.allowed, taken.tokens, rate, burst))
    }

    fn used(&self, key: &str, day: i64) -> Result<Usage> {
        let sent: Option<Sent> = self.with_pg(|c| {
            diesel::sql_query(USED_SQL)
                .bind::<Text, _>(key)
                .bind::<BigInt, _>(day)
                .get_result(c)
                .optional()
        })?;
        Ok(sent.map(Usage::from).unwrap_or_default())
    }

    fn add(&self, key: &str, day: i64, sent: Usage) -> Result<Usage> {
        let total: Sent = self.with_pg(|c| {
            diesel::sql_query(ADD_SQL)
                .bind::<Text, _>(key)
                .bind::<BigInt, _>(day)
                .bind::<BigInt, _>(bound(sent.rows))
                .bind::<BigInt, _>(bound(sent.bytes))
                .get_result(c)
        })?;
        // Where only quotas are set no take comes by to sweep; the day's
        // start is a `now` that the sweep may trust (nothing is younger).
        self.sweep_if_due(day as f64 * super::DAY_SECS as f64);
        Ok(total.into())
    }
}
