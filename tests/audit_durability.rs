//! The audit log's promises checked against the real binary in a child
//! process: an answered request is on disk even if the server is killed
//! with SIGKILL right after, and concurrent clients each leave exactly one
//! record on a chain without gaps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_kaifang");
const ADMIN_TOKEN: &str = "audit-durability-admin-token-0123456789";
const SLUG: &str = "flights";
const UA_PAGE: &str = "/v1/datasets/flights/rows?limit=10&filter=carrier%20%3D%20%27UA%27";

/// The CLI on the database in `dir`, shielded from the developer's own
/// settings: a stray `KAIFANG_*` variable or `./kaifang.toml` would change
/// what is being tested.
fn kaifang(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("KAIFANG_") || name == "DATABASE_URL" {
            cmd.env_remove(&key);
        }
    }
    cmd.current_dir(dir)
        .env("KAIFANG_DATABASE_URL", dir.join("k.db"))
        .env("KAIFANG_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("KAIFANG_LOG", "warn");
    cmd
}

fn import_flights(dir: &Path) {
    let csv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/bts_nyc_flights_2013_first20000.csv");
    let out = kaifang(dir)
        .arg("import")
        .arg(csv)
        .args(["--dataset", SLUG])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn client() -> reqwest::Client {
    // A timeout so that a hung gateway fails the test instead of hanging it.
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The gateway as a child process, so that it can be killed outright.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    /// Starts `kaifang serve` on the database in `dir` and waits until it answers.
    async fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        // Kept beside the database: after a failure it tells why the server died.
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let child = kaifang(dir)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        // Owned by a Server from here on, so a failed start still kills it.
        let mut server = Server {
            child,
            port: 0,
            dir: dir.to_path_buf(),
        };
        let stdout = server.child.stdout.take().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            // Reading to the end also keeps the pipe from filling up and blocking the server.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let port = line.strip_prefix("Kaifang is listening on http://127.0.0.1:");
                if let (Some(port), Some(tx)) =
                    (port.and_then(|p| p.trim().parse::<u16>().ok()), tx.take())
                {
                    let _ = tx.send(port);
                }
            }
        });
        server.port = tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("no listening line; see {}", server.log_path().display()));
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let http = client();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(res) = http.get(self.url("/v1/datasets")).send().await
                && res.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not ready after 10 s; see {}",
                self.log_path().display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// SIGKILL: no shutdown hook, no final checkpoint, no flush.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Every audit record, oldest first.
    async fn audit_records(&self, http: &reqwest::Client) -> Vec<Value> {
        let res = http
            .get(self.url("/v1/admin/audit/export?format=ndjson"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "audit export refused");
        let text = res.text().await.unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    async fn verify(&self, http: &reqwest::Client) -> Value {
        let res = http
            .get(self.url("/v1/admin/audit/verify"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200, "audit verify refused");
        res.json().await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kaifang audit verify` must agree with the HTTP report; it reads the
/// database and the checkpoint log on its own, without the server's state.
fn cli_verify(dir: &Path) {
    let out = kaifang(dir).args(["audit", "verify"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "kaifang audit verify:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn request_id(record: &Value) -> &str {
    record["request_id"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    import_flights(dir.path());
    let every = std::env::var("KD_CP_EVERY").unwrap_or("1000".into());
    let mut server = Server::start(
        dir.path(),
        &[("KAIFANG_AUDIT_CHECKPOINT_EVERY", every.as_str())],
    )
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let page = server.url(UA_PAGE);
    let mut clients = Vec::new();
    for c in 0..8 {
        let (stop, page) = (stop.clone(), page.clone());
        clients.push(tokio::spawn(async move {
            let http = client();
            let mut acknowledged = Vec::new();
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let id = format!("kill-{c}-{n}");
                if let Ok(res) = http.get(&page).header("x-request-id", &id).send().await
                    && res.status().is_success()
                {
                    // The record is committed before the status line leaves,
                    // so a 2xx head alone is the acknowledgement.
                    acknowledged.push(id);
                    let _ = res.bytes().await;
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for c in clients {
        acknowledged.extend(c.await.unwrap());
    }
    eprintln!("STAT acked={}", acknowledged.len());
    assert!(
        acknowledged.len() >= 50,
        "only {} requests answered before the kill",
        acknowledged.len()
    );

    let server = Server::start(dir.path(), &[]).await;
    let http = client();
    let records = server.audit_records(&http).await;
    let mut statuses: HashMap<&str, Vec<i64>> = HashMap::new();
    for r in &records {
        statuses
            .entry(request_id(r))
            .or_default()
            .push(r["status"].as_i64().unwrap());
    }
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| statuses.get(id.as_str()).is_none_or(|s| !s.contains(&200)))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered requests have no 200 record: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    let twice: Vec<(&&str, &Vec<i64>)> = statuses
        .iter()
        .filter(|(id, s)| id.starts_with("kill-") && s.len() > 1)
        .collect();
    assert!(twice.is_empty(), "recorded more than once: {twice:?}");

    let report = server.verify(&http).await;
    eprintln!("STAT records={} report={report}", records.len());
    assert_eq!(report["ok"], json!(true), "{report:#}");
    cli_verify(dir.path());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_parallel_clients_leave_one_record_each_and_an_intact_chain() {
    let dir = tempfile::tempdir().unwrap();
    import_flights(dir.path());
    let server = Server::start(dir.path(), &[("KAIFANG_AUDIT_CHECKPOINT_EVERY", "500")]).await;

    // Successes and refusals at each stage: the audit must not depend on how a request ends.
    let mix = [
        (UA_PAGE, 200),
        ("/v1/datasets/no-such-dataset/rows?limit=10", 404),
        ("/v1/datasets/flights/rows?filter=carrier%20%3D", 400),
        ("/v1/datasets", 200),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut clients = Vec::new();
    for c in 0..16 {
        let urls: Vec<(String, u16)> = mix.iter().map(|(p, s)| (server.url(p), *s)).collect();
        clients.push(tokio::spawn(async move {
            let http = client();
            let mut counts = BTreeMap::<u16, usize>::new();
            let mut surprises = Vec::new();
            let mut n = 0usize;
            while Instant::now() < deadline {
                // Each client starts elsewhere in the mix so all kinds overlap.
                let (url, want) = &urls[(n + c) % urls.len()];
                n += 1;
                match http
                    .get(url)
                    .header("x-request-id", format!("par-{c}-{n}"))
                    .send()
                    .await
                {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        *counts.entry(status).or_default() += 1;
                        if status != *want {
                            surprises.push(format!("{url}: {status} (wanted {want})"));
                        }
                        let _ = res.bytes().await;
                    }
                    Err(e) => surprises.push(format!("{url}: {e}")),
                }
            }
            (counts, surprises)
        }));
    }
    let mut counts = BTreeMap::<u16, usize>::new();
    let mut surprises = Vec::new();
    for c in clients {
        let (mine, odd) = c.await.unwrap();
        for (status, n) in mine {
            *counts.entry(status).or_default() += n;
        }
        surprises.extend(odd);
    }
    let answered: usize = counts.values().sum();
    eprintln!("STAT counts={counts:?}");
    assert!(answered >= 100, "only {answered} answers in 10 s");

    let http = client();
    let records = server.audit_records(&http).await;
    let ours: Vec<&Value> = records
        .iter()
        .filter(|r| request_id(r).starts_with("par-"))
        .collect();
    let mut recorded = BTreeMap::<u16, usize>::new();
    for r in &ours {
        *recorded
            .entry(u16::try_from(r["status"].as_u64().unwrap()).unwrap())
            .or_default() += 1;
        assert_eq!(r["kind"], json!("request"), "{r}");
    }
    assert_eq!(
        ours.len(),
        answered,
        "records vs answers; by status {recorded:?} vs {counts:?}"
    );
    assert_eq!(recorded, counts, "records by status vs answers by status");
    let mut ids: Vec<&str> = ours.iter().map(|r| request_id(r)).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), answered, "a request id was recorded twice");

    let report = server.verify(&http).await;
    assert_eq!(report["ok"], json!(true), "{report:#}");
    let chains = report["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 1, "{report:#}");
    let chain = &chains[0];
    let mut seqs: Vec<i64> = records
        .iter()
        .filter(|r| r["chain"] == chain["chain"])
        .map(|r| r["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs.len(), records.len(), "records outside the only chain");
    seqs.sort_unstable();
    let expected: Vec<i64> = (1..=i64::try_from(seqs.len()).unwrap()).collect();
    assert!(
        seqs == expected,
        "seqs have a gap or a repeat (first {:?}, last {:?})",
        seqs.first(),
        seqs.last()
    );
    assert!(
        chain["head_seq"].as_i64().unwrap() >= *expected.last().unwrap(),
        "{report:#}"
    );
    assert!(
        chain["checkpoints"].as_i64().unwrap() >= 1,
        "no checkpoint: {report:#}"
    );
    assert!(
        chain["sealed"].as_i64().unwrap() >= 500,
        "nothing sealed: {report:#}"
    );
    assert!(
        surprises.is_empty(),
        "{} unexpected answers, first: {:?}",
        surprises.len(),
        &surprises[..surprises.len().min(5)]
    );
}
