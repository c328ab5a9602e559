//! Opening a PostgreSQL connection with the session settings Kaifang relies on.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// How long a request waits for a pooled connection. When the server is
/// gone every connection attempt fails; a short wait turns that into a 503
/// within seconds instead of a hung request.
pub const POOL_WAIT: Duration = Duration::from_secs(3);

/// Seconds libpq waits for the server to answer a new connection, added to
/// the URL unless the operator set it: without it a dropped network makes
/// `connect` wait for the kernel's TCP timeout (minutes).
const CONNECT_TIMEOUT_SECS: u32 = 2;

/// Serialises write transactions across every instance, as SQLite's single
/// writer lock does; released at commit or rollback. The key is arbitrary
/// but fixed ("kaifang" in ASCII).
pub const WRITE_LOCK_SQL: &str = "SELECT pg_advisory_xact_lock(7022359315390055)";

fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}connect_timeout={CONNECT_TIMEOUT_SECS}")
}

/// Opens `url`. `durable` is the audit writer's connection: its commits
/// wait for the WAL flush (`synchronous_commit = on`) whatever the server's
/// default, so no response goes out before its audit record is on disk.
/// Every session works in UTC so that timestamps render as stored.
pub fn connect(url: &str, durable: bool) -> Result<PgConnection, diesel::r2d2::Error> {
    let mut conn = PgConnection::establish(&with_connect_timeout(url))
        .map_err(diesel::r2d2::Error::ConnectionError)?;
    conn.batch_execute("SET TIME ZONE 'UTC'; SET client_min_messages = warning")
        .map_err(diesel::r2d2::Error::QueryError)?;
    if durable {
        conn.batch_execute("SET synchronous_commit = on")
            .map_err(diesel::r2d2::Error::QueryError)?;
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_timeout_is_added_once() {
        assert_eq!(
            with_connect_timeout("postgres://h/db"),
            "postgres://h/db?connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?sslmode=disable"),
            "postgres://h/db?sslmode=disable&connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?connect_timeout=9"),
            "postgres://h/db?connect_timeout=9"
        );
    }
}
