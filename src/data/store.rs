//! Version tables on disk: creating, filling, indexing and dropping them,
//! and running bound SQL on SQLite. Table and column names reach SQL only
//! through `SqlBuilder::push_ident`.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text};
use diesel::sqlite::Sqlite;

use super::sql::{Dialect, SqlBuilder};
use super::types::{Column, ColumnType, Value};
use crate::db::AnyConnection;
use crate::error::{Error, Result};

/// The internal row number column: the row's position in the imported file,
/// the primary key and the last key of every keyset cursor.
pub const ROW_COLUMN: &str = "__row";

/// SQLite's limit on bound parameters in one statement.
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

pub fn sqlite(conn: &mut AnyConnection) -> &mut diesel::SqliteConnection {
    match conn {
        AnyConnection::Sqlite(c) => c,
    }
}

pub fn drop_table(conn: &mut AnyConnection, table: &str) -> Result<()> {
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    b.push("DROP TABLE IF EXISTS ").push_ident(table);
    sqlite(conn)
        .batch_execute(b.sql())
        .map_err(|e| Error::internal(format!("dropping table {table}"), e))
}

pub fn create_table(conn: &mut AnyConnection, table: &str, columns: &[Column]) -> Result<()> {
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    b.push("CREATE TABLE ")
        .push_ident(table)
        .push(" (")
        .push_ident(ROW_COLUMN)
        .push(" INTEGER PRIMARY KEY NOT NULL");
    for c in columns {
        b.push(", ")
            .push_ident(&c.name)
            .push(" ")
            .push(sqlite_type(c.ty));
    }
    b.push(")");
    sqlite(conn)
        .batch_execute(b.sql())
        .map_err(|e| Error::internal(format!("creating table {table}"), e))
}

pub fn create_indexes(conn: &mut AnyConnection, table: &str, columns: &[String]) -> Result<()> {
    for (i, column) in columns.iter().enumerate() {
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        b.push("CREATE INDEX ")
            .push_ident(&format!("{table}_i{i}"))
            .push(" ON ")
            .push_ident(table)
            .push(" (")
            .push_ident(column)
            .push(")");
        sqlite(conn)
            .batch_execute(b.sql())
            .map_err(|e| Error::internal(format!("indexing {table}"), e))?;
    }
    let mut b = SqlBuilder::new(Dialect::Sqlite);
    b.push("ANALYZE ").push_ident(table);
    sqlite(conn)
        .batch_execute(b.sql())
        .map_err(|e| Error::internal(format!("analyzing {table}"), e))
}

/// Inserts rows in multi-row statements; the caller wraps a transaction.
pub struct Inserter {
    table: String,
    columns: Vec<String>,
    rows_per_statement: usize,
    full_sql: String,
    pending: Vec<Value>,
    pending_rows: usize,
}

impl Inserter {
    pub fn new(table: &str, columns: &[Column]) -> Inserter {
        let width = columns.len() + 1;
        let rows_per_statement = (SQLITE_MAX_PARAMS / width).clamp(1, 500);
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let full_sql = Self::sql(table, &names, rows_per_statement);
        Inserter {
            table: table.to_string(),
            columns: names,
            rows_per_statement,
            full_sql,
            pending: Vec::with_capacity(rows_per_statement * width),
            pending_rows: 0,
        }
    }

    fn sql(table: &str, columns: &[String], rows: usize) -> String {
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        b.push("INSERT INTO ")
            .push_ident(table)
            .push(" (")
            .push_ident(ROW_COLUMN);
        for c in columns {
            b.push(", ").push_ident(c);
        }
        b.push(") VALUES ");
        let one = format!("({})", vec!["?"; columns.len() + 1].join(","));
        let all = vec![one; rows].join(",");
        b.push(&all);
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
            let sql = Self::sql(&self.table, &self.columns, self.pending_rows);
            self.run(conn, &sql)?;
        }
        Ok(())
    }

    fn run(&mut self, conn: &mut AnyConnection, sql: &str) -> Result<()> {
        let binds = std::mem::take(&mut self.pending);
        sqlite_query(sql, &binds)
            .execute(sqlite(conn))
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
    let names: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'ds_[0-9]*_[0-9a-f]*'",
    )
    .load(sqlite(conn))?;
    Ok(names.into_iter().map(|n| n.name).collect())
}
