//! `fathom seed --accounts N --months M`: a realistic book for benchmarks, written in bulk.
//!
//! A book that took the service layer an account at a time (~30 accounts/s) is generated in
//! memory instead, a chunk of [`CHUNK`] accounts at a time (so memory stays bounded whatever N),
//! and written with bulk statements in one transaction per chunk ([`encode`], [`writer`]).
//! Generation and encoding run on a thread of its own, a chunk ahead of the writers (two on
//! PostgreSQL, one on SQLite). Measured on a shared two-core machine, 1,000,000 accounts × 12
//! months (about 24 million rows): 2.6 minutes on PostgreSQL, 3.7 on SQLite.
//!
//! What a chunk holds is what the API would have written had the accounts lived through the
//! past M months with a billing pass every day ([`simulate`], [`money`]): accounts activated on
//! days spread over the period, each with a serviceable address (new, or one a former customer
//! left) and its assignment history, a primary contact, an `ACTIVATED` event, an internet plan
//! (and for some a static IP, from the start or added later with a prorated charge for the rest
//! of the period), a debit per service per billing period and an invoice per pass; about 2% a
//! month leave (a quarter through a scheduled event, some after a one-time equipment fee): a
//! `STATUS_UPDATED` event, proration credits for the unused days, a final invoice applying them
//! when something was uninvoiced, the address released, a disconnection log; about 1% head a
//! business with two to four child accounts; about 2% of the accounts still active have a
//! disconnection scheduled ahead. The percentages are in [`plan`].
//!
//! The audit log (`logs`) gets the rows those mutations write: `CREATED` for every address,
//! account, account service, one-time debit, scheduled event and final invoice, `ATTACHED` for
//! every child link, `UPDATED` for every disconnection, `SYSTEM` for every scheduled event
//! carried out; each with the JSON the mutation records. Left out: the billing pass's own
//! `SYSTEM` rows (one for the account and one for the invoice, every account every month),
//! which would be most of the table, carry nothing the debits and invoices do not, and are
//! read by nobody but a reader of the whole log.
//!
//! Payments ([`money::payment_day`]): 90 in 100 accounts pay each invoice in full 1 to 13 days
//! after it is made, 8 in 100 pay 5 to 44 days after it is due, 2 in 100 never pay; a payment
//! dated today or later has not come in yet. Each is a `createPayment` applied to its invoice
//! (a payment and an application; its audit rows are left out, like the billing pass's). After
//! the last chunk, invoices and accounts are marked delinquent as the delinquency pass marks
//! them, so a book has its delinquent population: the accounts that never pay, and the late
//! payers past a due date.
//!
//! Only final invoices apply credits: the book's credits all come from disconnections (an account
//! never comes back), and what the final invoice does not use stays on the account as
//! `amount_remaining`.
//!
//! Deterministic: chunk k is drawn from its own random stream, seeded from (N, M, k), and dated
//! from the day the seeding runs; its ids start where the tables end. Seeding again into the
//! same database adds another book after the first (the catalogue, found by name, is shared).

mod encode;
mod leave;
mod money;
mod plan;
mod rows;
mod simulate;
mod writer;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use tokio::task::JoinSet;

use self::encode::{Encoded, ForeignKey, Format};
use self::plan::Window;
use self::rows::{Bases, N_TABLES, TABLES};
use self::simulate::Ctx;
use self::writer::Writer;
use crate::domain::{ServiceApplication, ServiceType};
use crate::entity::{account_status, account_type, company, service};
use crate::error::{AppError, AppResult};
use crate::service::{
    access::tokens,
    base::{clock::now, settings, values::Id},
    billing::services::{self, CreateService},
    configuration::catalog::{self, CreateAccountType},
};

/// Accounts per chunk: large enough that a transaction's cost is spread over many rows, small
/// enough that a chunk's rows (about 25 per account) stay in the tens of megabytes.
pub const CHUNK: usize = 10_000;

/// What a seeding wrote.
#[derive(Debug, Clone)]
pub struct SeedSummary {
    pub accounts: u64,
    pub months: u32,
    /// Rows per table, in the order they were written.
    pub rows: Vec<(&'static str, u64)>,
    pub elapsed: Duration,
    /// Summed over the writers: waiting for the generator, and writing (and `ANALYZE`).
    pub waiting: Duration,
    pub writing: Duration,
}

impl SeedSummary {
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }
}

/// What seeding tells as it goes, for a display of its progress (`fathom seed` draws a bar);
/// the service layer itself prints nothing.
pub trait Progress: Send + Sync {
    /// `rows` rows written so far, of about `estimate`; `done` accounts of `accounts`.
    fn written(&self, rows: u64, estimate: u64, done: u64, accounts: u64);
    /// Every row is written; the tables are being analyzed.
    fn analyzing(&self);
    /// Seeding ended (also when it failed).
    fn finished(&self);
}

/// Progress that nobody watches.
pub struct Unwatched;

impl Progress for Unwatched {
    fn written(&self, _: u64, _: u64, _: u64, _: u64) {}
    fn analyzing(&self) {}
    fn finished(&self) {}
}

/// Seeds a book of `accounts` accounts with `months` months of history, telling `progress`
/// how it goes.
pub async fn seed_book(
    db: &DatabaseConnection,
    accounts: u64,
    months: u32,
    progress: &dyn Progress,
) -> AppResult<SeedSummary> {
    let summary = seed_book_watched(db, accounts, months, progress).await;
    progress.finished();
    summary
}

async fn seed_book_watched(
    db: &DatabaseConnection,
    accounts: u64,
    months: u32,
    progress: &dyn Progress,
) -> AppResult<SeedSummary> {
    let started = Instant::now();
    if !(1..=1200).contains(&months) {
        return Err(AppError::validation("months", "months is 1 to 1200"));
    }
    let ctx = context(db, accounts, months).await?;
    let mut first = Writer::open(db).await?;
    let format = first.format().await?;
    let bases = first.bases().await?;
    let parallel = first.parallelism();
    let keys = first.keys();
    let today = ctx.window.today;
    let (tx, rx) = tokio::sync::mpsc::channel::<AppResult<Encoded>>(1);
    let generator = std::thread::spawn(move || generate(ctx, bases, format, keys, tx));

    // Writers take chunks as they come and report each one written.
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let (report, mut reports) = tokio::sync::mpsc::unbounded_channel::<AppResult<Written>>();
    let mut writers = JoinSet::new();
    let mut next = Some(first);
    for _ in 0..parallel {
        let mut writer = match next.take() {
            Some(w) => w,
            None => Writer::open(db).await?,
        };
        let (rx, report) = (rx.clone(), report.clone());
        writers.spawn(async move {
            loop {
                let asked = Instant::now();
                let chunk = rx.lock().await.recv().await;
                let Some(chunk) = chunk else {
                    return writer;
                };
                let got = Instant::now();
                let written = match chunk {
                    Ok(chunk) => {
                        let (rows, accounts) = (chunk.rows, chunk.accounts);
                        writer.write(chunk).await.map(|()| Written {
                            rows,
                            accounts,
                            waiting: got - asked,
                            writing: got.elapsed(),
                        })
                    }
                    Err(e) => Err(e),
                };
                let failed = written.is_err();
                if report.send(written).is_err() || failed {
                    return writer;
                }
            }
        });
    }
    drop(report);

    progress.written(0, accounts * 25, 0, accounts);
    let mut counts = [0u64; N_TABLES];
    let mut done = 0u64;
    let (mut waiting, mut writing) = (Duration::ZERO, Duration::ZERO);
    while let Some(written) = reports.recv().await {
        let written = written?;
        for (total, n) in counts.iter_mut().zip(written.rows) {
            *total += n as u64;
        }
        done += written.accounts;
        waiting += written.waiting;
        writing += written.writing;
        let rows: u64 = counts.iter().sum();
        progress.written(
            rows,
            rows + (accounts - done) * rows / done.max(1),
            done,
            accounts,
        );
    }
    let mut last = None;
    while let Some(writer) = writers.join_next().await {
        last = Some(writer.map_err(|_| AppError::internal("a seeding writer panicked"))?);
    }
    generator
        .join()
        .map_err(|_| AppError::internal("the seeding generator panicked"))?;
    if done != accounts {
        return Err(AppError::internal("the seeding generator stopped early"));
    }
    let writer = last.ok_or_else(|| AppError::internal("no seeding writer"))?;
    // The invoices left unpaid past their due date, and their accounts, are delinquent: marked
    // as the delinquency pass marks them (a few statements over the unpaid invoices).
    let billing = crate::service::base::settings::billing_setting(db).await?;
    crate::service::billing::delinquency::mark_all(db, today, &billing).await?;
    progress.analyzing();
    let analyzing = Instant::now();
    writer.finish().await?;
    writing += analyzing.elapsed();
    Ok(SeedSummary {
        accounts,
        months,
        rows: TABLES.iter().copied().zip(counts).collect(),
        elapsed: started.elapsed(),
        waiting,
        writing,
    })
}

/// What a writer reports of a chunk it wrote.
struct Written {
    rows: [usize; N_TABLES],
    accounts: u64,
    waiting: Duration,
    writing: Duration,
}

/// The generator's thread: each chunk in turn, encoded for the writer.
fn generate(
    ctx: Ctx,
    mut bases: Bases,
    format: Format,
    keys: Vec<ForeignKey>,
    tx: tokio::sync::mpsc::Sender<AppResult<Encoded>>,
) {
    let chunks = ctx.accounts.div_ceil(CHUNK as u64);
    for k in 0..chunks {
        let n = (ctx.accounts - k * CHUNK as u64).min(CHUNK as u64) as usize;
        let encoded = simulate::chunk(&ctx, bases, k, n).and_then(|chunk| {
            bases = chunk.next_bases();
            encode::encode(chunk, format, &keys)
        });
        let failed = encoded.is_err();
        // The writer is gone (it failed): stop.
        if tx.blocking_send(encoded).is_err() || failed {
            return;
        }
    }
}

/// Reads the settings and the catalogue the book uses, creating (through the service layer)
/// the services and account type it needs when they are missing.
async fn context(db: &DatabaseConnection, accounts: u64, months: u32) -> AppResult<Ctx> {
    let admin = match tokens::find_by_username(db, "admin").await? {
        Some(u) => u.id,
        None => {
            tokens::create_user(
                db,
                "admin",
                "Administrator",
                "admin@example.com",
                "Administrator",
            )
            .await?
            .id
        }
    };
    let zone = settings::time_zone(db).await?;
    let today = settings::local_date(db, now()).await?;
    let start = today
        .checked_sub_months(chrono::Months::new(months))
        .ok_or_else(|| AppError::validation("months", "too many months"))?;
    let billing = settings::billing_setting(db).await?;
    let reasons = settings::snapshot(db).await?;
    let company_id = company::Entity::find()
        .order_by_desc(company::Column::Default)
        .order_by_asc(company::Column::Id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("no company"))?
        .id;
    let active_status = account_status::Entity::find()
        .filter(account_status::Column::ActivatesAccount.eq(true))
        .order_by_asc(account_status::Column::Id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("no activating account status"))?
        .id;
    let residential = account_type::Entity::find()
        .order_by_desc(account_type::Column::Type.eq("RESIDENTIAL"))
        .order_by_asc(account_type::Column::Id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::internal("no account type"))?
        .id;
    let commercial = match account_type::Entity::find()
        .filter(account_type::Column::Name.eq("Commercial"))
        .order_by_asc(account_type::Column::Id)
        .one(db)
        .await?
    {
        Some(t) => t.id,
        None => {
            let input = CreateAccountType {
                name: "Commercial".into(),
                color: Some("3949AB".into()),
                icon: None,
                r#type: "COMMERCIAL".into(),
                invoice_message_id: None,
            };
            catalog::create_type(db, admin, input).await?.id
        }
    };
    let mut plans = Vec::new();
    for (name, amount) in [
        ("Fiber 100", 4999),
        ("Fiber 500", 6999),
        ("Fiber 1000", 8999),
    ] {
        plans.push(service(db, admin, company_id, name, amount, true).await?);
    }
    Ok(Ctx {
        window: Window { start, today },
        zone,
        accounts,
        months,
        admin,
        company_id,
        active_status,
        disconnect_status: billing.disconnect_account_status_id,
        residential,
        commercial,
        plans,
        static_ip: service(db, admin, company_id, "Static IP", 1000, true).await?,
        fee: service(db, admin, company_id, "Equipment recovery fee", 2500, false).await?,
        prorate_disconnects: billing.prorate_account_status_change,
        prorate_services: billing.prorate_services,
        whole_units: billing.round_prorated_amounts,
        reasons: reasons
            .disconnection_reasons
            .iter()
            .filter(|r| r.active && r.voluntary)
            .map(|r| r.id)
            .collect(),
    })
}

/// The enabled debit service of that name, price and kind (monthly, or one-time), created when
/// there is none.
async fn service(
    db: &DatabaseConnection,
    admin: i64,
    company_id: i64,
    name: &str,
    amount: i64,
    monthly: bool,
) -> AppResult<service::Model> {
    let mut find = service::Entity::find()
        .filter(service::Column::Name.eq(name))
        .filter(service::Column::Amount.eq(amount))
        .filter(service::Column::Application.eq(ServiceApplication::Debit))
        .filter(service::Column::Enabled.eq(true));
    find = if monthly {
        find.filter(service::Column::Type.eq(ServiceType::Recurring))
            .filter(service::Column::BillingFrequency.eq(1))
    } else {
        find.filter(service::Column::Type.eq(ServiceType::OneTime))
    };
    if let Some(found) = find.order_by_asc(service::Column::Id).one(db).await? {
        return Ok(found);
    }
    let input = CreateService {
        id: None,
        enabled: true,
        name: name.into(),
        application: ServiceApplication::Debit.into(),
        amount,
        company_id: Some(Id(company_id)),
        billing_frequency: monthly.then_some(1),
        display_if_zero: None,
    };
    services::create_service(db, admin, input, monthly).await
}
