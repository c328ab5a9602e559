//! `SqlBuilder`: assembles one SQL statement together with its bound
//! values for either backend, so callers never format a value into SQL
//! text. It holds no connection and runs nothing; and it must never splice
//! a `Value` into the text: values only ever leave through `binds()`.

use crate::data::types::Value;

/// The SQL flavour a statement is written for. It decides the placeholder
/// syntax and the few spellings that differ (e.g. `ILIKE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// SQL text under construction plus the values its placeholders stand for,
/// kept in placeholder order.
#[derive(Debug, Clone)]
pub struct SqlBuilder {
    dialect: Dialect,
    sql: String,
    binds: Vec<Value>,
}

impl SqlBuilder {
    pub fn new(dialect: Dialect) -> Self {
        SqlBuilder {
            dialect,
            sql: String::new(),
            binds: Vec::new(),
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Appends trusted SQL text (keywords, punctuation) as is. Never pass
    /// anything that came from a request through here.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a double-quoted identifier. Doubling embedded quotes is the
    /// standard SQL escape and works on both backends, so a column named
    /// from a CSV header cannot end the identifier early. Names should still
    /// come from the catalogue, not straight from a request.
    pub fn push_ident(&mut self, name: &str) -> &mut Self {
        self.sql.push('"');
        for c in name.chars() {
            if c == '"' {
                self.sql.push('"');
            }
            self.sql.push(c);
        }
        self.sql.push('"');
        self
    }

    /// Appends a placeholder and records `v` as its value.
    pub fn push_bind(&mut self, v: Value) -> &mut Self {
        self.binds.push(v);
        match self.dialect {
            Dialect::Sqlite => self.sql.push('?'),
            Dialect::Postgres => {
                // Postgres numbers its placeholders from 1, in bind order.
                self.sql.push('$');
                self.sql.push_str(&self.binds.len().to_string());
            }
        }
        self
    }

    /// Appends a placeholder for a value compared with a column of type
    /// `ty`. PostgreSQL does not turn a parameter typed text into a date or
    /// timestamp (nor a null typed text into a number), so there it is cast
    /// to the column's type; SQLite stores those as text and needs nothing.
    pub fn push_bind_for(&mut self, v: Value, ty: super::types::ColumnType) -> &mut Self {
        use super::types::ColumnType as T;
        self.push_bind(v);
        if self.dialect == Dialect::Postgres {
            self.sql.push_str(match ty {
                T::Integer => "::bigint",
                T::Real => "::double precision",
                T::Boolean => "::boolean",
                T::Date => "::date",
                T::Timestamp => "::timestamptz",
                T::Text => "::text",
            });
        }
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn binds(&self) -> &[Value] {
        &self.binds
    }

    pub fn into_parts(self) -> (String, Vec<Value>) {
        (self.sql, self.binds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_uses_question_marks() {
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        b.push("SELECT * FROM ")
            .push_ident("flights")
            .push(" WHERE ")
            .push_ident("a")
            .push(" = ")
            .push_bind(Value::Int(1))
            .push(" AND ")
            .push_ident("b")
            .push(" = ")
            .push_bind(Value::Text("x".into()));
        assert_eq!(b.dialect(), Dialect::Sqlite);
        assert_eq!(
            b.sql(),
            r#"SELECT * FROM "flights" WHERE "a" = ? AND "b" = ?"#
        );
        assert_eq!(b.binds(), &[Value::Int(1), Value::Text("x".into())]);
    }

    #[test]
    fn postgres_numbers_placeholders_in_order() {
        let mut b = SqlBuilder::new(Dialect::Postgres);
        b.push_bind(Value::Int(1))
            .push(", ")
            .push_bind(Value::Bool(true))
            .push(", ")
            .push_bind(Value::Null);
        let (sql, binds) = b.into_parts();
        assert_eq!(sql, "$1, $2, $3");
        assert_eq!(binds.len(), 3);
    }

    #[test]
    fn identifiers_double_embedded_quotes() {
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        b.push_ident(r#"say "hi"; DROP TABLE x; --"#)
            .push_ident("région");
        assert_eq!(b.sql(), r#""say ""hi""; DROP TABLE x; --""région""#);
    }
}
