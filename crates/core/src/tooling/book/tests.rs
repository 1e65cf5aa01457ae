//! The generated book, checked in memory: the money invariants of DESIGN §6, contiguous
//! billing, whole disconnections, and the shares the module documentation promises.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::encode::{self, ForeignKey, Format};
use super::plan::Window;
use super::rows::{Bases, N_TABLES};
use super::simulate::{self, Ctx};
use crate::entity::service;

fn service(id: i64, name: &str, amount: i64, monthly: bool) -> service::Model {
    let at = chrono::DateTime::UNIX_EPOCH;
    service::Model {
        id,
        name: name.into(),
        r#type: if monthly { "RECURRING" } else { "ONETIME" }.into(),
        application: "DEBIT".into(),
        amount,
        company_id: Some(1),
        enabled: true,
        display_if_zero: false,
        general_ledger_code_id: None,
        tax_definition_id: None,
        reverse_tax_definition_id: None,
        billing_frequency: monthly.then_some(1),
        created_at: at,
        updated_at: at,
        version: 1,
    }
}

fn ctx(accounts: u64, zone: &str) -> Ctx {
    Ctx {
        window: Window {
            start: NaiveDate::from_ymd_opt(2025, 3, 31).unwrap(),
            today: NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
        },
        zone: zone.parse().unwrap(),
        accounts,
        months: 12,
        admin: 1,
        company_id: 1,
        active_status: 1,
        disconnect_status: 2,
        residential: 1,
        commercial: 2,
        plans: vec![
            service(1, "Fiber 100", 4999, true),
            service(2, "Fiber 500", 6999, true),
            service(3, "Fiber 1000", 8999, true),
        ],
        static_ip: service(4, "Static IP", 1000, true),
        fee: service(5, "Equipment recovery fee", 2500, false),
        prorate_disconnects: true,
        prorate_services: true,
        whole_units: false,
        reasons: vec![2, 3, 4],
    }
}

#[test]
fn a_chunk_keeps_the_money_invariants_and_bills_every_day_once() {
    for zone in ["UTC", "America/Chicago"] {
        let ctx = ctx(10_000, zone);
        let c = simulate::chunk(&ctx, Bases([100; N_TABLES]), 0, 5_000).unwrap();
        assert_eq!(c.accounts.len(), 5_000);
        for (i, a) in c.accounts.iter().enumerate() {
            assert_eq!(a.id, 100 + i as i64, "ids are consecutive");
        }
        let mut invoiced: HashMap<i64, i64> = HashMap::new();
        for d in &c.debits {
            if let Some(i) = d.invoice_id {
                *invoiced.entry(i).or_default() += d.amount;
            }
        }
        let mut applied_to: HashMap<i64, i64> = HashMap::new();
        let mut applied_from: HashMap<i64, i64> = HashMap::new();
        for a in &c.applications {
            *applied_to.entry(a.invoice_id).or_default() += a.amount;
            *applied_from.entry(a.discount_id).or_default() += a.amount;
        }
        let mut paid_to: HashMap<i64, i64> = HashMap::new();
        for a in &c.payment_applications {
            *paid_to.entry(a.invoice_id).or_default() += a.amount;
        }
        for p in &c.payments {
            assert_eq!(p.amount_remaining, 0, "a payment pays its invoice whole");
            assert!(p.payment_datetime.with_timezone(&ctx.zone).date_naive() < ctx.window.today);
        }
        assert_eq!(c.payments.len(), c.payment_applications.len());
        for i in &c.invoices {
            assert_eq!(i.total_debits, invoiced.get(&i.id).copied().unwrap_or(0));
            let applied = applied_to.get(&i.id).copied().unwrap_or(0);
            let paid = paid_to.get(&i.id).copied().unwrap_or(0);
            assert_eq!(i.remaining_due, i.total_debits - applied - paid);
            assert!(i.remaining_due >= 0);
            assert_eq!(i.status == "PAID", i.remaining_due == 0);
        }
        // Most invoices are paid; of those made over a month before today, only the accounts
        // that never pay (and a few late payers) still owe.
        let old: Vec<&_> = c
            .invoices
            .iter()
            .filter(|i| i.due_date + chrono::Duration::days(50) < ctx.window.today)
            .collect();
        let unpaid = old.iter().filter(|i| i.remaining_due > 0).count();
        assert!(
            unpaid * 100 > old.len() && unpaid * 100 < old.len() * 5,
            "{unpaid} of {} old invoices unpaid",
            old.len()
        );
        for x in &c.discounts {
            let applied = applied_from.get(&x.id).copied().unwrap_or(0);
            assert_eq!(x.amount, x.amount_remaining + applied);
            assert!(x.amount_remaining >= 0);
        }
        assert!(!c.applications.is_empty(), "final invoices apply credits");

        // Each account service's periods follow one another without gap or overlap.
        let mut periods: HashMap<i64, Vec<(NaiveDate, NaiveDate)>> = HashMap::new();
        for d in c.debits.iter().filter(|d| d.account_service_id.is_some()) {
            periods
                .entry(d.account_service_id.unwrap())
                .or_default()
                .push((d.prorated_from.unwrap(), d.prorated_to.unwrap()));
        }
        for list in periods.values_mut() {
            list.sort();
            for w in list.windows(2) {
                assert_eq!(w[1].0, w[0].1.succ_opt().unwrap());
            }
        }

        // Active accounts are billed through today; disconnected ones are whole.
        let today = ctx.window.today;
        let logs: HashMap<i64, usize> = c
            .disconnection_logs
            .iter()
            .map(|l| (l.account_id, 0))
            .collect();
        let assigned: HashSet<i64> = c
            .addresses
            .iter()
            .filter_map(|a| a.addressable_id)
            .collect();
        let open: HashSet<i64> = c
            .histories
            .iter()
            .filter(|h| h.end_date.is_none())
            .map(|h| h.account_id)
            .collect();
        for a in &c.accounts {
            if a.account_status_id == 1 {
                assert!(a.next_bill_date.unwrap() > today);
                assert!(assigned.contains(&a.id) && open.contains(&a.id));
                assert!(a.next_recurring_charge_amount.unwrap() > 0);
            } else {
                assert!(logs.contains_key(&a.id));
                assert!(!assigned.contains(&a.id) && !open.contains(&a.id));
                assert_eq!(a.next_bill_date, None);
            }
        }
        let disconnected = c.disconnection_logs.len() as f64 / c.accounts.len() as f64;
        assert!((0.05..0.2).contains(&disconnected), "{disconnected}");
        let children = c
            .accounts
            .iter()
            .filter(|a| a.parent_account_id.is_some())
            .count();
        assert!(children > 50, "{children}");
        let pending = c
            .scheduled_events
            .iter()
            .filter(|e| e.status == "PENDING")
            .count();
        assert!(pending > 40, "{pending}");
        let reused = c.histories.len() - c.addresses.len();
        assert!(reused > 50, "addresses move to new customers: {reused}");
    }
}

#[test]
fn the_same_book_is_generated_twice() {
    let ctx = ctx(20_000, "UTC");
    let a = simulate::chunk(&ctx, Bases([1; N_TABLES]), 1, 2_000).unwrap();
    let b = simulate::chunk(&ctx, Bases([1; N_TABLES]), 1, 2_000).unwrap();
    assert_eq!(a.counts(), b.counts());
    assert_eq!(a.invoices, b.invoices);
    assert_eq!(a.discounts, b.discounts);
    assert_eq!(a.logs, b.logs);
}

#[test]
fn only_references_outside_the_chunk_are_left_to_look_up() {
    let ctx = ctx(1_000, "UTC");
    let key = |table: &str, column: &str, parent: &str| ForeignKey {
        name: format!("fk_{table}_{column}"),
        table: table.into(),
        column: column.into(),
        parent: parent.into(),
        parent_column: "id".into(),
    };
    let keys = vec![
        key("debits", "invoice_id", "invoices"),
        key("debits", "account_service_id", "account_services"),
        key("debits", "service_id", "services"),
        key("accounts", "account_status_id", "account_statuses"),
        key("accounts", "parent_account_id", "accounts"),
        key("logs", "user_id", "users"),
    ];
    let chunk = simulate::chunk(&ctx, Bases([100; N_TABLES]), 0, 1_000).unwrap();
    let encoded = encode::encode(chunk, Format::Copy, &keys).unwrap();
    let outside: HashMap<String, Vec<i64>> = encoded
        .outside
        .iter()
        .map(|(k, v)| (k.name.clone(), v.clone()))
        .collect();
    assert!(!outside.contains_key("fk_debits_invoice_id"));
    assert!(!outside.contains_key("fk_debits_account_service_id"));
    assert!(!outside.contains_key("fk_accounts_parent_account_id"));
    assert_eq!(outside["fk_accounts_account_status_id"], vec![1, 2]);
    assert_eq!(outside["fk_logs_user_id"], vec![1]);
    assert!(outside["fk_debits_service_id"]
        .iter()
        .all(|s| (1..=5).contains(s)));

    // Rows not numbered from their base would make the range argument wrong: refused.
    let mut chunk = simulate::chunk(&ctx, Bases([100; N_TABLES]), 0, 1_000).unwrap();
    chunk.debits[3].id += 1;
    assert!(encode::encode(chunk, Format::Copy, &keys).is_err());
}
