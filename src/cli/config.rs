//! `kaifang config check`: the settings were already loaded and validated
//! before any command runs (an invalid file never gets here); this prints
//! the effective values as TOML with every secret redacted, so an operator
//! sees what the environment changed without exposing a secret.

use std::path::Path;

use clap::Subcommand;

use crate::config::{REDACTED, Settings};
use crate::error::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (file, then environment) and print the
    /// effective settings with secrets redacted; exit status 1 when invalid.
    Check,
}

pub fn run(settings: &Settings, file: Option<&Path>, command: ConfigCommand) -> Result<()> {
    match command {
        ConfigCommand::Check => {
            let source = match file {
                Some(path) => path.display().to_string(),
                None if Path::new("kaifang.toml").exists() => "kaifang.toml".to_string(),
                None => "defaults (no kaifang.toml)".to_string(),
            };
            println!("# configuration is valid: {source}, then KAIFANG_* variables");
            println!("# effective settings, secrets shown as \"{REDACTED}\"");
            print!("{}", effective(settings)?);
            Ok(())
        }
    }
}

/// The settings as TOML, secrets redacted (including a password in a
/// database URL).
pub fn effective(settings: &Settings) -> Result<String> {
    let mut value = toml::Value::try_from(settings)
        .map_err(|e| Error::internal("rendering the settings", e))?;
    if let Some(toml::Value::String(url)) = value.get_mut("database_url") {
        *url = redact_url_password(url);
    }
    toml::to_string_pretty(&value).map_err(|e| Error::internal("rendering the settings", e))
}

/// `postgres://user:pw@host/db` -> `postgres://user:[redacted]@host/db`.
fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:{REDACTED}@{host}{path}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn secrets_are_redacted() {
        let mut s = Settings {
            admin_token: Some(Secret::new("a-very-secret-admin-token")),
            database_url: "postgres://kf:hunter2@db.example/kaifang".to_string(),
            ..Settings::default()
        };
        s.jwt.hs256_secret = Some("an-hs256-secret-of-at-least-32-bytes!!".to_string());
        let out = effective(&s).unwrap();
        assert!(!out.contains("a-very-secret"), "{out}");
        assert!(!out.contains("an-hs256"), "{out}");
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("admin_token = \"[redacted]\""), "{out}");
        assert!(out.contains("hs256_secret = \"[redacted]\""), "{out}");
        assert!(
            out.contains("postgres://kf:[redacted]@db.example/kaifang"),
            "{out}"
        );
        // The output reads back as a configuration file.
        let back: Settings = toml::from_str(&out).unwrap();
        assert_eq!(back.max_limit, s.max_limit);
    }

    #[test]
    fn urls_without_password_are_unchanged() {
        assert_eq!(redact_url_password("var/kaifang.db"), "var/kaifang.db");
        assert_eq!(redact_url_password("sqlite://a/b.db"), "sqlite://a/b.db");
        assert_eq!(redact_url_password("postgres://u@h/d"), "postgres://u@h/d");
    }
}
