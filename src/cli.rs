//! The `fathom` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::{app, db, graphql, service, tooling};

#[derive(Debug, Parser)]
#[command(
    name = "fathom",
    version,
    about = "GraphQL API for the account lifecycle of internet service providers"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate, seed an empty database, and serve HTTP.
    Serve {
        /// Also load a small sample book of accounts.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Personal access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Run the billing pass for a local date (default: today in the instance time zone).
    Bill {
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Accounts billed per transaction. Progress goes to standard error; an interrupted
        /// pass can be run again: it bills what is left.
        #[arg(long, env = "FATHOM_BILLING_BATCH", default_value_t = service::billing::pass::DEFAULT_BATCH)]
        batch: u64,
    },
    /// Run the delinquency pass for a local date (default: today in the instance time zone):
    /// mark invoices and accounts delinquent, and on check days that are not excluded switch
    /// statuses and disconnect for non-payment as billing defaults and settings say.
    Delinquency {
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Candidate accounts read per statement.
        #[arg(long, default_value_t = service::lifecycle::delinquency::DEFAULT_BATCH)]
        batch: u64,
    },
    /// Carry out due scheduled events and disconnection runs, run the delinquency pass and
    /// deliver webhook dispatches, without serving HTTP.
    RunScheduled {
        /// Run what is due now and exit (default: keep running).
        #[arg(long)]
        once: bool,
        /// Events carried out per transaction.
        #[arg(long, env = "FATHOM_SCHEDULER_BATCH", default_value_t = service::lifecycle::scheduled::DEFAULT_BATCH)]
        batch: u64,
    },
    /// Carry out the disconnection runs that are due, and exit.
    RunDisconnections {
        /// Accounts disconnected per transaction (default: `FATHOM_DISCONNECTION_RUN_BATCH`).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
        batch: Option<u64>,
        /// Workers at once (default: 4 on PostgreSQL, 1 on SQLite).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Generate a realistic book of accounts with history (for benchmarks).
    Seed {
        /// How many accounts.
        #[arg(long)]
        accounts: u64,
        /// Months of history.
        #[arg(long, default_value_t = 12)]
        months: u32,
    },
    /// Check the books: money conserved on every invoice and discount, billed periods
    /// contiguous, every disconnection whole. Prints each violation (the first 1,000) and a
    /// line per check; exit status 0 when all is right, 1 when a violation was found, 2 when
    /// the check could not run.
    Verify,
    /// Print the GraphQL schema (SDL).
    Schema,
}

impl Command {
    /// The exit status when the command fails with an error: 1, except for `verify`, whose 1
    /// means "violations found" (the books are wrong, not the program), so its errors exit 2.
    pub fn error_status(&self) -> u8 {
        match self {
            Command::Verify => 2,
            _ => 1,
        }
    }
}

/// How many violations `fathom verify` prints before only counting them.
pub const MAX_PRINTED_VIOLATIONS: u64 = 1000;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it alone on stdout.
    Create {
        #[arg(long)]
        name: String,
        /// The user the token acts as (default: admin, created when there are no users).
        #[arg(long, default_value = "admin")]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print their id alone on stdout. Give them a token with
    /// `fathom token create --name NAME --user USERNAME`.
    Create {
        /// Unique, without spaces.
        #[arg(long)]
        username: String,
        /// The role by name: "Administrator", "Billing" or "Read Only" (or another role's name).
        #[arg(long)]
        role: String,
        /// The user's name (default: the username); also their public name.
        #[arg(long)]
        name: Option<String>,
        /// The user's email address (default: USERNAME@fathom.invalid, a reserved domain that
        /// can never be a real address; fathom sends no email).
        #[arg(long)]
        email: Option<String>,
    },
}

/// Runs a command; `Ok` carries the exit status of a command that ran to its end (only
/// `verify` ends with a failure status, when it found violations).
pub async fn run(cli: Cli) -> AppResult<ExitCode> {
    let config = cli.config;
    match cli.command {
        Command::Schema => {
            let conn = sea_orm::DatabaseConnection::default();
            let schema = graphql::schema::build_schema(conn, &config.limits)
                .map_err(|e| AppError::internal(format!("{e}")))?;
            print!("{}", schema.sdl());
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            eprintln!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            command: TokenCommand::Create { name, user },
        } => {
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            tooling::seed::seed_defaults(&conn).await?;
            let txn = service::base::store::begin_write(&conn).await?;
            let found = match service::access::tokens::find_by_username(&txn, &user).await? {
                Some(u) => u,
                None if !service::access::tokens::any_user(&txn).await? && user == "admin" => {
                    service::access::tokens::create_user(
                        &txn,
                        "admin",
                        "Administrator",
                        "admin@example.com",
                        "Administrator",
                    )
                    .await?
                }
                None => return Err(AppError::NotFound(format!("no user named {user}"))),
            };
            let (_, token) = service::access::tokens::create_token(&txn, found.id, &name).await?;
            txn.commit().await?;
            println!("{}", token.as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::User {
            command:
                UserCommand::Create {
                    username,
                    role,
                    name,
                    email,
                },
        } => {
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            if let Some(token) = tooling::seed::seed_defaults(&conn).await? {
                eprintln!("admin token (shown once): {token}");
            }
            let user = service::access::users::create_from_cli(
                &conn,
                &username,
                &role,
                name.as_deref(),
                email.as_deref(),
            )
            .await?;
            println!("{}", user.id);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bill { date, batch } => {
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            tooling::seed::seed_defaults(&conn).await?;
            let date = match date {
                Some(d) => d,
                None => {
                    service::base::settings::local_date(&conn, service::base::clock::now()).await?
                }
            };
            let started = std::time::Instant::now();
            let mut shown = started;
            let report = service::billing::pass::run_pass_with(&conn, date, batch, |p| {
                // A line a second at most (and the last one).
                if shown.elapsed().as_secs_f64() >= 1.0 || p.seen == p.due {
                    shown = std::time::Instant::now();
                    eprintln!(
                        "billing {date}: {} of {} due account(s) done, {} billed ({:.0}/s)",
                        p.seen,
                        p.due,
                        p.billed,
                        p.billed as f64 / started.elapsed().as_secs_f64().max(0.001)
                    );
                }
            })
            .await?;
            println!(
                "billed {date}: {} account(s), {} debit(s), {} invoice(s)",
                report.accounts_billed, report.debits_created, report.invoices_created
            );
            if report.failed > 0 {
                // Each was logged with its error; the exit status tells a scheduler.
                let ids: Vec<String> = report.failed_accounts.iter().map(i64::to_string).collect();
                eprintln!(
                    "could not bill {} account(s) due by {date}: {} (see the log; the next pass tries again)",
                    report.failed,
                    ids.join(", ")
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Delinquency { date, batch } => {
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            tooling::seed::seed_defaults(&conn).await?;
            let date = match date {
                Some(d) => d,
                None => {
                    service::base::settings::local_date(&conn, service::base::clock::now()).await?
                }
            };
            let started = std::time::Instant::now();
            let report = service::lifecycle::delinquency::run_pass_with(&conn, date, batch).await?;
            println!(
                "delinquency {date}: {} invoice(s) and {} account(s) now delinquent, {} invoice(s) and {} account(s) no longer; {}; {} account(s) looked at, {} switched, {} restored, {} disconnected ({:.1} s)",
                report.marked.invoices_now_delinquent,
                report.marked.accounts_now_delinquent,
                report.marked.invoices_no_longer_delinquent,
                report.marked.accounts_no_longer_delinquent,
                if report.excluded {
                    "an exclusion date: nobody switched or disconnected"
                } else if !report.check_day {
                    "not a check day: nobody switched or disconnected"
                } else {
                    "a check day"
                },
                report.accounts_seen,
                report.accounts_switched,
                report.accounts_restored,
                report.accounts_disconnected,
                started.elapsed().as_secs_f64()
            );
            if report.failed > 0 {
                let ids: Vec<String> = report.failed_accounts.iter().map(i64::to_string).collect();
                eprintln!(
                    "the delinquency pass failed on {} account(s): {} (see the log; the next pass tries again)",
                    report.failed,
                    ids.join(", ")
                );
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::RunScheduled { once, batch } => {
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            tooling::seed::seed_defaults(&conn).await?;
            if once {
                let report = service::lifecycle::scheduled::run_due_in(
                    &conn,
                    service::base::clock::now(),
                    batch,
                )
                .await?;
                println!(
                    "scheduled events: {} completed, {} failed, {} to retry",
                    report.completed, report.failed, report.retried
                );
                let runs = service::lifecycle::disconnection_runs::run_due_with_workers(
                    &conn,
                    service::base::clock::now(),
                    config.disconnection_run_batch,
                    service::lifecycle::disconnection_runs::workers_for(&conn),
                )
                .await?;
                println!(
                    "disconnection runs: {} disconnected, {} failed",
                    runs.done, runs.failed
                );
                let today =
                    service::base::settings::local_date(&conn, service::base::clock::now()).await?;
                let pass = service::lifecycle::delinquency::run_pass(&conn, today).await?;
                println!(
                    "delinquency {today}: {} switched, {} restored, {} disconnected, {} failed",
                    pass.accounts_switched,
                    pass.accounts_restored,
                    pass.accounts_disconnected,
                    pass.failed
                );
                let delivery =
                    service::webhooks::delivery::Delivery::new(config.limits.webhooks.policy())?;
                let sent = service::webhooks::delivery::deliver_due(
                    &conn,
                    &delivery,
                    service::base::clock::now(),
                    1000,
                )
                .await?;
                println!(
                    "webhooks: {} delivered, {} failed attempt(s), {} given up",
                    sent.delivered, sent.failed_attempts, sent.given_up
                );
            } else {
                let delivery =
                    service::webhooks::delivery::Delivery::new(config.limits.webhooks.policy())?;
                tokio::spawn(crate::worker::webhook_loop(conn.clone(), delivery));
                tokio::spawn(crate::worker::delinquency_loop(conn.clone()));
                tokio::spawn(crate::worker::disconnection_run_loop(
                    conn.clone(),
                    config.disconnection_run_batch,
                ));
                crate::worker::scheduler_loop(conn, batch).await;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::RunDisconnections { batch, workers } => {
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            tooling::seed::seed_defaults(&conn).await?;
            let workers = workers
                .unwrap_or_else(|| service::lifecycle::disconnection_runs::workers_for(&conn));
            let report = service::lifecycle::disconnection_runs::run_due_with_workers(
                &conn,
                service::base::clock::now(),
                batch.unwrap_or(config.disconnection_run_batch),
                workers,
            )
            .await?;
            println!(
                "disconnection runs: {} disconnected, {} failed",
                report.done, report.failed
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Seed { accounts, months } => {
            let conn = db::connect(&config.database_url).await?;
            db::migrate(&conn).await?;
            if let Some(token) = tooling::seed::seed_defaults(&conn).await? {
                eprintln!("admin token (shown once): {token}");
            }
            let summary =
                tooling::book::seed_book(&conn, accounts, months, &SeedBar::new(accounts)).await?;
            let secs = summary.elapsed.as_secs_f64();
            let total = summary.total_rows();
            println!(
                "seeded {} account(s) with {} month(s) of history: {total} rows in {secs:.1} s ({:.0} rows/s)",
                summary.accounts,
                summary.months,
                total as f64 / secs.max(1e-9)
            );
            for (table, rows) in &summary.rows {
                println!("  {table:<50} {rows:>12}");
            }
            println!(
                "  (writing and ANALYZE {:.1} s, waiting for the generator {:.1} s)",
                summary.writing.as_secs_f64(),
                summary.waiting.as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify => verify(&config).await,
        Command::Serve { demo } => serve(config, demo).await.map(|()| ExitCode::SUCCESS),
    }
}

/// `fathom verify`: reads only (no migration), prints as it goes.
async fn verify(config: &Config) -> AppResult<ExitCode> {
    use std::io::Write;
    use tooling::verify::Progress;
    let conn = db::connect(&config.database_url).await?;
    let mut printed = 0u64;
    let mut out = std::io::stdout();
    let report = tooling::verify::verify(&conn, |progress| {
        // A closed stdout (`| head`) must not stop the check: its exit status still counts.
        let _ = match progress {
            Progress::Violation(v) if printed < MAX_PRINTED_VIOLATIONS => {
                printed += 1;
                writeln!(out, "violation: {v}")
            }
            Progress::Violation(_) => Ok(()),
            Progress::Checked(summary) => writeln!(out, "{summary}"),
        };
        let _ = out.flush();
    })
    .await?;
    let total = report.violations();
    if total > printed {
        println!("… {} more violation(s) not printed", total - printed);
    }
    conn.close().await?;
    if report.is_clean() {
        println!("the books are right");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{total} violation(s)");
        Ok(ExitCode::from(1))
    }
}

async fn serve(config: Config, demo: bool) -> AppResult<()> {
    // Migrations and seeding may run long: they get a connection without a statement limit.
    let setup = db::connect(&config.database_url).await?;
    db::migrate(&setup).await?;
    let token = tooling::seed::seed_defaults(&setup).await?;
    if demo {
        tooling::seed::seed_demo(&setup).await?;
    }
    setup.close().await?;
    let jobs =
        crate::config::Jobs::parse(&config.jobs).map_err(|e| AppError::validation("jobs", e))?;
    let conn = db::connect_sized(
        &config.database_url,
        None,
        Some(config.limits.statement_timeout()),
        Some(config.db_pool_size),
    )
    .await?;
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::new());
    let delivery = service::webhooks::delivery::Delivery::new(config.limits.webhooks.policy())?;
    crate::worker::spawn(
        conn.clone(),
        metrics.clone(),
        delivery,
        jobs,
        config.disconnection_run_batch,
    );
    let router = app::router_with_metrics(conn, &config, metrics)?;
    let listener = TcpListener::bind(&config.bind)
        .await
        .map_err(|e| AppError::internal(format!("bind {}: {e}", config.bind)))?;
    let addr = listener.local_addr().map_err(AppError::internal)?;
    println!("fathom is serving on http://{addr}");
    println!("GraphiQL: http://{addr}/graphiql");
    if let Some(token) = token {
        println!("admin token (shown once; paste it in GraphiQL's token field):");
        println!("{token}");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(AppError::internal)
}

/// `fathom seed`'s progress bar on the terminal.
struct SeedBar(indicatif::ProgressBar);

impl SeedBar {
    fn new(accounts: u64) -> SeedBar {
        use indicatif::{HumanCount, ProgressBar, ProgressState, ProgressStyle};
        let bar = ProgressBar::new(accounts * 25);
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:30}] {human_pos}/~{human_len} rows, {rate}, ETA {eta}  {msg}",
        ) {
            bar.set_style(
                style
                    .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{} rows/s", HumanCount(state.per_sec() as u64));
                    })
                    .progress_chars("=> "),
            );
        }
        SeedBar(bar)
    }
}

impl tooling::book::Progress for SeedBar {
    fn written(&self, rows: u64, estimate: u64, done: u64, accounts: u64) {
        self.0.set_length(estimate);
        self.0.set_position(rows);
        self.0.set_message(format!("{done}/{accounts} accounts"));
    }
    fn analyzing(&self) {
        self.0.set_message("ANALYZE");
    }
    fn finished(&self) {
        self.0.finish_and_clear();
    }
}
