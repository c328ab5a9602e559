//! Instance-wide settings kept in the database (such as the key that signs
//! cursors), so that every process serving the same database agrees on them.

use diesel::prelude::*;

use super::AnyConnection;
use super::schema::settings;
use crate::error::Result;

pub fn get_setting(conn: &mut AnyConnection, key: &str) -> Result<Option<String>> {
    Ok(settings::table
        .find(key)
        .select(settings::value)
        .first::<String>(conn)
        .optional()?)
}

/// Returns the setting, storing `init()` first when it is missing. Two
/// processes racing here agree: the insert is ignored when the key exists
/// and the stored value is read back.
pub fn get_or_init_setting(
    conn: &mut AnyConnection,
    key: &str,
    init: impl FnOnce() -> String,
) -> Result<String> {
    if let Some(v) = get_setting(conn, key)? {
        return Ok(v);
    }
    // In a savepoint: on PostgreSQL a failed statement (the duplicate)
    // aborts the enclosing transaction unless rolled back to one.
    let inserted = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::insert_into(settings::table)
            .values((settings::key.eq(key), settings::value.eq(init())))
            .execute(conn)
    });
    super::ignore_duplicate(inserted)?;
    Ok(settings::table
        .find(key)
        .select(settings::value)
        .first::<String>(conn)?)
}

/// Stores `value` under `key`, replacing what was there.
pub fn put_setting(conn: &mut AnyConnection, key: &str, value: &str) -> Result<()> {
    let updated = diesel::update(settings::table.find(key))
        .set(settings::value.eq(value))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(settings::table)
            .values((settings::key.eq(key), settings::value.eq(value)))
            .execute(conn)?;
    }
    Ok(())
}

/// The counter kept under `key`: 0 until it is first raised.
pub fn counter(conn: &mut AnyConnection, key: &str) -> Result<i64> {
    Ok(get_setting(conn, key)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Raises the counter kept under `key` by one and returns it. Within a
/// transaction, its row lock makes concurrent changes on PostgreSQL take
/// turns, so each gets its own number and the last to commit has the highest.
pub fn raise_counter(conn: &mut AnyConnection, key: &str) -> Result<i64> {
    get_or_init_setting(conn, key, || "0".to_string())?;
    diesel::update(settings::table.find(key))
        .set(
            settings::value.eq(diesel::dsl::sql::<diesel::sql_types::Text>(
                "CAST(CAST(\"value\" AS BIGINT) + 1 AS TEXT)",
            )),
        )
        .execute(conn)?;
    counter(conn, key)
}

/// Removes the setting `key`; true when there was one.
pub fn delete_setting(conn: &mut AnyConnection, key: &str) -> Result<bool> {
    Ok(diesel::delete(settings::table.find(key)).execute(conn)? > 0)
}
