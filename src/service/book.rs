//! `fathom seed --accounts N --months M`: a realistic book for benchmarks and demonstrations,
//! built through the same service calls as the API, with history: accounts activated over the
//! past M months, internet service billed every month, some disconnected (with final invoices
//! and proration credits), some with a scheduled disconnection ahead.

use std::io::Write;

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use sea_orm::DatabaseConnection;

use super::accounts::{self, CreateAccount, PrimaryContact};
use super::addresses::{self, CreateServiceableAddress};
use super::services::{self, AddServiceToAccount, CreateService};
use super::{at_instant, billing, disconnect, now, scheduled, settings, users, Id};
use crate::error::AppResult;

const FIRST: &[&str] = &[
    "Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
    "Jean", "Ken", "Leslie", "Margaret", "Niklaus", "Radia",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Turing",
    "Liskov",
    "Shannon",
    "Ritchie",
    "Dijkstra",
    "Allen",
    "Hopper",
    "Lamarr",
    "Sutherland",
    "Sammet",
    "Thompson",
    "Lamport",
    "Hamilton",
    "Wirth",
    "Perlman",
];
const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Elm St",
    "Pine Rd",
    "Lake View Dr",
    "Hill St",
];

fn progress(what: &str, done: u64, total: u64) {
    // Redraw only when the bar moves (or at the end), not on every step.
    let step = (total / 100).max(1);
    if !done.is_multiple_of(step) && done != total {
        return;
    }
    let width: u64 = 30;
    let filled = (done * width)
        .checked_div(total)
        .unwrap_or(width)
        .min(width);
    eprint!(
        "\r{what:<12} [{}{}] {done}/{total}",
        "#".repeat(filled as usize),
        " ".repeat((width - filled) as usize)
    );
    if done == total {
        eprintln!();
    }
    let _ = std::io::stderr().flush();
}

/// Seeds `accounts` accounts with `months` months of history. Returns the number created.
pub async fn seed_book(db: &DatabaseConnection, accounts: u64, months: u32) -> AppResult<u64> {
    let admin = match users::find_by_username(db, "admin").await? {
        Some(u) => u.id,
        None => {
            users::create_user(
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
    let mut rng = rand::rngs::StdRng::seed_from_u64(accounts ^ ((months as u64) << 32));
    let service = |name: &str, amount: i64| CreateService {
        id: None,
        enabled: true,
        name: name.into(),
        application: services::DEBIT.into(),
        amount,
        company_id: Some(Id(1)),
        general_ledger_code_id: None,
        billing_frequency: Some(1),
        tax_definition_id: None,
        reverse_tax_definition_id: None,
        display_if_zero: None,
    };
    let plans = [
        services::create_service(db, admin, service("Fiber 100", 4999), true)
            .await?
            .id,
        services::create_service(db, admin, service("Fiber 500", 6999), true)
            .await?
            .id,
        services::create_service(db, admin, service("Fiber 1000", 8999), true)
            .await?
            .id,
    ];
    let today = settings::local_date(db, now()).await?;
    let start = today
        .checked_sub_months(chrono::Months::new(months))
        .unwrap_or(today);
    let span = (today - start).num_days().max(1);

    // Accounts, each activated on a day of the period (at noon, local business hours enough).
    let mut created = Vec::with_capacity(accounts as usize);
    for i in 0..accounts {
        let day = start + Duration::days(rng.random_range(0..span));
        let instant = day.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc();
        let first = FIRST[rng.random_range(0..FIRST.len())];
        let last = LAST[rng.random_range(0..LAST.len())];
        let address = addresses::create_serviceable(
            db,
            admin,
            CreateServiceableAddress {
                id: None,
                line1: format!(
                    "{} {}",
                    1 + rng.random_range(0..9999),
                    STREETS[rng.random_range(0..STREETS.len())]
                ),
                line2: None,
                city: "Springfield".into(),
                subdivision: Some("US_IL".into()),
                zip: format!("627{:02}", rng.random_range(0..99)),
                country: "US".into(),
                latitude: serde_json::json!(39.7 + rng.random_range(0.0..0.2)),
                longitude: serde_json::json!(-89.7 + rng.random_range(0.0..0.2)),
                timezone: Some("AMERICACHICAGO".into()),
                address_status_id: None,
                is_anchor: None,
                anchor_address_id: None,
                billing_default_id: None,
                attainable_download_speed: Some(1000),
                attainable_upload_speed: Some(1000),
            },
        )
        .await?;
        let account = at_instant(
            instant,
            accounts::create(
                db,
                admin,
                CreateAccount {
                    id: None,
                    name: format!("{first} {last}"),
                    account_status_id: Id(1),
                    account_type_id: Id(1),
                    serviceable_address_id: Some(Id(address.id)),
                    mailing_address: None,
                    primary_contact: PrimaryContact {
                        name: format!("{first} {last}"),
                        role: None,
                        email_address: Some(format!(
                            "{}.{}{i}@example.com",
                            first.to_lowercase(),
                            last.to_lowercase()
                        )),
                        marketing_opt_in: Some(rng.random_bool(0.3)),
                    },
                    company_id: Id(1),
                },
            ),
        )
        .await?;
        let plan = plans[rng.random_range(0..plans.len())];
        at_instant(
            instant,
            services::add_service_to_account(
                db,
                admin,
                AddServiceToAccount {
                    account_id: Id(account.id),
                    service_id: Id(plan),
                    quantity: 1,
                    price_override: None,
                    price_override_reason: None,
                    name_override: None,
                    next_bill_date: None,
                    prorate: None,
                    proration_date: None,
                },
            ),
        )
        .await?;
        created.push((account.id, day));
        progress("accounts", i + 1, accounts);
    }

    // History, day by day: the billing pass, and about 2% of active accounts leaving a month.
    let mut active: Vec<(i64, NaiveDate)> = created.clone();
    active.sort_by_key(|(_, d)| *d);
    let days = span as u64;
    for n in 0..=span {
        let day = start + Duration::days(n);
        billing::run_pass(db, day).await?;
        let instant = day.and_hms_opt(15, 0, 0).unwrap_or_default().and_utc();
        let mut kept = Vec::with_capacity(active.len());
        for (account, activated) in active.drain(..) {
            let leaves = activated < day && rng.random_bool(0.02 / 30.0);
            if leaves {
                at_instant(instant, disconnect::disconnect(db, admin, account, None)).await?;
            } else {
                kept.push((account, activated));
            }
        }
        active = kept;
        progress("history", n as u64, days);
    }

    // A few scheduled disconnections ahead.
    let ahead = now() + Duration::days(14);
    for (account, _) in active.iter().take((active.len() / 50).max(1)) {
        scheduled::create(
            db,
            admin,
            scheduled::CreateScheduledEvent {
                description: Some("moving away".into()),
                datetime: (ahead + Duration::hours(rng.random_range(0..24 * 30))).to_rfc3339(),
                event: "DISCONNECT_ACCOUNT".into(),
                primary_event_object_id: None,
                amount: None,
                prorate: None,
                account_id: Id(*account),
            },
        )
        .await?;
    }
    Ok(created.len() as u64)
}
