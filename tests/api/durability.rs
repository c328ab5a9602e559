//! The audit log under stress: a server killed with SIGKILL mid-load loses
//! no record of an answered request, and sixteen clients at once leave one
//! record each on an unbroken chain.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, DatasetBuilder, demo_file, spawn_app_with};

const BIN: &str = env!("CARGO_BIN_EXE_kaifang");

/// A gateway in its own process, so that it can be killed outright.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(db: &std::path::Path, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .env("KAIFANG_DATABASE_URL", db)
            .env("KAIFANG_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("KAIFANG_LOG", "warn")
            .env_remove("KAIFANG_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines.next().expect("server printed its address").unwrap();
            if let Some(rest) = line.strip_prefix("Kaifang is listening on http://127.0.0.1:") {
                break rest.trim().parse().unwrap();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn audit_log(client: &reqwest::Client, url: String) -> Vec<Value> {
    let res = client
        .get(url)
        .bearer_auth(ADMIN_TOKEN)
        .query(&[("format", "ndjson")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_loses_no_record_of_an_answered_request() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let out = Command::new(BIN)
        .arg("import")
        .arg(demo_file("bts_nyc_flights_2013_first20000.csv"))
        .args(["--dataset", "flights"])
        .env("KAIFANG_DATABASE_URL", &db)
        .env_remove("KAIFANG_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A checkpoint per record, so the kill also lands between storing a
    // checkpoint and appending it to the external log.
    let mut server = Server::start(&db, &[("KAIFANG_AUDIT_CHECKPOINT_EVERY", "1")]);
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let page = server.url("/v1/datasets/flights/rows?limit=10&filter=carrier%20%3D%20%27UA%27");
    let mut clients = Vec::new();
    for c in 0..8 {
        let (page, acknowledged, http) = (page.clone(), acknowledged.clone(), client());
        clients.push(tokio::spawn(async move {
            let until = Instant::now() + Duration::from_secs(3);
            let mut n = 0;
            while Instant::now() < until {
                n += 1;
                let id = format!("crash-{c}-{n}");
                let sent = http.get(&page).header("x-request-id", &id).send().await;
                if let Ok(res) = sent
                    && res.status() == StatusCode::OK
                    && res.bytes().await.is_ok()
                {
                    acknowledged.lock().unwrap().push(id);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 50,
        "only {} answers",
        acknowledged.len()
    );

    let server = Server::start(&db, &[]);
    let http = client();
    let log = audit_log(&http, server.url("/v1/admin/audit/export")).await;
    let recorded: HashSet<&str> = log
        .iter()
        .filter(|r| r["status"] == json!(200))
        .filter_map(|r| r["request_id"].as_str())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !recorded.contains(id.as_str()))
        .collect();
    assert!(lost.is_empty(), "answered but not recorded: {lost:?}");

    let report: Value = http
        .get(server.url("/v1/admin/audit/verify"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["ok"], json!(true), "{report}");
    let out = Command::new(BIN)
        .args(["audit", "verify"])
        .env("KAIFANG_DATABASE_URL", &db)
        .env_remove("KAIFANG_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_clients_at_once_leave_one_record_each_on_an_unbroken_chain() {
    let app = spawn_app_with(|s| s.audit_checkpoint_every = 500).await;
    let slug = DatasetBuilder::new("busy")
        .with_csv(&app, "id,carrier\n1,UA\n2,AA\n3,UA\n")
        .await;
    let paths = [
        (format!("/v1/datasets/{slug}/rows?limit=2"), 200),
        ("/v1/datasets/no-such-thing/rows".to_string(), 404),
        (format!("/v1/datasets/{slug}/rows?filter=id%20%3D"), 400),
        ("/v1/datasets".to_string(), 200),
    ];
    let counts = Arc::new(Mutex::new(BTreeMap::<u16, usize>::new()));
    let mut clients = Vec::new();
    for c in 0..16 {
        let (app_url, http, counts, paths) = (
            app.address.clone(),
            app.client.clone(),
            counts.clone(),
            paths.clone(),
        );
        clients.push(tokio::spawn(async move {
            let until = Instant::now() + Duration::from_secs(10);
            let mut n = 0usize;
            while Instant::now() < until {
                let (path, want) = &paths[n % paths.len()];
                n += 1;
                let res = http
                    .get(format!("{app_url}{path}"))
                    .header("x-request-id", format!("busy-{c}-{n}"))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                assert_eq!(status, *want, "{path}");
                let _ = res.bytes().await;
                *counts.lock().unwrap().entry(status).or_default() += 1;
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let counts = counts.lock().unwrap().clone();
    let sent: usize = counts.values().sum();

    let log = audit_log(&app.client, app.url("/v1/admin/audit/export")).await;
    let mine: Vec<&Value> = log
        .iter()
        .filter(|r| {
            r["request_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("busy-"))
        })
        .collect();
    assert_eq!(
        mine.len(),
        sent,
        "records {} for {sent} answers",
        mine.len()
    );
    let mut by_status = BTreeMap::<u16, usize>::new();
    for r in &mine {
        *by_status
            .entry(u16::try_from(r["status"].as_u64().unwrap()).unwrap())
            .or_default() += 1;
    }
    assert_eq!(by_status, counts);
    let ids: HashSet<&str> = mine
        .iter()
        .filter_map(|r| r["request_id"].as_str())
        .collect();
    assert_eq!(ids.len(), sent, "a request was recorded twice");
    for (i, r) in log.iter().enumerate() {
        assert_eq!(r["seq"], json!(i + 1), "gap or disorder at {i}");
    }
    let report: Value = app
        .admin(app.client.get(app.url("/v1/admin/audit/verify")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["ok"], json!(true), "{report}");
    assert!(
        report["chains"][0]["sealed"].as_i64().unwrap() >= 500,
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_an_export_finishes_it_records_its_end_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let csv = dir.path().join("big.csv");
    let mut text = String::from("id,name,value\n");
    let rows = 150_000;
    for i in 0..rows {
        text.push_str(&format!("{i},row number {i},{}\n", i % 97));
    }
    std::fs::write(&csv, text).unwrap();
    let import = Command::new(BIN)
        .args(["import", csv.to_str().unwrap(), "--dataset", "big"])
        .env("KAIFANG_DATABASE_URL", &db)
        .env_remove("KAIFANG_CONFIG")
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );

    let mut server = Server::start(&db, &[]);
    let client = client();
    let mut res = client
        .get(server.url("/v1/datasets/big/export?format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.chunk().await.unwrap().unwrap().to_vec();
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // A new connection is refused once the server stops accepting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(client.get(server.url("/v1/datasets")).send().await.is_err());
    while let Some(chunk) = res.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body).unwrap();
    assert_eq!(text.lines().count(), rows + 1, "the export was cut short");

    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");

    let out = Command::new(BIN)
        .args(["audit", "verify"])
        .env("KAIFANG_DATABASE_URL", &db)
        .env_remove("KAIFANG_CONFIG")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    // Everything was sealed by a checkpoint on the way out.
    assert!(report.contains(" 0 unsealed"), "{report}");
    let ends = Command::new("sqlite3")
        .arg(kaifang::db::audit_path(&db))
        .arg("SELECT rows FROM audit_records WHERE kind = 'export_end'")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ends.stdout).trim(),
        rows.to_string()
    );
}
