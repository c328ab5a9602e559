//! The data room: the tables behind datasets. It imports CSV files into
//! typed per-version tables, parses and compiles the query language, and
//! reads rows back as pages, aggregates and streamed exports. Every SQL text
//! it runs is built by the compiler from parsed input: identifiers come from
//! a version's known columns and are quoted, every value is bound.

mod copy_in;
pub mod csv;
pub mod cursor;
mod export;
pub mod format;
pub mod import;
pub mod mask;
pub mod plan;
pub mod query;
mod query_record;
pub mod read;
pub mod render;
pub mod request;
pub mod result_cache;
pub mod sql;
pub(crate) mod store;
pub mod types;

pub use format::Format;
pub use import::{ImportProgress, NoProgress, import_file};
pub use query_record::{REDACTED, Redact};
pub use request::{Aggregate, AggregateFn, Direction, OrderItem, QueryBody, RowsQuery};

/// Drops version tables that no dataset points to: what an import that
/// crashed or was killed left behind. Run at start, before serving.
pub fn collect_orphans(db: &crate::db::Db) -> crate::error::Result<()> {
    let mut conn = db.get()?;
    let live = crate::catalog::live_tables(&mut conn)?;
    for table in store::version_tables(&mut conn)? {
        if !live.contains(&table) {
            tracing::info!(table = %table, "dropping a table no version points to");
            store::drop_table(&mut conn, &table)?;
        }
    }
    Ok(())
}
