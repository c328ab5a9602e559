//! `kaifang policy test DIR`: checks files of expected decisions against the
//! shipped rules.

use std::path::PathBuf;

use clap::Subcommand;

use crate::error::{Error, Result};
use crate::policy::{self, Engine, cases};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run the policy tests of DIR (*.csv: subject, roles, dataset, tier, org,
    /// action, expected) against policies/policy.csv plus the rules of every
    /// organisation they name; exits 1 on a failed case.
    Test {
        /// The folder of test files, e.g. policies/tests.
        dir: PathBuf,
    },
}

pub async fn run(command: PolicyCommand) -> Result<()> {
    match command {
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
