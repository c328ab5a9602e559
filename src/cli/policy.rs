//! `kaifang policy test DIR` checks files of expected decisions against the
//! shipped rules; `policy export` and `policy import` move the rules in force
//! between the database and a CSV file.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::policy::store::{self, Author};
use crate::policy::{self, Engine, Rule, cases, edits};
use crate::startup::open_database;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run the policy tests of DIR (*.csv: subject, roles, dataset, tier, org,
    /// action, expected) against policies/policy.csv plus the rules of every
    /// organisation they name; exits 1 on a failed case.
    Test {
        /// The folder of test files, e.g. policies/tests.
        dir: PathBuf,
    },
    /// Print the rules in force (or those of --revision N) as policy CSV.
    Export {
        /// A past revision instead of the rules in force.
        #[arg(long)]
        revision: Option<i64>,
    },
    /// Make the rules of FILE (policy CSV) the rules in force, as one new
    /// revision; running gateways enforce it within a second.
    Import {
        file: PathBuf,
        /// Why; kept with the revision.
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(settings: &Settings, command: PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::Export { revision } => {
            let db = open_database(settings)?;
            db.run(policy::prepare_store).await?;
            let (number, rules) = db
                .run(move |conn| match revision {
                    Some(n) => store::revision(conn, n).map(|(info, rules)| (info.number, rules)),
                    None => store::snapshot(conn),
                })
                .await?;
            print!("{}", export_text(number, &rules));
            Ok(())
        }
        PolicyCommand::Import { file, reason } => import(settings, &file, &reason).await,
        PolicyCommand::Test { dir } => {
            let cases = cases::read_dir(&dir).map_err(Error::bad_request)?;
            let rules = policy::starting_rules(&cases::orgs(&cases))
                .map_err(|e| Error::bad_request(e.to_string()))?;
            let engine = Engine::build(policy::MODEL, &rules)
                .await
                .map_err(|e| Error::bad_request(e.to_string()))?;
            let failures = cases::run(&engine, &cases);
            for f in &failures {
                println!("FAIL {f}");
            }
            if failures.is_empty() {
                println!("{} policy cases passed", cases.len());
                Ok(())
            } else {
                Err(Error::conflict(format!(
                    "{} of {} policy cases failed",
                    failures.len(),
                    cases.len()
                )))
            }
        }
    }
}

fn export_text(revision: i64, rules: &[Rule]) -> String {
    let mut out = format!(
        "# Kaifang policy, revision {revision}: {} rules. `kaifang policy import` reads this back.\n",
        rules.len()
    );
    for rule in rules {
        out.push_str(&rule.to_csv_line());
        out.push('\n');
    }
    out
}

async fn import(settings: &Settings, file: &Path, reason: &str) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::bad_request(format!("cannot read {}: {e}", file.display())))?;
    let rules = policy::parse_csv(&text).map_err(|e| Error::bad_request(e.to_string()))?;
    let reason = edits::check_reason(reason).map_err(|e| Error::bad_request(e.to_string()))?;
    // The engine must accept the file before it replaces anything.
    Engine::build(policy::MODEL, &rules)
        .await
        .map_err(|e| Error::bad_request(e.to_string()))?;
    let db = open_database(settings)?;
    db.run(policy::prepare_store).await?;
    let author = Author {
        subject: format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        ),
        reason: format!("imported from {}: {reason}", file.display()),
    };
    let info = db
        .run(move |conn| {
            edits::check_rule_file(&rules, store::known_names(conn)?)
                .map_err(|e| Error::bad_request(e.to_string()))?;
            store::replace_all(conn, &rules, &author)
        })
        .await?;
    println!(
        "revision {}: {} rules in force ({} added, {} removed)",
        info.number, info.rule_count, info.added, info.removed
    );
    Ok(())
}
