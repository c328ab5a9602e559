//! The command line: `serve`, `migrate`, `import`, `openapi`, `token`,
//! `policy`, `audit` and `config`. Each
//! command loads the settings and calls the rooms; nothing here is logic of
//! its own beyond presenting progress and results on the terminal.

mod audit;
mod config;
mod copy;
mod policy;
mod progress;
mod token;
mod welcome;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::catalog::{self, DatasetSlug, NewDataset, Tier};
use crate::config::Settings;
use crate::data::import::{ImportSource, import_file};
use crate::error::{Error, Result};
use crate::startup::{Application, open_database};
use progress::TerminalProgress;
use welcome::{DemoTokens, print_welcome};

#[derive(Debug, Parser)]
#[command(name = "kaifang", version, about = "Public data sharing gateway")]
pub struct Cli {
    /// Configuration file (default: ./kaifang.toml when present).
    #[arg(long, global = true, env = "KAIFANG_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format: readable `text` or one JSON object a line (`json`); overrides
    /// `log_format` and KAIFANG_LOG_FORMAT.
    #[arg(long, global = true, value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP gateway.
    Serve {
        /// Load the demo datasets into an empty database and print how to use them.
        #[arg(long)]
        demo: bool,
        /// Address to listen on (overrides the configuration).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Copy this SQLite deployment (metadata, policy and revisions, grants,
    /// datasets, the audit log) into an empty PostgreSQL database.
    Copy {
        /// The target, `postgres://USER@HOST:PORT/DB`; it must exist and hold no datasets.
        #[arg(long)]
        to: String,
    },
    /// Import a CSV file (optionally gzipped) as a dataset or its next version.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// Dataset slug.
        #[arg(long)]
        dataset: String,
        /// Title (for a new dataset; default: the slug).
        #[arg(long)]
        title: Option<String>,
        /// Description (for a new dataset).
        #[arg(long, default_value = "")]
        description: String,
        /// Publishing organisation slug (for a new dataset).
        #[arg(long, default_value = "default")]
        org: String,
        /// Openness tier (for a new dataset).
        #[arg(long, default_value = "open")]
        tier: String,
        /// Licence (for a new dataset).
        #[arg(long, default_value = "")]
        licence: String,
        /// Tag (for a new dataset); repeat for several.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Sensitive column (for a new dataset); repeat for several.
        #[arg(long = "sensitive")]
        sensitive: Vec<String>,
        /// Publish a new version of an existing dataset.
        #[arg(long)]
        replace: bool,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Sign a JWT with the configured HS256 secret (jwt.hs256_secret).
    Token {
        /// The subject (`sub`).
        #[arg(long)]
        sub: String,
        /// A role; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// The organisation claim.
        #[arg(long)]
        org: Option<String>,
        /// An attribute claim NAME=VALUE that row filters read as
        /// `:principal.NAME`; repeat for several.
        #[arg(long = "claim")]
        claims: Vec<String>,
        /// Lifetime: 90s, 30m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
    /// Test, export or import the policy.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Verify or archive the audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Check the configuration.
    Config {
        #[command(subcommand)]
        command: config::ConfigCommand,
    },
}

pub fn load_settings(config: Option<&Path>) -> Result<Settings> {
    Settings::load(config)
}

/// The settings the parsed command line asks for: the file, the
/// environment, then the global flags.
pub fn settings_for(cli: &Cli) -> Result<Settings> {
    let mut settings = load_settings(cli.config.as_deref())?;
    if let Some(format) = &cli.log_format {
        settings.log_format.clone_from(format);
    }
    settings.validate()?;
    Ok(settings)
}

/// Runs the parsed command with the settings `settings_for` loaded.
pub async fn run(cli: Cli, mut settings: Settings) -> Result<()> {
    match cli.command {
        Command::Config { command } => config::run(&settings, cli.config.as_deref(), command),
        Command::Openapi => {
            let doc = crate::api::openapi();
            let json = doc
                .to_pretty_json()
                .map_err(|e| Error::internal("rendering the OpenAPI document", e))?;
            println!("{json}");
            Ok(())
        }
        Command::Audit { command } => audit::run(&settings, command).await,
        Command::Policy { command } => policy::run(&settings, command).await,
        Command::Token {
            sub,
            roles,
            org,
            claims,
            ttl,
        } => {
            let ttl_secs = token::parse_ttl(&ttl)?;
            let claims = claims
                .iter()
                .map(|c| token::parse_claim(c))
                .collect::<Result<Vec<_>>>()?;
            let spec = token::TokenSpec {
                subject: &sub,
                roles: &roles,
                org: org.as_deref(),
                claims: &claims,
                ttl_secs,
            };
            println!("{}", token::sign_spec(&settings.jwt, &spec)?);
            Ok(())
        }
        Command::Copy { to } => {
            let from = open_database(&settings)?;
            let mut target = settings.clone();
            target.database_url = to;
            let to = open_database(&target)?;
            copy::copy(&from, &to)?;
            println!("copied; check it with: DATABASE_URL=<target> kaifang audit verify");
            Ok(())
        }
        Command::Migrate => {
            let db = open_database(&settings)?;
            drop(db);
            println!("database at {} is up to date", settings.database_url);
            Ok(())
        }
        Command::Serve { demo, bind } => {
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            let mut demo_tokens = None;
            if demo && !settings.jwt.enabled() {
                // A secret for this run only: its tokens die with the process.
                let bytes: [u8; 32] = rand::random();
                let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                settings.jwt.hs256_secret = Some(secret);
                let ttl = 12 * 3600;
                let admin = token::sign(&settings.jwt, "demo-admin", &["admin".into()], None, ttl)?;
                let user = token::sign(&settings.jwt, "demo-user", &[], None, ttl)?;
                let reviewer = token::sign(
                    &settings.jwt,
                    "demo-reviewer",
                    &["reviewer".into()],
                    Some("us-census-bureau"),
                    ttl,
                )?;
                demo_tokens = Some(DemoTokens {
                    admin,
                    user,
                    reviewer,
                });
            }
            let db = open_database(&settings)?;
            if demo {
                let loaded = crate::demo::load_demo(&db).await?;
                if loaded > 0 {
                    println!("loaded {loaded} demo datasets");
                }
            }
            let app = Application::build(&settings, db).await?;
            print_welcome(&settings, app.port(), demo_tokens.as_ref());
            app.run_until_stopped()
                .await
                .map_err(|e| Error::internal("serving HTTP", e))
        }
        Command::Import {
            file,
            dataset,
            title,
            description,
            org,
            tier,
            licence,
            tags,
            sensitive,
            replace,
        } => {
            let db = open_database(&settings)?;
            let slug = DatasetSlug::parse(&dataset)?;
            let tier = Tier::parse(&tier)?;
            let new = NewDataset {
                slug: dataset.clone(),
                title: title.unwrap_or_else(|| dataset.clone()),
                description,
                organization: org,
                licence,
                tags,
                tier,
                sensitive_columns: sensitive,
            };
            let source_name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "input.csv".to_string());
            let imported_by = format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".to_string())
            );
            let version = db
                .run(move |conn| {
                    let record = match catalog::find_dataset(conn, &slug)? {
                        Some(existing) if replace => existing,
                        Some(_) => {
                            return Err(Error::conflict(format!(
                                "dataset '{slug}' exists already; add --replace to publish a new version"
                            )));
                        }
                        None => catalog::create_dataset(conn, &new)?,
                    };
                    let mut progress = TerminalProgress::new();
                    let source = ImportSource {
                        name: source_name,
                        imported_by,
                    };
                    let result = import_file(conn, &record, &file, &source, &mut progress);
                    progress.finish();
                    result
                })
                .await?;
            println!(
                "dataset '{dataset}' is now at version {} with {} rows and {} columns",
                version.number,
                version.row_count,
                version.columns.len()
            );
            Ok(())
        }
    }
}
