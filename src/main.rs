use std::process::ExitCode;

use clap::Parser;
use fathom::cli::{run, Cli};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_new(&cli.config.log).unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let error_status = cli.command.error_status();
    match run(cli).await {
        Ok(status) => status,
        Err(err) => {
            let detail = match &err {
                fathom::error::AppError::Internal(d) => d.clone(),
                other => other.to_string(),
            };
            eprintln!("fathom: {detail}");
            ExitCode::from(error_status)
        }
    }
}
