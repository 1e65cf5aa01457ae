//! `account_forecast` (a fathom extension) and its types: what the passes would do to an
//! account up to a date, computed by their own code and rolled back
//! ([`crate::service::lifecycle::forecast`]).

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, TypeRef};
use async_graphql::Value;
use chrono::{DateTime, NaiveDate, Utc};

use crate::auth::Permission;
use crate::entity::{debit, disconnection_log};
use crate::graphql::{
    execution::resolver::{allowed, db, gql},
    schema::{objects::type_ref, scalars::format_datetime},
};
use crate::service::{
    base::values,
    lifecycle::forecast::{self, Forecast, ForecastEvent, ForecastInvoice, StatusChange},
};

pub fn query_field() -> Field {
    crate::graphql::execution::resolver::field("account_forecast", TypeRef::named_nn("AccountForecast"), |ctx| {
        FieldFuture::new(async move {
            allowed(&ctx, Permission::AccountsRead).map_err(gql)?;
            allowed(&ctx, Permission::BillingRead).map_err(gql)?;
            let account_id = ctx
                .args
                .get("account_id")
                .and_then(|v| crate::graphql::schema::scalars::parse_i64(v.as_value()))
                .ok_or_else(|| gql(crate::error::AppError::validation("account_id", "account_id is required")))?;
            let until = match ctx.args.get("until").map(|v| v.as_value().clone()) {
                Some(Value::String(s)) => values::date_input("until", &s).map_err(gql)?,
                _ => return Err(gql(crate::error::AppError::validation("until", "until is required"))),
            };
            let found = forecast::forecast(db(&ctx), account_id, until).await.map_err(gql)?;
            Ok(Some(FieldValue::owned_any(found)))
        })
    })
    .description(
        "fathom extension: what the billing pass, the delinquency pass and the account's scheduled events would do \
         to the account from today to until (at most 366 days ahead), day by day, computed by their own code in a \
         transaction that is rolled back: nothing is written. It assumes nothing else happens meanwhile (no \
         payment, no operator's change).",
    )
    .argument(InputValue::new("account_id", type_ref("Int64Bit!")))
    .argument(InputValue::new("until", type_ref("Date!")))
}

fn date(d: NaiveDate) -> Option<FieldValue<'static>> {
    Some(FieldValue::value(Value::String(d.to_string())))
}

fn instant(d: &DateTime<Utc>) -> Option<FieldValue<'static>> {
    Some(FieldValue::value(Value::String(format_datetime(d))))
}

fn id(n: i64) -> Option<FieldValue<'static>> {
    Some(FieldValue::value(Value::String(n.to_string())))
}

fn number(n: i64) -> Option<FieldValue<'static>> {
    Some(FieldValue::value(Value::from(n)))
}

fn text(s: Option<&str>) -> Option<FieldValue<'static>> {
    s.map(|s| FieldValue::value(Value::String(s.to_owned())))
}

/// A field of the type `T` that its parent value is, answered by `value`.
fn of<T: Send + Sync + 'static>(
    name: &'static str,
    ty: &'static str,
    description: &'static str,
    value: for<'a> fn(&'a T) -> Option<FieldValue<'a>>,
) -> Field {
    crate::graphql::execution::resolver::field(name, type_ref(ty), move |ctx| {
        FieldFuture::new(async move {
            let parent = ctx.parent_value.try_downcast_ref::<T>()?;
            Ok(value(parent))
        })
    })
    .description(description)
}

fn invoice(i: &ForecastInvoice) -> FieldValue<'_> {
    FieldValue::borrowed_any(i)
}

pub fn types() -> Vec<Object> {
    let forecast = Object::new("AccountForecast")
        .description(
            "fathom extension: what the passes would do to an account, day by day, up to a date.",
        )
        .field(of::<Forecast>("account_id", "Int64Bit!", "", |f| {
            id(f.account_id)
        }))
        .field(of::<Forecast>(
            "from",
            "Date!",
            "Today: the first day looked at.",
            |f| date(f.from),
        ))
        .field(of::<Forecast>(
            "until",
            "Date!",
            "The last day looked at.",
            |f| date(f.until),
        ))
        .field(of::<Forecast>(
            "account_status_id",
            "Int64Bit!",
            "The account's status at the end of until.",
            |f| id(f.account.account_status_id),
        ))
        .field(of::<Forecast>(
            "is_delinquent",
            "Boolean!",
            "Whether the account is delinquent at the end of until.",
            |f| Some(FieldValue::value(f.account.is_delinquent)),
        ))
        .field(of::<Forecast>(
            "next_bill_date",
            "Date",
            "The account's next bill date after until.",
            |f| f.account.next_bill_date.and_then(date),
        ))
        .field(of::<Forecast>(
            "delinquent_from",
            "Date",
            "The first day the account is delinquent (today when it is already).",
            |f| f.delinquent_from.and_then(date),
        ))
        .field(of::<Forecast>(
            "invoices",
            "[ForecastInvoice!]!",
            "The invoices the account would be sent, oldest first, a final invoice included.",
            |f| Some(FieldValue::list(f.invoices.iter().map(invoice))),
        ))
        .field(of::<Forecast>(
            "status_changes",
            "[ForecastStatusChange!]!",
            "",
            |f| {
                Some(FieldValue::list(
                    f.status_changes.iter().map(|x| FieldValue::borrowed_any(x)),
                ))
            },
        ))
        .field(of::<Forecast>(
            "disconnection",
            "ForecastDisconnection",
            "The disconnection, if one would happen.",
            |f| {
                f.disconnection.as_ref().map(|d| {
                    FieldValue::owned_any(Disconnection {
                        log: d.clone(),
                        final_invoice: d
                            .final_invoice_id
                            .and_then(|id| f.invoices.iter().find(|i| i.invoice.id == id))
                            .cloned(),
                    })
                })
            },
        ))
        .field(of::<Forecast>(
            "scheduled_events",
            "[ForecastScheduledEvent!]!",
            "The account's scheduled events that would run, and what came of each.",
            |f| {
                Some(FieldValue::list(
                    f.scheduled_events
                        .iter()
                        .map(|x| FieldValue::borrowed_any(x)),
                ))
            },
        ));
    let invoice_type = Object::new("ForecastInvoice")
        .description("fathom extension: an invoice a forecast foresees (it does not exist, so it has no id).")
        .field(of::<ForecastInvoice>("date", "Date!", "", |i| date(i.invoice.date)))
        .field(of::<ForecastInvoice>("due_date", "Date!", "", |i| date(i.invoice.due_date)))
        .field(of::<ForecastInvoice>("delinquency_date", "Date", "", |i| i.invoice.delinquency_date.and_then(date)))
        .field(of::<ForecastInvoice>("end_date", "Date!", "", |i| date(i.invoice.end_date)))
        .field(of::<ForecastInvoice>("total_debits", "Int!", "In cents.", |i| number(i.invoice.total_debits)))
        .field(of::<ForecastInvoice>("remaining_due", "Int!", "In cents, after the credits and payments it would take.", |i| {
            number(i.invoice.remaining_due)
        }))
        .field(of::<ForecastInvoice>("status", "String!", "", |i| text(Some(&i.invoice.status))))
        .field(of::<ForecastInvoice>("message", "Text", "", |i| text(i.invoice.message.as_deref())))
        .field(of::<ForecastInvoice>("debits", "[ForecastDebit!]!", "", |i| {
            Some(FieldValue::list(i.debits.iter().map(|x| FieldValue::borrowed_any(x))))
        }));
    let debit_type = Object::new("ForecastDebit")
        .description("fathom extension: a debit a forecast foresees.")
        .field(of::<debit::Model>("service_id", "Int64Bit!", "", |d| {
            id(d.service_id)
        }))
        .field(of::<debit::Model>("service_name", "String!", "", |d| {
            text(Some(&d.service_name))
        }))
        .field(of::<debit::Model>("description", "String", "", |d| {
            text(d.description.as_deref())
        }))
        .field(of::<debit::Model>("amount", "Int!", "In cents.", |d| {
            number(d.amount)
        }))
        .field(of::<debit::Model>("quantity", "Int!", "", |d| {
            number(i64::from(d.quantity))
        }))
        .field(of::<debit::Model>("prorated_from", "Date", "", |d| {
            d.prorated_from.and_then(date)
        }))
        .field(of::<debit::Model>("prorated_to", "Date", "", |d| {
            d.prorated_to.and_then(date)
        }));
    let change_type = Object::new("ForecastStatusChange")
        .description("fathom extension: a status change a forecast foresees.")
        .field(of::<StatusChange>("date", "Date!", "", |c| date(c.date)))
        .field(of::<StatusChange>("datetime", "Datetime!", "", |c| instant(&c.at)))
        .field(of::<StatusChange>("previous_account_status_id", "Int64Bit!", "", |c| id(c.previous_account_status_id)))
        .field(of::<StatusChange>("account_status_id", "Int64Bit!", "", |c| id(c.account_status_id)))
        .field(of::<StatusChange>(
            "cause",
            "String!",
            "DELINQUENCY_SWITCH, DELINQUENCY_RESTORE, NON_PAYMENT_DISCONNECTION or SCHEDULED_EVENT.",
            |c| text(Some(c.cause.as_str())),
        ));
    let disconnection_type = Object::new("ForecastDisconnection")
        .description("fathom extension: a disconnection a forecast foresees.")
        .field(of::<Disconnection>(
            "disconnected_at",
            "Datetime!",
            "",
            |d| instant(&d.log.disconnected_at),
        ))
        .field(of::<Disconnection>(
            "for_non_payment",
            "Boolean!",
            "",
            |d| Some(FieldValue::value(d.log.for_non_payment)),
        ))
        .field(of::<Disconnection>("prorated", "Boolean!", "", |d| {
            Some(FieldValue::value(d.log.prorated))
        }))
        .field(of::<Disconnection>(
            "credit_total",
            "Int!",
            "The proration credits it would give, in cents.",
            |d| number(d.log.credit_total),
        ))
        .field(of::<Disconnection>(
            "account_status_id",
            "Int64Bit!",
            "",
            |d| id(d.log.account_status_id),
        ))
        .field(of::<Disconnection>(
            "scheduled_event_id",
            "Int64Bit",
            "The scheduled event that would do it, if one.",
            |d| d.log.scheduled_event_id.and_then(id),
        ))
        .field(of::<Disconnection>(
            "final_invoice",
            "ForecastInvoice",
            "",
            |d| d.final_invoice.as_ref().map(invoice),
        ));
    let event_type = Object::new("ForecastScheduledEvent")
        .description("fathom extension: a scheduled event a forecast runs.")
        .field(of::<ForecastEvent>(
            "scheduled_event_id",
            "Int64Bit!",
            "",
            |e| id(e.event.id),
        ))
        .field(of::<ForecastEvent>("event", "String!", "", |e| {
            text(Some(&e.event.event))
        }))
        .field(of::<ForecastEvent>("datetime", "Datetime!", "", |e| {
            instant(&e.event.datetime)
        }))
        .field(of::<ForecastEvent>(
            "completed",
            "Boolean!",
            "Whether it would be carried out.",
            |e| Some(FieldValue::value(e.outcome.is_ok())),
        ))
        .field(of::<ForecastEvent>(
            "result_message",
            "String!",
            "What it would do, or why it would fail.",
            |e| {
                text(Some(match &e.outcome {
                    Ok(m) | Err(m) => m.as_str(),
                }))
            },
        ));
    vec![
        forecast,
        invoice_type,
        debit_type,
        change_type,
        disconnection_type,
        event_type,
    ]
}

/// A foreseen disconnection with its final invoice.
struct Disconnection {
    log: disconnection_log::Model,
    final_invoice: Option<ForecastInvoice>,
}
