//! `kaifang audit verify` and `kaifang audit archive`.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::audit::checkpoint::CheckpointKey;
use crate::audit::verify::Report;
use crate::audit::{archive, check};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::startup::open_database;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every audit chain and check its checkpoints against the
    /// database and the external checkpoint log; exits 1 when anything is wrong.
    Verify {
        /// Verify this archive file instead of the database.
        #[arg(long)]
        archive: Option<PathBuf>,
        /// Checkpoint public key (64 hex digits); default: derived from the key file.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Move each chain's records sealed by a checkpoint made before DATE into
    /// a new file, which verifies on its own, as does the rest of the chain.
    Archive {
        /// RFC 3339 time or date (2026-01-01); records up to the last
        /// checkpoint before it are moved.
        #[arg(long)]
        before: String,
        /// The archive file to create (never overwritten).
        #[arg(long)]
        to: PathBuf,
    },
}

fn public_key(settings: &Settings, given: Option<String>) -> Result<String> {
    if let Some(k) = given {
        return Ok(k.trim().to_lowercase());
    }
    let path = settings.audit_key_path();
    if !path.exists() {
        return Err(Error::bad_request(format!(
            "no checkpoint key at {}; pass --public-key or set audit_key_file",
            path.display()
        )));
    }
    CheckpointKey::load_or_create(&path)
        .map(|k| k.public_key_hex())
        .map_err(Error::bad_request)
}

fn before_bound(before: &str) -> Result<String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(before) {
        return Ok(t
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    }
    chrono::NaiveDate::parse_from_str(before, "%Y-%m-%d")
        .map(|d| format!("{d}T00:00:00.000000Z"))
        .map_err(|_| {
            Error::bad_request(format!(
                "--before must be a date (2026-01-01) or an RFC 3339 time, not '{before}'"
            ))
        })
}

fn print_report(report: &Report, what: &Path) -> Result<()> {
    for c in &report.chains {
        println!(
            "chain {}: {} records, {} sealed by checkpoints, {} unsealed, {} checkpoints, head at {}",
            c.chain, c.records, c.sealed, c.unsealed, c.checkpoints, c.head_seq
        );
    }
    if report.ok() {
        println!("OK: {} verified", what.display());
        return Ok(());
    }
    for p in &report.problems {
        println!("PROBLEM {:?}: {}", p.kind, p.detail);
    }
    Err(Error::conflict(format!(
        "{} failed verification: {} problem(s)",
        what.display(),
        report.problems.len()
    )))
}

pub async fn run(settings: &Settings, command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify {
            archive: Some(file),
            public_key: key,
        } => {
            let key = public_key(settings, key)?;
            let report = archive::verify_archive(&file, &key, &settings.audit_log_path())?;
            print_report(&report, &file)
        }
        AuditCommand::Verify {
            archive: None,
            public_key: key,
        } => {
            let key = public_key(settings, key)?;
            let db = open_database(settings)?;
            let log = settings.audit_log_path();
            let report = db
                .run(move |conn| check::verify_log(conn, &key, &log))
                .await?;
            print_report(&report, Path::new(&settings.database_url))
        }
        AuditCommand::Archive { before, to } => {
            let before = before_bound(&before)?;
            let db = open_database(settings)?;
            let out = to.clone();
            let moved = db
                .run(move |conn| archive::archive(conn, &before, &out))
                .await?;
            if moved.is_empty() {
                println!("nothing to archive: no checkpoint before that time");
            }
            for a in moved {
                println!(
                    "chain {}: moved records {} to {} ({} records) into {}",
                    a.chain,
                    a.from_seq,
                    a.through_seq,
                    a.records,
                    to.display()
                );
            }
            Ok(())
        }
    }
}
