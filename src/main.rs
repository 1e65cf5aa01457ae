use clap::Parser;
use fathom::cli::{run, Cli};

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_new(&cli.config.log).unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if let Err(err) = run(cli).await {
        let detail = match &err {
            fathom::error::AppError::Internal(d) => d.clone(),
            other => other.to_string(),
        };
        eprintln!("fathom: {detail}");
        std::process::exit(1);
    }
}
