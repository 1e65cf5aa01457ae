use std::process::ExitCode;

use clap::Parser;
use fathom::cli::{run, Cli};

/// mimalloc: a request allocates many small, short-lived buffers (see bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    fathom::logging::init(cli.config.log_format, &cli.config.log);
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
