//! The command line's configuration and logging: `kaifang config check`
//! prints the effective settings with secrets redacted and fails on a bad
//! file; `--log-format json` (or KAIFANG_LOG_FORMAT) writes JSON log lines.

use std::process::{Command, Output};

fn kaifang(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaifang"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("KAIFANG_CONFIG")
        .env_remove("KAIFANG_LOG_FORMAT")
        .env_remove("KAIFANG_ADMIN_TOKEN")
        .env_remove("KAIFANG_LOG")
        .env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn config_check_prints_effective_settings_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kaifang.toml");
    std::fs::write(
        &file,
        "admin_token = \"file-admin-token-0123456789\"\nmax_limit = 500\n\
         cors_allowed_origins = [\"https://portal.example.gov\"]\n\
         [jwt]\nhs256_secret = \"jwt-secret-0123456789abcdef0123456789\"\n",
    )
    .unwrap();
    let out = kaifang(
        dir.path(),
        &["config", "check", "--config", file.to_str().unwrap()],
        &[("KAIFANG_POOL_SIZE", "3")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("max_limit = 500"), "{stdout}");
    assert!(
        stdout.contains("pool_size = 3"),
        "the environment applies: {stdout}"
    );
    assert!(stdout.contains("admin_token = \"[redacted]\""), "{stdout}");
    assert!(stdout.contains("hs256_secret = \"[redacted]\""), "{stdout}");
    assert!(!stdout.contains("file-admin-token"), "{stdout}");
    assert!(!stdout.contains("jwt-secret-0123"), "{stdout}");
}

#[test]
fn config_check_fails_with_the_error_on_an_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "max_limt = 3\n").unwrap();
    let out = kaifang(
        dir.path(),
        &["config", "check", "--config", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("max_limt"), "{stderr}");
    std::fs::write(&file, "log_format = \"xml\"\n").unwrap();
    let out = kaifang(
        dir.path(),
        &["config", "check", "--config", file.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("log_format"));
    let out = kaifang(
        dir.path(),
        &["config", "check"],
        &[("KAIFANG_CORS_ALLOWED_ORIGINS", "https://ok.example,*")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cors_allowed_origins"));
}

#[test]
fn log_lines_are_json_with_the_flag_or_the_variable_and_text_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let db = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let json_line = |out: &Output| {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        stderr
            .lines()
            .find(|l| l.contains("applied migrations"))
            .unwrap_or_else(|| panic!("{stderr}"))
            .to_string()
    };
    let out = kaifang(
        dir.path(),
        &["--log-format", "json", "migrate"],
        &[("KAIFANG_DATABASE_URL", &db("a.db"))],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_str(&json_line(&out)).unwrap();
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["message"], "applied migrations");
    let out = kaifang(
        dir.path(),
        &["migrate"],
        &[
            ("KAIFANG_DATABASE_URL", &db("b.db")),
            ("KAIFANG_LOG_FORMAT", "json"),
        ],
    );
    assert!(serde_json::from_str::<serde_json::Value>(&json_line(&out)).is_ok());
    let out = kaifang(
        dir.path(),
        &["migrate"],
        &[("KAIFANG_DATABASE_URL", &db("c.db"))],
    );
    let line = json_line(&out);
    assert!(serde_json::from_str::<serde_json::Value>(&line).is_err());
    assert!(line.contains("INFO") && !line.contains('\u{1b}'), "{line}");
}

/// The pool opens its connections at once; on a new file those racing to
/// switch it to WAL used to fail and be retried, logging "database is locked"
/// as an error on a newcomer's first start. Several new files, since the race
/// is not lost every time.
#[test]
fn a_new_sqlite_database_is_opened_without_an_error_logged() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("small.csv");
    std::fs::write(&csv, "id,name\n1,a\n2,b\n").unwrap();
    for n in 0..8 {
        let db = dir.path().join(format!("new-{n}.db"));
        let out = kaifang(
            dir.path(),
            &[
                "import",
                csv.to_str().unwrap(),
                "--dataset",
                "small",
                "--org",
                "o",
            ],
            &[
                ("KAIFANG_DATABASE_URL", db.to_str().unwrap()),
                ("KAIFANG_POOL_SIZE", "8"),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("ERROR"), "{stderr}");
    }
}
