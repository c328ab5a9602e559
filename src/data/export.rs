//! The streamed export of every row a plan selects: one database cursor
//! and a few 64 KiB chunks in memory whatever the dataset's size, stopped
//! by a quota when one runs out.

use bytes::{Bytes, BytesMut};
use diesel::connection::DefaultLoadingMode;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;

use super::format::Format;
use super::plan::Plan;
use super::read::{RowOnly, install_masks, sql_error};
use super::render;
use super::store::{pg_query, sqlite_query};
use crate::db::{AnyConnection, Db};
use crate::error::{Error, Result};

/// Chunk size of a streamed export.
const CHUNK: usize = 64 * 1024;

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
