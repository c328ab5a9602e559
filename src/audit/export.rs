//! Reading the log out: records as CSV or NDJSON, and a streamed export of
//! every record matching a filter that holds one page in memory at a time.

use bytes::Bytes;

use super::record::AuditRecord;
use super::store::{self, AuditFilter};
use crate::db::Db;
use crate::error::{Error, Result};

/// Records read per page of an export.
const PAGE: i64 = 1000;

/// How records are written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    Json,
    Csv,
    Ndjson,
}

const CSV_HEADER: [&str; 27] = [
    "id",
    "chain",
    "seq",
    "time",
    "kind",
    "request_id",
    "subject",
    "roles",
    "auth_method",
    "key_id",
    "client_addr",
    "method",
    "route",
    "path",
    "dataset",
    "action",
    "decision",
    "rule",
    "status",
    "rows",
    "bytes",
    "duration_us",
    "user_agent",
    "query",
    "complete",
    "prev_hash",
    "hash",
];

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_default()
}

/// Renders `records` (with their listing ids) as CSV (with a header when
/// `header`) or NDJSON.
pub fn render(
    records: &[(i64, AuditRecord)],
    format: AuditFormat,
    header: bool,
) -> Result<Vec<u8>> {
    match format {
        AuditFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let fail = |e: csv::Error| Error::internal("writing audit CSV", e);
            if header {
                w.write_record(CSV_HEADER).map_err(fail)?;
            }
            for (id, r) in records {
                w.write_record([
                    id.to_string(),
                    r.chain.clone(),
                    r.seq.to_string(),
                    r.time.clone(),
                    r.kind.clone(),
                    r.request_id.clone(),
                    r.subject.clone(),
                    r.roles.join(";"),
                    r.auth_method.clone(),
                    opt(&r.key_id),
                    opt(&r.client_addr),
                    r.method.clone(),
                    opt(&r.route),
                    r.path.clone(),
                    opt(&r.dataset),
                    opt(&r.action),
                    opt(&r.decision),
                    opt(&r.rule),
                    r.status.to_string(),
                    opt(&r.rows),
                    opt(&r.bytes),
                    r.duration_us.to_string(),
                    opt(&r.user_agent),
                    opt(&r.query),
                    opt(&r.complete),
                    r.prev_hash.clone(),
                    r.hash.clone(),
                ])
                .map_err(fail)?;
            }
            w.into_inner()
                .map_err(|e| Error::internal("writing audit CSV", e.to_string()))
        }
        AuditFormat::Ndjson | AuditFormat::Json => {
            let mut out = Vec::new();
            for (_, r) in records {
                serde_json::to_writer(&mut out, r)
                    .map_err(|e| Error::internal("writing audit JSON", e))?;
                out.push(b'\n');
            }
            Ok(out)
        }
    }
}

/// Streams every record matching `filter` in `format` (CSV or NDJSON).
pub fn stream(
    db: &Db,
    filter: AuditFilter,
    format: AuditFormat,
) -> tokio::sync::mpsc::Receiver<Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(4);
    let db = db.clone();
    tokio::task::spawn_blocking(move || {
        let run = || -> Result<()> {
            let mut conn = db.get()?;
            let mut after = 0;
            let mut first = true;
            loop {
                let page = store::list_records(&mut conn, &filter, after, PAGE)?;
                let Some((last, _)) = page.last() else {
                    if first && format == AuditFormat::Csv {
                        let head = render(&[], format, true)?;
                        let _ = tx.blocking_send(Ok(Bytes::from(head)));
                    }
                    return Ok(());
                };
                after = *last;
                let chunk = render(&page, format, first)?;
                first = false;
                if tx.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                    // The client went away.
                    return Ok(());
                }
            }
        };
        if let Err(e) = run() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}
