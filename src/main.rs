//! The `kaifang` binary: parse the command line, load the settings, set up
//! logging, run.

use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let cli = kaifang::cli::Cli::parse();
    let settings = match kaifang::cli::settings_for(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    kaifang::logging::init(&settings.log_format);
    match kaifang::cli::run(cli, settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
