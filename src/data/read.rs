//! Running a plan for one page of rows, with its next cursor and optional
//! exact count; the streamed export is in `export`, beside it.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;

use super::cursor::CursorKey;
use super::format::Format;
use super::plan::{Plan, Statement, next_cursor};
use super::render;
use super::result_cache::{ResultCache, Rows};
use super::store::{pg_query, sqlite_query};
use crate::db::AnyConnection;
use crate::error::{Error, Result};

#[derive(QueryableByName)]
pub(super) struct RowOnly {
    #[diesel(sql_type = Text)]
    pub(super) r: String,
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
pub(super) fn sql_error(e: diesel::result::Error) -> Error {
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
pub(super) fn install_masks(conn: &mut AnyConnection, plan: &Plan) -> Result<()> {
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

pub use super::export::{Export, ExportStats, Left, SendLimit, start_export};
