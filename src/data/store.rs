//! Version tables on disk: creating, filling, indexing and dropping them,
//! and running bound SQL on SQLite or PostgreSQL. Table and column names reach SQL only
//! through `SqlBuilder::push_ident`.

use diesel::connection::SimpleConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text};
use diesel::sqlite::Sqlite;

use super::sql::{Dialect, SqlBuilder};
use super::types::{Column, ColumnType, Value};
use crate::db::{AnyConnection, Backend};
use crate::error::{Error, Result};

/// The internal row number column: the row's position in the imported file,
/// the primary key and the last key of every keyset cursor.
pub const ROW_COLUMN: &str = "__row";

/// SQLite's limit on bound parameters in one statement (PostgreSQL's is
/// 65535, so the same batches fit both).
const SQLITE_MAX_PARAMS: usize = 32_000;

/// A fresh table name for an import of `dataset_id`: the dataset id and
/// a random part, so two imports never share a table.
pub fn table_name(dataset_id: i64) -> String {
    let nonce: u64 = rand::random();
    format!("ds_{dataset_id}_{nonce:016x}")
}

fn sqlite_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer | ColumnType::Boolean => "INTEGER",
        ColumnType::Real => "REAL",
        ColumnType::Date | ColumnType::Timestamp | ColumnType::Text => "TEXT",
    }
}

/// PostgreSQL's native column types for a dataset column.
fn pg_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "BIGINT",
        ColumnType::Real => "DOUBLE PRECISION",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Date => "DATE",
        ColumnType::Timestamp => "TIMESTAMPTZ",
        ColumnType::Text => "TEXT",
    }
}

fn dialect(conn: &AnyConnection) -> Dialect {
    match conn.backend() {
        Backend::Sqlite => Dialect::Sqlite,
        Backend::Postgres => Dialect::Postgres,
    }
}

/// Binds `binds` onto `sql` for PostgreSQL.
pub fn pg_query<'a>(sql: &'a str, binds: &'a [Value]) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
    let mut q = diesel::sql_query(sql).into_boxed::<Pg>();
    for v in binds {
        q = match v {
            Value::Null => q.bind::<Nullable<Text>, _>(None::<&str>),
            Value::Int(i) => q.bind::<BigInt, _>(*i),
            Value::Real(f) => q.bind::<Double, _>(*f),
            Value::Bool(b) => q.bind::<Bool, _>(*b),
            Value::Text(s) => q.bind::<Text, _>(s.as_str()),
        };
    }
    q
}

/// Runs a bound statement that returns no rows, on either backend.
pub fn execute(conn: &mut AnyConnection, sql: &str, binds: &[Value]) -> QueryResult<usize> {
    match conn {
        AnyConnection::Sqlite(c) => sqlite_query(sql, binds).execute(c),
        AnyConnection::Postgres(c) => pg_query(sql, binds).execute(c),
    }
}

/// Binds `binds` onto `sql` for SQLite.
pub fn sqlite_query<'a>(sql: &'a str, binds: &'a [Value]) -> BoxedSqlQuery<'a, Sqlite, SqlQuery> {
    let mut q = diesel::sql_query(sql).into_boxed::<Sqlite>();
    for v in binds {
        q = match v {
            Value::Null => q.bind::<Nullable<Text>, _>(None::<&str>),
            Value::Int(i) => q.bind::<BigInt, _>(*i),
            Value::Real(f) => q.bind::<Double, _>(*f),
            Value::Bool(b) => q.bind::<Bool, _>(*b),
            Value::Text(s) => q.bind::<Text, _>(s.as_str()),
        };
    }
    q
}

pub fn drop_table(conn: &mut AnyConnection, table: &str) -> Result<()> {
    let mut b = SqlBuilder::new(dialect(conn));
    b.push("DROP TABLE IF EXISTS ").push_ident(table);
    conn.batch_execute(b.sql())
        .map_err(|e| Error::internal(format!("dropping table {table}"), e))
}

pub fn create_table(conn: &mut AnyConnection, table: &str, columns: &[Column]) -> Result<()> {
    let backend = conn.backend();
    let mut b = SqlBuilder::new(dialect(conn));
    b.push("CREATE TABLE ")
        .push_ident(table)
        .push(" (")
        .push_ident(ROW_COLUMN)
        .push(match backend {
            Backend::Sqlite => " INTEGER PRIMARY KEY NOT NULL",
            Backend::Postgres => " BIGINT PRIMARY KEY NOT NULL",
        });
    for c in columns {
        b.push(", ")
            .push_ident(&c.name)
            .push(" ")
            .push(match backend {
                Backend::Sqlite => sqlite_type(c.ty),
                Backend::Postgres => pg_type(c.ty),
            });
    }
    b.push(")");
    conn.batch_execute(b.sql())
        .map_err(|e| Error::internal(format!("creating table {table}"), e))
}

pub fn create_indexes(conn: &mut AnyConnection, table: &str, columns: &[String]) -> Result<()> {
    for (i, column) in columns.iter().enumerate() {
        let mut b = SqlBuilder::new(dialect(conn));
        b.push("CREATE INDEX ")
            .push_ident(&format!("{table}_i{i}"))
            .push(" ON ")
            .push_ident(table)
            .push(" (")
            .push_ident(column)
            .push(")");
        conn.batch_execute(b.sql())
            .map_err(|e| Error::internal(format!("indexing {table}"), e))?;
    }
    let mut b = SqlBuilder::new(dialect(conn));
    b.push("ANALYZE ").push_ident(table);
    conn.batch_execute(b.sql())
        .map_err(|e| Error::internal(format!("analyzing {table}"), e))
}

/// Inserts rows in multi-row statements; the caller wraps a transaction.
pub struct Inserter {
    dialect: Dialect,
    table: String,
    columns: Vec<String>,
    types: Vec<ColumnType>,
    rows_per_statement: usize,
    full_sql: String,
    pending: Vec<Value>,
    pending_rows: usize,
}

impl Inserter {
    pub fn new(conn: &AnyConnection, table: &str, columns: &[Column]) -> Inserter {
        let width = columns.len() + 1;
        let rows_per_statement = (SQLITE_MAX_PARAMS / width).clamp(1, 500);
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let types: Vec<ColumnType> = columns.iter().map(|c| c.ty).collect();
        let dialect = dialect(conn);
        let full_sql = Self::sql(dialect, table, &names, &types, rows_per_statement);
        Inserter {
            dialect,
            table: table.to_string(),
            columns: names,
            types,
            rows_per_statement,
            full_sql,
            pending: Vec::with_capacity(rows_per_statement * width),
            pending_rows: 0,
        }
    }

    fn sql(
        dialect: Dialect,
        table: &str,
        columns: &[String],
        types: &[ColumnType],
        rows: usize,
    ) -> String {
        let mut b = SqlBuilder::new(dialect);
        b.push("INSERT INTO ")
            .push_ident(table)
            .push(" (")
            .push_ident(ROW_COLUMN);
        for c in columns {
            b.push(", ").push_ident(c);
        }
        b.push(") VALUES ");
        match dialect {
            Dialect::Sqlite => {
                let one = format!("({})", vec!["?"; columns.len() + 1].join(","));
                let all = vec![one; rows].join(",");
                b.push(&all);
            }
            Dialect::Postgres => {
                // Numbered placeholders, each cast to its column's type:
                // PostgreSQL does not convert a parameter typed text (a
                // null, a date's canonical text) into another column type.
                let width = columns.len() + 1;
                let mut all = String::with_capacity(rows * width * 16);
                for r in 0..rows {
                    all.push_str(if r == 0 { "(" } else { ",(" });
                    for c in 0..width {
                        if c > 0 {
                            all.push(',');
                        }
                        all.push('$');
                        all.push_str(&(r * width + c + 1).to_string());
                        if let Some(ty) = c.checked_sub(1).and_then(|i| types.get(i)) {
                            all.push_str("::");
                            all.push_str(pg_type(*ty));
                        }
                    }
                    all.push(')');
                }
                b.push(&all);
            }
        }
        b.sql().to_string()
    }

    pub fn push(
        &mut self,
        conn: &mut AnyConnection,
        row_number: i64,
        row: Vec<Value>,
    ) -> Result<()> {
        self.pending.push(Value::Int(row_number));
        self.pending.extend(row);
        self.pending_rows += 1;
        if self.pending_rows == self.rows_per_statement {
            let sql = std::mem::take(&mut self.full_sql);
            let result = self.run(conn, &sql);
            self.full_sql = sql;
            result?;
        }
        Ok(())
    }

    pub fn flush(&mut self, conn: &mut AnyConnection) -> Result<()> {
        if self.pending_rows > 0 {
            let sql = Self::sql(
                self.dialect,
                &self.table,
                &self.columns,
                &self.types,
                self.pending_rows,
            );
            self.run(conn, &sql)?;
        }
        Ok(())
    }

    fn run(&mut self, conn: &mut AnyConnection, sql: &str) -> Result<()> {
        let binds = std::mem::take(&mut self.pending);
        execute(conn, sql, &binds)
            .map_err(|e| Error::internal(format!("inserting into {}", self.table), e))?;
        self.pending = binds;
        self.pending.clear();
        self.pending_rows = 0;
        Ok(())
    }
}

/// Tables named like version tables that no version points to: left behind
/// by an import that crashed or was interrupted.
pub fn version_tables(conn: &mut AnyConnection) -> Result<Vec<String>> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let names: Vec<Name> = match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'ds_[0-9]*_[0-9a-f]*'",
        )
        .load(c)?,
        AnyConnection::Postgres(c) => diesel::sql_query(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() \
             AND tablename ~ '^ds_[0-9]+_[0-9a-f]+$'",
        )
        .load(c)?,
    };
    Ok(names.into_iter().map(|n| n.name).collect())
}
