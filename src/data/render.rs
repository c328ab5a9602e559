//! How one result row becomes text inside the database: SQL expressions
//! that render a row as a JSON object or a CSV line, so rows leave the
//! engine ready to send and are never re-encoded in Rust. JSON keys are
//! bound values; identifiers go through `push_ident`.

use super::format::Format;
use super::mask::Protection;
use super::request::AggregateFn;
use super::sql::{Dialect, SqlBuilder};
use super::types::ColumnType;

/// What a result field is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A column of the version table.
    Column(String),
    /// An aggregate, over a column or (count only) over rows.
    Aggregate(AggregateFn, Option<String>),
    /// A column of the given stored type, masked or hashed for the caller.
    Masked(String, ColumnType, Protection),
}

/// One field of a result row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The name the caller sees.
    pub name: String,
    pub source: Source,
    /// The type of the result value.
    pub ty: ColumnType,
}

/// Pushes the SQL value of `field`.
pub fn push_value(b: &mut SqlBuilder, field: &Field) {
    match &field.source {
        Source::Column(c) => {
            b.push_ident(c);
        }
        Source::Masked(c, ty, p) => super::mask::push_masked(b, c, *ty, *p),
        Source::Aggregate(AggregateFn::Avg, col) if b.dialect() == Dialect::Postgres => {
            // PostgreSQL averages integers as numeric (many digits);
            // a double answers like SQLite does.
            b.push("CAST(AVG(");
            match col {
                Some(c) => b.push_ident(c),
                None => b.push("*"),
            };
            b.push(") AS DOUBLE PRECISION)");
        }
        Source::Aggregate(f, col) => {
            b.push(match f {
                AggregateFn::Count => "COUNT(",
                AggregateFn::Sum => "SUM(",
                AggregateFn::Avg => "AVG(",
                AggregateFn::Min => "MIN(",
                AggregateFn::Max => "MAX(",
            });
            match col {
                Some(c) => b.push_ident(c),
                None => b.push("*"),
            };
            b.push(")");
        }
    }
}

/// PostgreSQL's spelling of a date or timestamp as the canonical text that
/// SQLite stores (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ`), so both backends
/// answer with the same bytes.
const PG_DATE: &str = "'YYYY-MM-DD'";
const PG_TIMESTAMP: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";

/// Pushes `field` as text for rendering: as stored on SQLite; on
/// PostgreSQL dates and timestamps are formatted to their canonical text.
fn push_text_value(b: &mut SqlBuilder, field: &Field) {
    match (b.dialect(), field.ty) {
        (Dialect::Postgres, ColumnType::Date) => {
            b.push("to_char(");
            push_value(b, field);
            b.push(", ").push(PG_DATE).push(")");
        }
        (Dialect::Postgres, ColumnType::Timestamp) => {
            b.push("to_char(");
            push_value(b, field);
            b.push(" AT TIME ZONE 'UTC', ").push(PG_TIMESTAMP).push(")");
        }
        _ => push_value(b, field),
    }
}

/// Pushes a real `field` as text on PostgreSQL the way SQLite writes a
/// REAL: PostgreSQL's shortest round-trip digits, with `.0` added to a
/// mantissa without a fraction (`10.0`, `1.0e+20`, `-0.0`). Without it a
/// whole real would read `10` and `-0`, which a re-import takes for an
/// integer and for text.
fn push_pg_real_text(b: &mut SqlBuilder, field: &Field) {
    b.push("regexp_replace(CAST(");
    push_value(b, field);
    b.push(r" AS TEXT), '^(-?[0-9]+)(e|$)', '\1.0\2')");
}

fn push_json_value(b: &mut SqlBuilder, field: &Field) {
    if b.dialect() == Dialect::Postgres && field.ty == ColumnType::Real {
        b.push("COALESCE(");
        push_pg_real_text(b, field);
        b.push(", 'null')");
        return;
    }
    if b.dialect() == Dialect::Postgres && field.ty != ColumnType::Boolean {
        // to_json of null is null, which || would spread to the whole row.
        b.push("COALESCE(to_json(");
        push_text_value(b, field);
        b.push(")::text, 'null')");
        return;
    }
    match field.ty {
        ColumnType::Boolean => {
            b.push("(CASE WHEN ");
            push_value(b, field);
            b.push(" IS NULL THEN 'null' WHEN ");
            push_value(b, field);
            b.push(" THEN 'true' ELSE 'false' END)");
        }
        ColumnType::Integer => {
            // An integer's text is its JSON; ifnull compiles to a jump
            // where json_quote is a function call (most of a page's CPU).
            b.push("ifnull(");
            push_value(b, field);
            b.push(", 'null')");
        }
        _ => {
            b.push("json_quote(");
            push_value(b, field);
            b.push(")");
        }
    }
}

fn push_csv_value(b: &mut SqlBuilder, field: &Field) {
    match field.ty {
        ColumnType::Boolean => {
            b.push("(CASE WHEN ");
            push_value(b, field);
            b.push(" IS NULL THEN '' WHEN ");
            push_value(b, field);
            b.push(" THEN 'true' ELSE 'false' END)");
        }
        ColumnType::Real if b.dialect() == Dialect::Postgres => {
            b.push("COALESCE(");
            push_pg_real_text(b, field);
            b.push(", '')");
        }
        ColumnType::Integer | ColumnType::Real => {
            b.push("COALESCE(CAST(");
            push_value(b, field);
            b.push(" AS TEXT), '')");
        }
        ColumnType::Text | ColumnType::Date | ColumnType::Timestamp
            if b.dialect() == Dialect::Postgres =>
        {
            // As below, in PostgreSQL's function names.
            b.push("(CASE WHEN ");
            push_text_value(b, field);
            b.push(" IS NULL THEN '' WHEN ");
            push_text_value(b, field);
            b.push(" = '' OR strpos(");
            push_text_value(b, field);
            b.push(", ',') > 0 OR strpos(");
            push_text_value(b, field);
            b.push(", '\"') > 0 OR strpos(");
            push_text_value(b, field);
            b.push(", chr(10)) > 0 OR strpos(");
            push_text_value(b, field);
            b.push(", chr(13)) > 0 THEN '\"' || replace(");
            push_text_value(b, field);
            b.push(", '\"', '\"\"') || '\"' ELSE ");
            push_text_value(b, field);
            b.push(" END)");
        }
        ColumnType::Text | ColumnType::Date | ColumnType::Timestamp => {
            // RFC 4180: quote a field holding a separator, quote or line
            // break (and an empty string, so it stays distinct from null).
            b.push("(CASE WHEN ");
            push_value(b, field);
            b.push(" IS NULL THEN '' WHEN ");
            push_value(b, field);
            b.push(" = '' OR instr(");
            push_value(b, field);
            b.push(", ',') > 0 OR instr(");
            push_value(b, field);
            b.push(", '\"') > 0 OR instr(");
            push_value(b, field);
            b.push(", char(10)) > 0 OR instr(");
            push_value(b, field);
            b.push(", char(13)) > 0 THEN '\"' || replace(");
            push_value(b, field);
            b.push(", '\"', '\"\"') || '\"' ELSE ");
            push_value(b, field);
            b.push(" END)");
        }
    }
}

/// Most arguments one `concat()` call gets: PostgreSQL allows 100 and
/// SQLite 127 by default.
const CONCAT_ARGS: usize = 64;

/// Joins the pieces of one rendered row. `a || b || c` copies the growing
/// string once per operator, so a row of n fields costs O(n²) bytes copied
/// (a third of the CPU of a 100-row page); `concat(a, b, c)` sizes the result
/// once. Pieces are never null (every value renders to text), so concat's
/// treatment of null as empty changes nothing.
struct Concat {
    args: usize,
}

impl Concat {
    fn open(b: &mut SqlBuilder) -> Concat {
        b.push("concat(");
        Concat { args: 0 }
    }

    /// Starts the next argument; a full call is closed and continued with `||`.
    fn next(&mut self, b: &mut SqlBuilder) {
        if self.args == CONCAT_ARGS {
            b.push(") || concat(");
            self.args = 0;
        } else if self.args > 0 {
            b.push(", ");
        }
        self.args += 1;
    }

    fn close(self, b: &mut SqlBuilder) {
        b.push(")");
    }
}

/// Pushes one SQL expression that renders the row as `format` (a JSON
/// object for json and ndjson, a CSV line without its line break for csv).
pub fn push_row(b: &mut SqlBuilder, fields: &[Field], format: Format) {
    if fields.is_empty() {
        b.push("'{}'");
        return;
    }
    let mut row = Concat::open(b);
    match format {
        Format::Json | Format::Ndjson => {
            for (i, field) in fields.iter().enumerate() {
                let key = serde_json::Value::String(field.name.clone()).to_string();
                let prefix = if i == 0 {
                    format!("{{{key}:")
                } else {
                    format!(",{key}:")
                };
                row.next(b);
                // Typed, because concat() takes any type and PostgreSQL
                // cannot infer a parameter's type from it.
                b.push_bind_for(super::types::Value::Text(prefix), ColumnType::Text);
                row.next(b);
                push_json_value(b, field);
            }
            row.next(b);
            b.push("'}'");
        }
        Format::Csv => {
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    row.next(b);
                    b.push("','");
                }
                row.next(b);
                push_csv_value(b, field);
            }
        }
    }
    row.close(b);
}

/// The CSV header line for `fields`, with its line break.
pub fn csv_header(fields: &[Field]) -> String {
    let mut line = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let needs_quotes = f.name.is_empty()
            || f.name.contains([',', '"', '\n', '\r'])
            || f.name.starts_with(' ')
            || f.name.ends_with(' ');
        if needs_quotes {
            line.push('"');
            line.push_str(&f.name.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&f.name);
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::sql::{Dialect, SqlBuilder};
    use diesel::prelude::*;

    #[derive(QueryableByName)]
    struct Rendered {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }

    /// Renders the one row of a table of `n` columns (text, integer and
    /// null by turns) as `format`, on a real SQLite.
    fn render_wide(n: usize, format: Format) -> String {
        let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
        let names: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let cols: Vec<String> = names.iter().map(|c| format!("\"{c}\"")).collect();
        let values: Vec<String> = (0..n)
            .map(|i| match i % 3 {
                0 => format!("'v\"{i}'"),
                1 => i.to_string(),
                _ => "NULL".to_string(),
            })
            .collect();
        diesel::sql_query(format!("CREATE TABLE t ({})", cols.join(", ")))
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(format!("INSERT INTO t VALUES ({})", values.join(", ")))
            .execute(&mut conn)
            .unwrap();
        let fields: Vec<Field> = names
            .iter()
            .enumerate()
            .map(|(i, c)| Field {
                name: c.clone(),
                source: Source::Column(c.clone()),
                ty: if i % 3 == 1 {
                    ColumnType::Integer
                } else {
                    ColumnType::Text
                },
            })
            .collect();
        let mut b = SqlBuilder::new(Dialect::Sqlite);
        b.push("SELECT ");
        push_row(&mut b, &fields, format);
        b.push(" AS line FROM t");
        let (sql, binds) = b.into_parts();
        let out: Rendered = crate::data::store::sqlite_query(&sql, &binds)
            .get_result(&mut conn)
            .unwrap();
        out.line
    }

    #[test]
    fn rows_wider_than_one_concat_call_render_whole() {
        // 150 fields: 301 pieces for JSON, 299 for CSV, five concat() calls.
        let text = render_wide(150, Format::Json);
        assert!(
            text.starts_with(r#"{"c0":"v\"0","c1":1,"c2":null,"#),
            "{text}"
        );
        assert!(text.ends_with(r#","c148":148,"c149":null}"#), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json.as_object().unwrap().len(), 150);
        assert_eq!(json["c0"], serde_json::json!("v\"0"));
        assert_eq!(json["c148"], serde_json::json!(148));
        assert_eq!(json["c149"], serde_json::Value::Null);

        let csv = render_wide(150, Format::Csv);
        let fields: Vec<&str> = csv.split(',').collect();
        assert_eq!(fields.len(), 150);
        assert_eq!(fields[0], "\"v\"\"0\"");
        assert_eq!(fields[148], "148");
        assert_eq!(fields[149], "");
    }
}
