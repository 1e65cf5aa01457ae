//! What an empty database starts with, and the `--demo` sample book.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set,
};

use crate::domain::ServiceApplication;
use crate::entity::{account, billing_setting, company, disconnection_reason, system_setting};
use crate::error::AppResult;
use crate::service::base::store::Stamped;
use crate::service::{
    access::tokens,
    base::{clock::now, store::begin_write, values::Id},
    billing::services::{self, AddServiceToAccount, CreateService},
    configuration::catalog::{self, CreateAccountStatus, CreateAccountType},
    lifecycle::{
        accounts::{self, CreateAccount, PrimaryContact, UpdateAccount},
        addresses::{self, CreateServiceableAddress, MailingAddress},
        hierarchy,
    },
};

/// The disconnection reason the delinquency pass records on a new database (seeded by the
/// migration that creates the list).
pub const NON_PAYMENT: &str = "Non-payment";

/// Seeds the defaults on an empty database, in one transaction: the system setting (UTC),
/// one company, statuses `Active` (activating) and `Inactive`, an account type, billing
/// settings disconnecting to `Inactive` (the delinquency pass's reason [`NON_PAYMENT`]), the built-in roles, and the user `admin` with one
/// personal access token, which is returned (to be printed once). Does nothing otherwise.
pub async fn seed_defaults(db: &DatabaseConnection) -> AppResult<Option<String>> {
    let txn = begin_write(db).await?;
    if system_setting::Entity::find().count(&txn).await? > 0 {
        return Ok(None);
    }
    let at = now();
    system_setting::ActiveModel {
        timezone: Set("UTC".into()),
        ..Default::default()
    }
    .stamped(at)
    .insert(&txn)
    .await?;
    company::ActiveModel {
        name: Set("fathom ISP".into()),
        default: Set(true),
        enabled: Set(true),
        country: Set("US".into()),
        primary_color: Set("1E88E5".into()),
        secondary_color: Set("43A047".into()),
        show_remittance_slip: Set(false),
        ..Default::default()
    }
    .stamped(at)
    .insert(&txn)
    .await?;
    let icon = catalog::default_icon();
    catalog::insert_status(
        &txn,
        CreateAccountStatus {
            name: "Active".into(),
            activates_account: true,
            color: "43A047".into(),
            icon: icon.clone(),
        },
    )
    .await?;
    let inactive = catalog::insert_status(
        &txn,
        CreateAccountStatus {
            name: "Inactive".into(),
            activates_account: false,
            color: "9E9E9E".into(),
            icon,
        },
    )
    .await?;
    catalog::insert_type(
        &txn,
        CreateAccountType {
            name: "Residential".into(),
            color: None,
            icon: None,
            r#type: "RESIDENTIAL".into(),
            invoice_message_id: None,
        },
    )
    .await?;
    let non_payment = disconnection_reason::Entity::find()
        .filter(disconnection_reason::Column::Name.eq(NON_PAYMENT))
        .one(&txn)
        .await?;
    billing_setting::ActiveModel {
        disconnect_account_status_id: Set(inactive.id),
        unarchive_account_status_id: Set(None),
        prorate_services: Set(true),
        prorate_service_quantity: Set(true),
        prorate_account_status_change: Set(true),
        prorate_account_delinquency_status_change: Set(Some(false)),
        prorate_billing_day_change: Set(true),
        round_prorated_amounts: Set(false),
        daily_billing: Set(false),
        generate_invoice_on_initial_activation: Set(false),
        always_round_taxes_up: Set(false),
        apply_late_fees_to_child_invoices: Set(false),
        include_late_fee_invoices_in_printed_batches: Set(false),
        invoice_and_email_late_fees_immediately: Set(false),
        printed_invoice_batch_duplex: Set(false),
        use_invoice_templates: Set(false),
        // The reason the migration seeds for the delinquency pass's disconnections.
        delinquency_disconnection_reason_id: Set(non_payment.map(|r| r.id)),
        ..Default::default()
    }
    .stamped(at)
    .insert(&txn)
    .await?;
    tokens::ensure_roles(&txn).await?;
    let token = match tokens::find_by_username(&txn, "admin").await? {
        Some(_) => None,
        None => {
            let admin = tokens::create_user(
                &txn,
                "admin",
                "Administrator",
                "admin@example.com",
                "Administrator",
            )
            .await?;
            let (_, token) = tokens::create_token(&txn, admin.id, "initial token").await?;
            Some(token.as_str().to_owned())
        }
    };
    txn.commit().await?;
    Ok(token)
}

const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Elm St",
    "Pine Rd",
    "Lake View Dr",
];
const PEOPLE: &[&str] = &[
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Katherine Johnson",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Margaret Hamilton",
    "Ken Thompson",
    "Frances Allen",
    "Dennis Ritchie",
    "Radia Perlman",
    "Tim Berners-Lee",
    "Hedy Lamarr",
    "Linus Torvalds",
    "Annie Easley",
    "John McCarthy",
];

/// Loads the sample book once: about twenty accounts with serviceable and mailing addresses,
/// contacts, several statuses, and a business parent with three child accounts.
pub async fn seed_demo(db: &DatabaseConnection) -> AppResult<()> {
    if account::Entity::find().count(db).await? > 0 {
        return Ok(());
    }
    let admin = tokens::find_by_username(db, "admin")
        .await?
        .map(|u| u.id)
        .unwrap_or(1);
    let status = |name: &str, activates: bool, color: &str| CreateAccountStatus {
        name: name.into(),
        activates_account: activates,
        color: color.into(),
        icon: catalog::default_icon(),
    };
    let active = 1;
    let lead = catalog::create_status(db, admin, status("Lead", false, "FB8C00"))
        .await?
        .id;
    let suspended = catalog::create_status(db, admin, status("Suspended", false, "E53935"))
        .await?
        .id;
    let residential = 1;
    let commercial = catalog::create_type(
        db,
        admin,
        CreateAccountType {
            name: "Commercial".into(),
            color: Some("3949AB".into()),
            icon: None,
            r#type: "COMMERCIAL".into(),
            invoice_message_id: None,
        },
    )
    .await?
    .id;

    let mut account_ids = Vec::new();
    for (i, person) in PEOPLE.iter().enumerate() {
        let n = i as i64 + 1;
        let street = STREETS[i % STREETS.len()];
        let line1 = format!("{} {street}", 100 + n * 7);
        let address = addresses::create_serviceable(
            db,
            admin,
            CreateServiceableAddress {
                id: None,
                line1: line1.clone(),
                line2: None,
                city: "Springfield".into(),
                subdivision: Some("US_IL".into()),
                zip: "62701".into(),
                country: "US".into(),
                latitude: serde_json::json!(format!("39.{:04}", 7800 + n)),
                longitude: serde_json::json!(format!("-89.{:04}", 6500 + n)),
                timezone: Some("AMERICACHICAGO".into()),
                address_status_id: None,
                is_anchor: None,
                anchor_address_id: None,
                billing_default_id: None,
                attainable_download_speed: Some(1000),
                attainable_upload_speed: Some(100),
            },
        )
        .await?;
        let status_id = match i % 6 {
            4 => lead,
            5 => suspended,
            _ => active,
        };
        let email = format!(
            "{}@example.com",
            person.to_lowercase().replace([' ', '-'], ".")
        );
        let created = accounts::create(
            db,
            admin,
            CreateAccount {
                id: None,
                name: person.to_string(),
                account_status_id: Id(status_id),
                account_type_id: Id(residential),
                serviceable_address_id: (status_id != lead).then_some(Id(address.id)),
                mailing_address: (i % 3 == 0).then(|| MailingAddress {
                    line1: format!("PO Box {}", 400 + n),
                    line2: None,
                    city: "Springfield".into(),
                    subdivision: Some("US_IL".into()),
                    zip: "62705".into(),
                    country: "US".into(),
                    address_status_id: None,
                }),
                primary_contact: PrimaryContact {
                    phone_numbers: None,
                    name: person.to_string(),
                    role: Some("Account holder".into()),
                    email_address: Some(email),
                    marketing_opt_in: Some(i % 2 == 0),
                },
                company_id: Id(1),
            },
        )
        .await?;
        account_ids.push(created.id);
    }

    // A business with three branch offices as child accounts.
    let parent = accounts::create(
        db,
        admin,
        CreateAccount {
            id: None,
            name: "Springfield Logistics Inc.".into(),
            account_status_id: Id(active),
            account_type_id: Id(commercial),
            serviceable_address_id: None,
            mailing_address: Some(MailingAddress {
                line1: "1 Commerce Plaza".into(),
                line2: Some("Suite 300".into()),
                city: "Springfield".into(),
                subdivision: Some("US_IL".into()),
                zip: "62701".into(),
                country: "US".into(),
                address_status_id: None,
            }),
            primary_contact: PrimaryContact {
                phone_numbers: None,
                name: "Accounts Payable".into(),
                role: Some("Billing".into()),
                email_address: Some("ap@springfield-logistics.example.com".into()),
                marketing_opt_in: Some(false),
            },
            company_id: Id(1),
        },
    )
    .await?;
    for branch in ["North Depot", "South Depot", "Airport Office"] {
        let child = accounts::create(
            db,
            admin,
            CreateAccount {
                id: None,
                name: format!("Springfield Logistics - {branch}"),
                account_status_id: Id(active),
                account_type_id: Id(commercial),
                serviceable_address_id: None,
                mailing_address: None,
                primary_contact: PrimaryContact {
                    phone_numbers: None,
                    name: format!("{branch} manager"),
                    role: Some("Site manager".into()),
                    email_address: None,
                    marketing_opt_in: None,
                },
                company_id: Id(1),
            },
        )
        .await?;
        hierarchy::link(db, admin, parent.id, child.id).await?;
    }
    // A small catalogue, with internet service on every active residential account; the
    // billing pass (the server runs it at start) bills the first month.
    let service = |name: &str, amount: i64, frequency: Option<i32>| CreateService {
        id: None,
        enabled: true,
        name: name.into(),
        application: ServiceApplication::Debit.into(),
        amount,
        company_id: Some(Id(1)),
        billing_frequency: frequency,
        display_if_zero: None,
    };
    let fiber = services::create_service(db, admin, service("Fiber 100", 5000, Some(1)), true)
        .await?
        .id;
    let static_ip = services::create_service(db, admin, service("Static IP", 1000, Some(1)), true)
        .await?
        .id;
    services::create_service(db, admin, service("Installation", 9900, None), false).await?;
    for (i, &account_id) in account_ids.iter().enumerate() {
        if i % 6 >= 4 {
            continue; // leads and suspended accounts have no service
        }
        for (service_id, wanted) in [(fiber, true), (static_ip, i % 4 == 0)] {
            if wanted {
                services::add_service_to_account(
                    db,
                    admin,
                    AddServiceToAccount {
                        account_id: Id(account_id),
                        service_id: Id(service_id),
                        quantity: 1,
                        price_override: None,
                        price_override_reason: None,
                        name_override: None,
                        next_bill_date: None,
                        prorate: None,
                        proration_date: None,
                    },
                )
                .await?;
            }
        }
    }
    // One former customer, disconnected to Inactive through a status change.
    if let Some(&last) = account_ids.last() {
        accounts::update(
            db,
            admin,
            last,
            UpdateAccount {
                account_status_id: Some(Id(2)),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}
