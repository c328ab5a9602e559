//! The audit tables: appending sealed records and checkpoints, finding a
//! chain's head, reading a chain back in order for verification, and the
//! filtered listing of the query API. Nothing here updates or deletes.

use diesel::prelude::*;

use super::checkpoint::Checkpoint;
use super::record::AuditRecord;
use crate::db::AnyConnection;
use crate::db::schema::{audit_checkpoints, audit_records};
use crate::error::{Error, Result};

/// A record as stored, read back and inserted. On insert a missing value is
/// bound as NULL rather than left to the column's default (no column has
/// one): the statement's text is then the same for every record, and diesel
/// finds it prepared by its type instead of writing its SQL again for each
/// insert to look it up. The text is moved out of the sealed record, not
/// copied.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = audit_records, treat_none_as_default_value = false)]
struct Row {
    chain: String,
    seq: i64,
    time: String,
    kind: String,
    request_id: String,
    subject: String,
    roles: String,
    auth_method: String,
    key_id: Option<String>,
    client_addr: Option<String>,
    method: String,
    route: Option<String>,
    path: String,
    dataset: Option<String>,
    action: Option<String>,
    decision: Option<String>,
    rule: Option<String>,
    status: i32,
    rows: Option<i64>,
    bytes: Option<i64>,
    duration_us: i64,
    user_agent: Option<String>,
    query: Option<String>,
    complete: Option<bool>,
    prev_hash: String,
    hash: String,
}

macro_rules! record_columns {
    () => {
        (
            audit_records::chain,
            audit_records::seq,
            audit_records::time,
            audit_records::kind,
            audit_records::request_id,
            audit_records::subject,
            audit_records::roles,
            audit_records::auth_method,
            audit_records::key_id,
            audit_records::client_addr,
            audit_records::method,
            audit_records::route,
            audit_records::path,
            audit_records::dataset,
            audit_records::action,
            audit_records::decision,
            audit_records::rule,
            audit_records::status,
            audit_records::rows,
            audit_records::bytes,
            audit_records::duration_us,
            audit_records::user_agent,
            audit_records::query,
            audit_records::complete,
            audit_records::prev_hash,
            audit_records::hash,
        )
    };
}

impl Row {
    fn into_record(self) -> AuditRecord {
        AuditRecord {
            chain: self.chain,
            seq: self.seq,
            time: self.time,
            kind: self.kind,
            request_id: self.request_id,
            subject: self.subject,
            // A roles field that no longer parses is itself tampering; the
            // record keeps the raw text so its hash check fails visibly.
            roles: serde_json::from_str(&self.roles).unwrap_or_else(|_| vec![self.roles.clone()]),
            auth_method: self.auth_method,
            key_id: self.key_id,
            client_addr: self.client_addr,
            method: self.method,
            route: self.route,
            path: self.path,
            dataset: self.dataset,
            action: self.action,
            decision: self.decision,
            rule: self.rule,
            status: self.status,
            rows: self.rows,
            bytes: self.bytes,
            duration_us: self.duration_us,
            user_agent: self.user_agent,
            query: self.query,
            complete: self.complete,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

impl From<AuditRecord> for Row {
    fn from(r: AuditRecord) -> Row {
        Row {
            roles: serde_json::to_string(&r.roles).unwrap_or_else(|_| "[]".to_string()),
            chain: r.chain,
            seq: r.seq,
            time: r.time,
            kind: r.kind,
            request_id: r.request_id,
            subject: r.subject,
            auth_method: r.auth_method,
            key_id: r.key_id,
            client_addr: r.client_addr,
            method: r.method,
            route: r.route,
            path: r.path,
            dataset: r.dataset,
            action: r.action,
            decision: r.decision,
            rule: r.rule,
            status: r.status,
            rows: r.rows,
            bytes: r.bytes,
            duration_us: r.duration_us,
            user_agent: r.user_agent,
            query: r.query,
            complete: r.complete,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// The next `N` rows; the caller has counted that many left.
fn run_of<const N: usize>(rows: &mut impl Iterator<Item = Row>) -> Result<[Row; N]> {
    rows.take(N)
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| Error::internal("batching audit records", "fewer rows left than counted"))
}

/// Appends sealed records; the caller holds the transaction.
pub fn insert_records(conn: &mut AnyConnection, records: Vec<AuditRecord>) -> Result<()> {
    // Several rows a statement, in runs of fixed sizes: each size is one
    // statement text, prepared once and reused (a statement for any other
    // count would be parsed anew every time), and a batch of n records
    // takes a few statements instead of n. The rows own their values: a
    // run's prepared statement is found by its type, which must not borrow.
    // On the backend's own connection: through the multi-backend connection
    // each insert rebuilt its SQL text to find the cached statement.
    let mut rows = records.into_iter().map(Row::from);
    macro_rules! insert_run {
        ($n:literal) => {{
            let run: [Row; $n] = run_of(&mut rows)?;
            let insert = diesel::insert_into(audit_records::table).values(run);
            match conn {
                AnyConnection::Sqlite(c) => insert.execute(c)?,
                AnyConnection::Postgres(c) => insert.execute(c)?,
            };
        }};
    }
    loop {
        match rows.len() {
            0 => return Ok(()),
            64.. => insert_run!(64),
            16.. => insert_run!(16),
            4.. => insert_run!(4),
            _ => insert_run!(1),
        }
    }
}

/// The last record of `chain`: (seq, hash), or `None` for a new chain.
pub fn chain_head(conn: &mut AnyConnection, chain: &str) -> Result<Option<(i64, String)>> {
    Ok(audit_records::table
        .filter(audit_records::chain.eq(chain))
        .order(audit_records::seq.desc())
        .select((audit_records::seq, audit_records::hash))
        .first(conn)
        .optional()?)
}

/// Every chain in the log.
pub fn chains(conn: &mut AnyConnection) -> Result<Vec<String>> {
    let mut from_records: Vec<String> = audit_records::table
        .select(audit_records::chain)
        .distinct()
        .load(conn)?;
    let from_checkpoints: Vec<String> = audit_checkpoints::table
        .select(audit_checkpoints::chain)
        .distinct()
        .load(conn)?;
    for c in from_checkpoints {
        if !from_records.contains(&c) {
            from_records.push(c);
        }
    }
    from_records.sort();
    Ok(from_records)
}

/// Records of `chain` with seq > `after`, in order, at most `limit`.
pub fn chain_records(
    conn: &mut AnyConnection,
    chain: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditRecord>> {
    let rows: Vec<Row> = audit_records::table
        .filter(audit_records::chain.eq(chain))
        .filter(audit_records::seq.gt(after))
        .order(audit_records::seq.asc())
        .limit(limit)
        .select(record_columns!())
        .load(conn)?;
    Ok(rows.into_iter().map(Row::into_record).collect())
}

pub fn insert_checkpoint(conn: &mut AnyConnection, cp: &Checkpoint) -> Result<()> {
    diesel::insert_into(audit_checkpoints::table)
        .values((
            audit_checkpoints::chain.eq(&cp.chain),
            audit_checkpoints::seq.eq(cp.seq),
            audit_checkpoints::head_hash.eq(&cp.head_hash),
            audit_checkpoints::count.eq(cp.count),
            audit_checkpoints::time.eq(&cp.time),
            audit_checkpoints::prev_signature.eq(&cp.prev_signature),
            audit_checkpoints::signature.eq(&cp.signature),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn checkpoints(conn: &mut AnyConnection, chain: &str) -> Result<Vec<Checkpoint>> {
    let rows: Vec<(String, i64, String, i64, String, String, String)> = audit_checkpoints::table
        .filter(audit_checkpoints::chain.eq(chain))
        .order(audit_checkpoints::seq.asc())
        .select((
            audit_checkpoints::chain,
            audit_checkpoints::seq,
            audit_checkpoints::head_hash,
            audit_checkpoints::count,
            audit_checkpoints::time,
            audit_checkpoints::prev_signature,
            audit_checkpoints::signature,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(chain, seq, head_hash, count, time, prev_signature, signature)| Checkpoint {
                chain,
                seq,
                head_hash,
                count,
                time,
                prev_signature,
                signature,
            },
        )
        .collect())
}

/// Filters of the audit listing; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub subject: Option<String>,
    pub dataset: Option<String>,
    pub action: Option<String>,
    pub decision: Option<String>,
    pub status: Option<i32>,
    /// Only records of these datasets (a publisher's view); `None` = all.
    pub datasets_in: Option<Vec<String>>,
}

/// A page of records matching `filter` with id > `after`, oldest first.
/// Returns the records with their ids (the cursor of the listing).
pub fn list_records(
    conn: &mut AnyConnection,
    filter: &AuditFilter,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, AuditRecord)>> {
    let mut q = audit_records::table
        .filter(audit_records::id.gt(after))
        .into_boxed();
    if let Some(v) = &filter.from {
        q = q.filter(audit_records::time.ge(v.clone()));
    }
    if let Some(v) = &filter.to {
        q = q.filter(audit_records::time.lt(v.clone()));
    }
    if let Some(v) = &filter.subject {
        q = q.filter(audit_records::subject.eq(v.clone()));
    }
    if let Some(v) = &filter.dataset {
        q = q.filter(audit_records::dataset.eq(v.clone()));
    }
    if let Some(v) = &filter.action {
        q = q.filter(audit_records::action.eq(v.clone()));
    }
    if let Some(v) = &filter.decision {
        q = q.filter(audit_records::decision.eq(v.clone()));
    }
    if let Some(v) = filter.status {
        q = q.filter(audit_records::status.eq(v));
    }
    if let Some(list) = &filter.datasets_in {
        q = q.filter(audit_records::dataset.eq_any(list.clone()));
    }
    let rows: Vec<(i64, Row)> = q
        .order(audit_records::id.asc())
        .limit(limit)
        .select((audit_records::id, record_columns!()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, r)| (id, r.into_record()))
        .collect())
}

/// Removes the records of `chain` up to `seq` (archive). The append-only
/// guard is lifted only inside this transaction: on SQLite by dropping and
/// re-creating its trigger, on PostgreSQL by a transaction-local setting the
/// trigger honours (other instances keep writing meanwhile).
pub fn delete_through(conn: &mut AnyConnection, chain: &str, seq: i64) -> Result<usize> {
    use diesel::connection::SimpleConnection;
    conn.transaction(|conn| {
        let lift = match conn {
            AnyConnection::Sqlite(_) => "DROP TRIGGER audit.audit_records_no_delete",
            AnyConnection::Postgres(_) => "SET LOCAL kaifang.audit_archive = 'on'",
        };
        conn.batch_execute(lift)
            .map_err(|e| Error::internal("lifting the audit delete guard", e))?;
        let n = diesel::delete(
            audit_records::table
                .filter(audit_records::chain.eq(chain))
                .filter(audit_records::seq.le(seq)),
        )
        .execute(conn)?;
        let restore = match conn {
            AnyConnection::Sqlite(_) => {
                // A trigger is made in the schema its name gives (main when
                // none), and must live beside its table: the log's own file.
                "CREATE TRIGGER audit.audit_records_no_delete BEFORE DELETE ON audit_records
             BEGIN SELECT RAISE(ABORT, 'audit records are append-only; use kaifang audit archive'); END;"
            }
            AnyConnection::Postgres(_) => "SET LOCAL kaifang.audit_archive = 'off'",
        };
        conn.batch_execute(restore)
            .map_err(|e| Error::internal("restoring the audit delete guard", e))?;
        Ok(n)
    })
}
