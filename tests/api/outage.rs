//! PostgreSQL going away and coming back, on a private cluster this test
//! makes itself (initdb in a temporary folder, a free port), never the
//! machine's shared server: requests are answered 503 problem+json quickly,
//! `/readyz` fails, and once the server is back the gateway recovers by
//! itself — also where every request first passes the fair-use counters,
//! which live in the database on PostgreSQL. Runs in the PostgreSQL pass of
//! the suite.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DatasetBuilder, on_postgres, spawn_app_with};

/// The folder of PostgreSQL's server programs (Debian keeps them out of PATH).
fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server programs under /usr/lib/postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().expect("initdb under /usr/lib/postgresql/*/bin")
}

/// A command for a server program: PostgreSQL refuses to run as root, so
/// under root (a CI container) it runs as the `postgres` account, which
/// then owns the cluster's folder.
fn server_command(program: &std::path::Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A cluster of our own; stopped when dropped.
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn create() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let bin = pg_bin();
        let data = dir.path().join("data");
        // For the postgres account when running as root (no-op otherwise).
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .output();
        let out = server_command(&bin.join("initdb"))
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            bin,
            data,
            port,
            _dir: dir,
        };
        cluster.start();
        cluster
    }

    fn ctl(&self, args: &[&str]) {
        let sock = self.data.parent().unwrap();
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            sock.display()
        );
        let out = server_command(&self.bin.join("pg_ctl"))
            .args(args)
            .arg("-D")
            .arg(&self.data)
            .arg("-o")
            .arg(&opts)
            .arg("-l")
            .arg(sock.join("server.log"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        self.ctl(&["start", "-w"]);
    }

    fn stop(&self) {
        self.ctl(&["stop", "-w", "-m", "fast"]);
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = server_command(&self.bin.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&self.data)
            .output();
    }
}

fn createdb(cluster: &Cluster, name: &str) {
    let out = Command::new("psql")
        .args(["-X", "-q", "-c", &format!("CREATE DATABASE {name}")])
        .arg(cluster.url("postgres"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn when_postgres_goes_away_requests_get_503_quickly_and_the_gateway_recovers_by_itself() {
    if !on_postgres() {
        return;
    }
    let cluster = Cluster::create();
    createdb(&cluster, "kaifang");
    let url = cluster.url("kaifang");
    let app = spawn_app_with(|s| s.database_url = url.clone()).await;
    let slug = DatasetBuilder::new("outage")
        .with_csv(&app, "n,label\n1,a\n2,b\n3,c\n")
        .await;
    assert_eq!(app.get_rows(&slug, &[]).await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    // A gateway whose callers are rate limited: each request takes from a
    // bucket in the database before anything else.
    createdb(&cluster, "limited");
    let limited_url = cluster.url("limited");
    let limited = spawn_app_with(|s| {
        s.database_url = limited_url.clone();
        s.rate_limit_per_second = 1000.0;
        s.rate_limit_burst = 1000;
    })
    .await;
    let res = limited.get("/v1/datasets").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("ratelimit"));

    // Mid-load: requests keep coming while the server stops.
    let load = {
        let client = app.client.clone();
        let target = app.url(&format!("/v1/datasets/{slug}/rows"));
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                let started = Instant::now();
                let res = client.get(&target).send().await.unwrap();
                statuses.push((res.status().as_u16(), started.elapsed()));
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.stop();
    let statuses = load.await.unwrap();
    assert!(statuses.iter().any(|(s, _)| *s == 200), "{statuses:?}");
    assert!(statuses.iter().any(|(s, _)| *s == 503), "{statuses:?}");
    assert!(
        statuses.iter().all(|(s, _)| *s == 200 || *s == 503),
        "only answers or 503s: {statuses:?}"
    );

    // Down: a 503 problem+json within seconds, and not ready.
    let started = Instant::now();
    let res = app.get_rows(&slug, &[]).await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let body = crate::helpers::assert_problem(res, 503).await;
    assert_eq!(body["status"], json!(503));
    // The counters cannot be reached: 503 as well, never a 500, never a pass.
    let started = Instant::now();
    let res = limited.get("/v1/datasets").await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    crate::helpers::assert_problem(res, 503).await;
    let started = Instant::now();
    let ready = app.get("/readyz").await;
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_ne!(ready.status(), StatusCode::OK);

    // Back: the gateway recovers without a restart.
    cluster.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = app.get_rows(&slug, &[]).await.status();
        let ready = app.get("/readyz").await.status();
        let counted = limited.get("/v1/datasets").await.status();
        if rows == StatusCode::OK && ready == StatusCode::OK && counted == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not recovered: rows {rows}, readyz {ready}, rate-limited caller {counted}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every access answered 200 is on the record, and the chain holds.
    let report: Value = app
        .admin(app.client.get(app.url("/v1/admin/audit/verify")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["ok"], json!(true), "{report}");
}
