//! Where log lines go and how they look: readable text by default, one JSON
//! object a line with `log_format = "json"` (or `--log-format json`), on
//! standard error, filtered by `KAIFANG_LOG` (or `RUST_LOG`). What is
//! logged is decided where it is logged; this room never adds fields, so a
//! token or a masked value can only reach a log if a caller writes it.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; call once, before anything logs.
pub fn init(format: &str) {
    let filter = std::env::var("KAIFANG_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_string());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder.init();
    }
}
