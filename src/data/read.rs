//! Running a plan: a page of rows (with its next cursor and optional exact
//! count), or a streamed export that holds one database cursor and a few
//! 64 KiB chunks in memory whatever the dataset's size.

use bytes::{Bytes, BytesMut};
use diesel::connection::DefaultLoadingMode;
use diesel::pg::{Pg, PgRowByRowLoadingMode};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;

use super::cursor::CursorKey;
use super::plan::{Plan, Statement, next_cursor};
use super::render;
use super::request::Format;
use super::result_cache::{ResultCache, Rows};
use super::store::{pg_query, sqlite_query};
use crate::db::{AnyConnection, Db};
use crate::error::{Error, Result};

/// Chunk size of a streamed export.
const CHUNK: usize = 64 * 1024;

#[derive(QueryableByName)]
struct RowOnly {
    #[diesel(sql_type = Text)]
    r: String,
}

#[derive(QueryableByName)]
struct RowKey {
    #[diesel(sql_type = Text)]
    r: String,
    #[diesel(sql_type = Text)]
    k: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

const REPLACED: &str =
    "the dataset was replaced by a new version while it was being read; send the request again";

/// Whether `e` says the version read was replaced while it was being read,
/// so that the same request, resolved again, reads the new one.
pub fn was_replaced(e: &Error) -> bool {
    e.kind() == crate::error::Kind::Conflict && e.detail() == REPLACED
}

/// A table vanishes only when a newer version replaced it between planning
/// and reading; the caller should simply ask again.
/// SQLite's `sum` stops with "integer overflow" past 64 bits; that is the
/// caller's aggregate, not a fault of the server.
fn sql_error(e: diesel::result::Error) -> Error {
    let text = e.to_string();
    // SQLite says "no such table", PostgreSQL "relation … does not exist".
    if text.contains("no such table")
        || (text.contains("relation") && text.contains("does not exist"))
    {
        Error::conflict(REPLACED)
    } else if text.contains("integer overflow") {
        Error::bad_request(
            "a sum overflowed 64-bit integers; filter to fewer rows, group more finely, or use avg",
        )
    } else {
        Error::internal("reading rows", e)
    }
}

/// Puts the mask functions a plan's masked columns call on `conn`, once per
/// connection: registering a function makes SQLite expire every statement the
/// connection has prepared, so doing it per query re-prepared them all. A
/// pooled connection serves one database, whose mask key never changes.
fn install_masks(conn: &mut AnyConnection, plan: &Plan) -> Result<()> {
    use diesel::connection::SimpleConnection;
    let Some(key) = &plan.mask_key else {
        return Ok(());
    };
    // PostgreSQL's mask functions are made by a migration.
    let AnyConnection::Sqlite(conn) = conn else {
        return Ok(());
    };
    if conn.batch_execute("SELECT kf_hash(NULL)").is_ok() {
        return Ok(());
    }
    super::mask::install(conn, key)
}

/// One page, rendered in the plan's format.
#[derive(Debug, Clone)]
pub struct Page {
    pub body: String,
    pub rows: usize,
    pub next_cursor: Option<String>,
    pub total: Option<i64>,
}

/// Runs `stmt` and loads every row it returns, on either backend.
fn load<T>(conn: &mut AnyConnection, stmt: &Statement) -> Result<Vec<T>>
where
    T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    match conn {
        AnyConnection::Sqlite(c) => sqlite_query(&stmt.sql, &stmt.binds).load(c),
        AnyConnection::Postgres(c) => pg_query(&stmt.sql, &stmt.binds).load(c),
    }
    .map_err(sql_error)
}

fn count(conn: &mut AnyConnection, stmt: &Statement) -> Result<i64> {
    let c: Vec<Count> = load(conn, stmt)?;
    c.first()
        .map(|c| c.n)
        .ok_or_else(|| Error::internal("counting rows", "no row"))
}

/// Runs `plan` for one page. Blocking. With `max_bytes`, the page is cut to
/// the rows whose whole body (envelope, header and cursor included) fits in
/// that many bytes, and a cut keyed page carries the cursor of the next row,
/// as a page cut by its limit does (an aggregate page has no cursor, as when
/// its limit cuts it). `None` when not even one row fits, or, when nothing
/// matched, the empty page: then nothing may leave.
pub fn fetch_page(
    conn: &mut AnyConnection,
    plan: &Plan,
    key: &CursorKey,
    max_bytes: Option<u64>,
    cache: &ResultCache,
) -> Result<Option<Page>> {
    install_masks(conn, plan)?;
    let limit = plan.limit.map(|l| l as usize).unwrap_or(usize::MAX);
    let loaded = cache.rows(&plan.rows, || -> Result<Rows> {
        Ok(if plan.keyed {
            let rows: Vec<RowKey> = load(conn, &plan.rows)?;
            let (rows, keys) = rows.into_iter().map(|r| (r.r, r.k)).unzip();
            Rows { rows, keys }
        } else {
            let rows: Vec<RowOnly> = load(conn, &plan.rows)?;
            Rows {
                rows: rows.into_iter().map(|r| r.r).collect(),
                keys: Vec::new(),
            }
        })
    })?;
    let (rows, keys) = (&loaded.rows, &loaded.keys);
    let total = plan
        .count
        .as_ref()
        .map(|c| cache.count(c, || count(conn, c)))
        .transpose()?;
    let mut shown = rows.len().min(limit);
    let Some(max) = max_bytes.map(|m| usize::try_from(m).unwrap_or(usize::MAX)) else {
        return page_of(plan, key, rows, keys, shown, total).map(Some);
    };
    // Bytes the first n rows take in the body: JSON puts a comma between
    // rows, CSV and NDJSON a newline after each.
    let sep = usize::from(plan.format != Format::Json);
    let mut ends = Vec::with_capacity(shown + 1);
    ends.push(0usize);
    for (i, r) in rows.iter().take(shown).enumerate() {
        let comma = usize::from(plan.format == Format::Json && i > 0);
        ends.push(ends.last().copied().unwrap_or(0) + r.len() + sep + comma);
    }
    // The envelope around the rows depends on the cut (a cursor appears, its
    // key changes), so each try measures it and the next keeps the rows that
    // fit beside it; every try shows fewer rows, so this ends.
    loop {
        let page = page_of(plan, key, rows, keys, shown, total)?;
        if page.body.len() <= max {
            return Ok(Some(page));
        }
        if shown <= 1 {
            return Ok(None);
        }
        let rows_part = ends.get(shown).copied().unwrap_or(0);
        let room = max.saturating_sub(page.body.len().saturating_sub(rows_part));
        let fit = ends.partition_point(|&end| end <= room).saturating_sub(1);
        shown = fit.clamp(1, shown - 1);
    }
}

/// The page showing the first `shown` of `rows`, with the cursor of the next
/// row when more follow.
fn page_of(
    plan: &Plan,
    key: &CursorKey,
    rows: &[String],
    keys: &[String],
    shown: usize,
    total: Option<i64>,
) -> Result<Page> {
    let has_more = rows.len() > shown;
    let next = if has_more && plan.keyed {
        match keys.get(shown.saturating_sub(1)) {
            Some(k) => Some(next_cursor(key, plan, k)?),
            None => None,
        }
    } else {
        None
    };
    let rows = rows.get(..shown).unwrap_or(&[]);
    let body = match plan.format {
        Format::Json => {
            let mut body =
                String::with_capacity(rows.iter().map(|r| r.len() + 1).sum::<usize>() + 128);
            body.push_str("{\"data\":[");
            for (i, r) in rows.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(r);
            }
            body.push_str("],\"next_cursor\":");
            match &next {
                Some(c) => body.push_str(&serde_json::Value::String(c.clone()).to_string()),
                None => body.push_str("null"),
            }
            body.push_str(",\"total\":");
            match total {
                Some(t) => body.push_str(&t.to_string()),
                None => body.push_str("null"),
            }
            body.push('}');
            body
        }
        Format::Csv | Format::Ndjson => {
            let mut body = if plan.format == Format::Csv {
                render::csv_header(&plan.fields)
            } else {
                String::new()
            };
            for r in rows {
                body.push_str(r);
                body.push('\n');
            }
            body
        }
    };
    Ok(Page {
        body,
        rows: shown,
        next_cursor: next,
        total,
    })
}

/// What a finished export sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportStats {
    /// Rows in the chunks handed to the HTTP layer.
    pub rows: u64,
    pub bytes: u64,
    /// False when the client went away, reading failed or a quota ran out before the end.
    pub complete: bool,
    /// True when a quota ran out before the end.
    pub cut_by_quota: bool,
}

/// What may still be sent, as (rows, bytes); `None`: no limit.
pub type Left = (Option<u64>, Option<u64>);

/// How much an export may send, counted as it goes: a daily quota of rows and bytes.
pub trait SendLimit: Send + 'static {
    /// What may still be sent, as (rows, bytes); `None`: no limit. An error
    /// (the counters are unreachable) ends the export.
    fn remaining(&self) -> Result<Left>;
    /// Counts a chunk of `rows` and `bytes` handed on; returns what may still be sent.
    fn sent(&mut self, rows: u64, bytes: u64) -> Result<Left>;
    /// The error that ends an export stopped by the limit.
    fn exceeded(&self) -> Error;
}

/// A running export: chunks arrive on `chunks`; `done` reports the totals.
pub struct Export {
    pub chunks: tokio::sync::mpsc::Receiver<Result<Bytes>>,
    pub done: tokio::sync::oneshot::Receiver<ExportStats>,
}

/// Starts streaming every row of `plan` on a blocking thread, stopping before a row that
/// would pass `limit`: what was within it is sent, then the stream ends in an error (the
/// client sees a cut-off transfer, not a short file that looks whole).
pub fn start_export(db: &Db, plan: Plan, limit: Option<Box<dyn SendLimit>>) -> Export {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let mut stats = ExportStats::default();
        if let Err(e) = export_rows(&db, &plan, &tx, &mut stats, limit) {
            // The receiver may be gone already; then nobody is left to tell.
            let _ = tx.blocking_send(Err(e));
        }
        let _ = done_tx.send(stats);
    });
    Export {
        chunks: rx,
        done: done_rx,
    }
}

/// Hands `buf` on as one chunk; false when the receiver is gone.
fn hand_on(
    tx: &tokio::sync::mpsc::Sender<Result<Bytes>>,
    buf: &mut BytesMut,
    rows: &mut u64,
    stats: &mut ExportStats,
    limit: &mut Option<Box<dyn SendLimit>>,
) -> Result<(bool, Left)> {
    let chunk = buf.split().freeze();
    let len = chunk.len() as u64;
    if tx.blocking_send(Ok(chunk)).is_err() {
        return Ok((false, (None, None)));
    }
    stats.rows += *rows;
    stats.bytes += len;
    let sent = std::mem::take(rows);
    let left = match limit {
        Some(l) => l.sent(sent, len)?,
        None => (None, None),
    };
    Ok((true, left))
}

fn export_rows(
    db: &Db,
    plan: &Plan,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes>>,
    stats: &mut ExportStats,
    limit: Option<Box<dyn SendLimit>>,
) -> Result<()> {
    let mut conn = db.get()?;
    install_masks(&mut conn, plan)?;
    match &mut *conn {
        AnyConnection::Sqlite(c) => {
            let iter = sqlite_query(&plan.rows.sql, &plan.rows.binds)
                .load_iter::<RowOnly, DefaultLoadingMode>(c)
                .map_err(sql_error)?;
            stream_rows(iter, plan, tx, stats, limit)
        }
        AnyConnection::Postgres(c) => {
            // Row by row: the default mode would hold the whole result in
            // memory before the first row is sent.
            let iter = pg_query(&plan.rows.sql, &plan.rows.binds)
                .load_iter::<RowOnly, PgRowByRowLoadingMode>(c)
                .map_err(sql_error)?;
            stream_rows(iter, plan, tx, stats, limit)
        }
    }
}

fn stream_rows(
    iter: impl Iterator<Item = diesel::QueryResult<RowOnly>>,
    plan: &Plan,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes>>,
    stats: &mut ExportStats,
    mut limit: Option<Box<dyn SendLimit>>,
) -> Result<()> {
    let mut buf = BytesMut::with_capacity(CHUNK * 2);
    match plan.format {
        Format::Csv => buf.extend_from_slice(render::csv_header(&plan.fields).as_bytes()),
        Format::Json => buf.extend_from_slice(b"["),
        Format::Ndjson => {}
    }
    let (mut rows_left, mut bytes_left) = match &limit {
        Some(l) => l.remaining()?,
        None => (None, None),
    };
    // Rows in `buf`, not yet handed on.
    let mut pending = 0u64;
    for (written, row) in iter.enumerate() {
        let row = row.map_err(sql_error)?;
        let len = row.r.len() as u64 + 1;
        if rows_left.is_some_and(|r| pending >= r)
            || bytes_left.is_some_and(|b| buf.len() as u64 + len > b)
        {
            stats.cut_by_quota = true;
            break;
        }
        if plan.format == Format::Json && written > 0 {
            buf.extend_from_slice(b",");
        }
        buf.extend_from_slice(row.r.as_bytes());
        if plan.format != Format::Json {
            buf.extend_from_slice(b"\n");
        }
        pending += 1;
        if buf.len() >= CHUNK {
            let (open, left) = hand_on(tx, &mut buf, &mut pending, stats, &mut limit)?;
            if !open {
                return Ok(());
            }
            (rows_left, bytes_left) = left;
        }
    }
    if plan.format == Format::Json && !stats.cut_by_quota {
        buf.extend_from_slice(b"]");
    }
    if !buf.is_empty() {
        let (open, _) = hand_on(tx, &mut buf, &mut pending, stats, &mut limit)?;
        if !open {
            return Ok(());
        }
    }
    if stats.cut_by_quota {
        if let Some(l) = &limit {
            let _ = tx.blocking_send(Err(l.exceeded()));
        }
        return Ok(());
    }
    stats.complete = true;
    Ok(())
}
