//! `activations_and_disconnections_report` (a fathom extension, beyond Sonar's schema) and its
//! types. Its two tables are entity descriptions over database views, so they take their own
//! `search`, `sorter`, `paginator` and `general_search` like every other collection.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, TypeRef};
use async_graphql::Value;

use crate::auth::Permission::ReportsRead;
use crate::entity::{report_activation, report_disconnection};
use crate::error::AppError;
use crate::graphql::{
    execution::resolver::{allowed, gql, read_maybe_replica},
    schema::{
        args::{self, collection_arguments},
        defs::{one, ACCOUNT},
        entity_def::{columns, fields, no_extra, EntityDef, Ops, RelDef},
        objects::{connection_type, object_type, type_ref, Connection},
        scalars::{parse_date, parse_i64},
    },
};
use crate::service::read::report::{self, Churn, Period, Summary};

fn activation_account() -> Vec<RelDef> {
    vec![one(
        "account",
        &ACCOUNT,
        report_activation::Relation::Account,
    )]
}

fn disconnection_account() -> Vec<RelDef> {
    vec![one(
        "account",
        &ACCOUNT,
        report_disconnection::Relation::Account,
    )]
}

pub static ACCOUNT_ACTIVATION: EntityDef = EntityDef {
    name: "AccountActivation",
    plural: "",
    description: "fathom extension: one activation of an account (an ACTIVATED account event) in the report's period.",
    fields: fields!(report_activation::Model;
        account_event_id: "Int64Bit!" => "The ACTIVATED account event.",
        account_id: "Int64Bit!" => "",
        account_name: "String!" => "",
        account_type_id: "Int64Bit!" => "",
        account_status_id: "Int64Bit!" => "The account's status now.",
        activated_at: "Datetime!" => "",
        reactivation: "Boolean!" => "Whether the account had been activated before.",
        win_back: "Boolean!" => "Whether the account had been disconnected before: a customer won back.",
        serviceable_address_id: "Int64Bit" => "The account's serviceable address now.",
    ),
    general_search: columns!(report_activation::Model; account_name),
    relations: activation_account,
    read: ReportsRead,
    ops: &Ops::<report_activation::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: false,
};

pub static ACCOUNT_DISCONNECTION: EntityDef = EntityDef {
    name: "AccountDisconnection",
    plural: "",
    description:
        "fathom extension: one disconnection (a disconnection log) in the report's period.",
    fields: fields!(report_disconnection::Model;
        disconnection_log_id: "Int64Bit!" => "",
        account_id: "Int64Bit!" => "",
        account_name: "String!" => "",
        account_type_id: "Int64Bit!" => "",
        disconnected_at: "Datetime!" => "",
        disconnected_by_user_id: "Int64Bit" => "",
        serviceable_address_reference_record: "Text" => "The released address, as it was.",
        final_invoice_id: "Int64Bit" => "",
        final_invoice_total: "Int" => "The final invoice's total debits, in cents.",
        credit_total: "Int!" => "The proration credits given, in cents.",
        scheduled: "Boolean!" => "Whether a scheduled event carried it out.",
        disconnection_reason_id: "Int64Bit" => "Why, when the disconnection gave a reason.",
        voluntary: "Boolean" => "Whether the reason is voluntary; null without a reason.",
        for_non_payment: "Boolean!" => "Whether the delinquency pass disconnected it for non-payment.",
        comment: "Text" => "",
        monthly_recurring_amount: "Int!" => "Lost MRR: what the account's recurring services came to per month when it left, in cents.",
    ),
    general_search: columns!(report_disconnection::Model; account_name, serviceable_address_reference_record),
    relations: disconnection_account,
    read: ReportsRead,
    ops: &Ops::<report_disconnection::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: false,
};

/// The report's table fields: its own collection arguments, over the report's period.
/// Unfiltered, the table's `total_count` comes from the report's tallies. Without a `sorter`
/// the rows come in the order they happened (`time`, then id): the order of the index that
/// finds the period's rows, so a page costs its own rows whatever the period holds (in id order
/// SQLite read and sorted every row of the period for each page: 0.9 s for a year of a
/// 1,000,000-account book).
fn table(
    name: &'static str,
    def: &'static EntityDef,
    within: fn(&Period) -> sea_orm::Condition,
    which: report::Table,
    time: &'static str,
) -> Field {
    let mut field = crate::graphql::execution::resolver::field(
        name,
        TypeRef::named_nn(def.connection_name()),
        move |ctx| {
            FieldFuture::new(async move {
                let period = ctx.parent_value.try_downcast_ref::<Period>()?;
                let mut args = args::parse(def, &ctx.args).map_err(gql)?;
                if args.sort.is_empty() {
                    args.sort.push((time, false));
                }
                let unfiltered = args.equals.is_empty()
                    && args.search.is_empty()
                    && args.general_search.is_none();
                let page = read_maybe_replica!(&ctx, |db| async {
                    let total = match unfiltered {
                        true => report::tallied_total(db, period, which).await?,
                        false => None,
                    };
                    def.ops.list(db, &args, within(period), total).await
                }
                .await)
                .map_err(gql)?;
                Ok(Some(FieldValue::owned_any(Connection(Arc::new(page)))))
            })
        },
    );
    for arg in collection_arguments(def) {
        field = field.argument(arg);
    }
    field
}

fn date_arg(
    ctx: &async_graphql::dynamic::ResolverContext<'_>,
    name: &str,
) -> Result<Option<chrono::NaiveDate>, AppError> {
    match ctx.args.get(name).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(v) => match v.as_value() {
            Value::String(s) => parse_date(s)
                .map(Some)
                .ok_or_else(|| AppError::validation(name, "must be YYYY-MM-DD")),
            _ => Err(AppError::validation(name, "must be YYYY-MM-DD")),
        },
    }
}

pub fn query_field() -> Field {
    crate::graphql::execution::resolver::field("activations_and_disconnections_report", TypeRef::named_nn("ActivationsAndDisconnectionsReport"), |ctx| {
        FieldFuture::new(async move {
            allowed(&ctx, ReportsRead).map_err(gql)?;
            let start = date_arg(&ctx, "start_date").map_err(gql)?;
            let end = date_arg(&ctx, "end_date").map_err(gql)?;
            let company = ctx.args.get("company_id").and_then(|v| parse_i64(v.as_value()));
            let period = read_maybe_replica!(&ctx, |db| report::period(db, start, end, company).await).map_err(gql)?;
            Ok(Some(FieldValue::owned_any(period)))
        })
    })
    .description(
        "fathom extension: activations and disconnections over a period of local dates (default: the twelve months \
         ending today), optionally for one company, with a monthly summary.",
    )
    .argument(InputValue::new("start_date", TypeRef::named("Date")))
    .argument(InputValue::new("end_date", TypeRef::named("Date")))
    .argument(InputValue::new("company_id", TypeRef::named("Int64Bit")))
}

fn number<'a>(n: i64) -> Option<FieldValue<'a>> {
    Some(FieldValue::value(Value::from(n)))
}

pub fn types() -> Vec<Object> {
    let report = Object::new("ActivationsAndDisconnectionsReport")
        .description("fathom extension: the Activations & Disconnections report.")
        .field(crate::graphql::execution::resolver::field(
            "start_date",
            type_ref("Date!"),
            |ctx| {
                FieldFuture::new(async move {
                    let p = ctx.parent_value.try_downcast_ref::<Period>()?;
                    Ok(Some(FieldValue::value(Value::String(
                        p.start_date.to_string(),
                    ))))
                })
            },
        ))
        .field(crate::graphql::execution::resolver::field(
            "end_date",
            type_ref("Date!"),
            |ctx| {
                FieldFuture::new(async move {
                    let p = ctx.parent_value.try_downcast_ref::<Period>()?;
                    Ok(Some(FieldValue::value(Value::String(
                        p.end_date.to_string(),
                    ))))
                })
            },
        ))
        .field(table(
            "activations",
            &ACCOUNT_ACTIVATION,
            report::activations_in,
            report::Table::Activations,
            "activated_at",
        ))
        .field(table(
            "disconnections",
            &ACCOUNT_DISCONNECTION,
            report::disconnections_in,
            report::Table::Disconnections,
            "disconnected_at",
        ))
        .field(crate::graphql::execution::resolver::field(
            "summary",
            type_ref("ActivationsAndDisconnectionsSummary!"),
            |ctx| {
                FieldFuture::new(async move {
                    let p = ctx.parent_value.try_downcast_ref::<Period>()?;
                    // The churn figures cost queries of their own: only when asked for.
                    let ahead = ctx.look_ahead();
                    let churn = ahead.field("churn").exists()
                        || ahead.field("months").field("churn").exists();
                    let summary = read_maybe_replica!(&ctx, |db| report::summary(db, p, churn)
                        .await)
                    .map_err(gql)?;
                    Ok(Some(FieldValue::owned_any(summary)))
                })
            },
        ));
    let summary_field = |name: &'static str, f: fn(&Summary) -> i64| {
        crate::graphql::execution::resolver::field(name, type_ref("Int!"), move |ctx| {
            FieldFuture::new(async move {
                Ok(number(f(ctx.parent_value.try_downcast_ref::<Summary>()?)))
            })
        })
    };
    let summary = Object::new("ActivationsAndDisconnectionsSummary")
        .description("fathom extension: counts over the report's period.")
        .field(
            crate::graphql::execution::resolver::field("churn", type_ref("Churn!"), |ctx| {
                FieldFuture::new(async move {
                    let s = ctx.parent_value.try_downcast_ref::<Summary>()?;
                    Ok(Some(FieldValue::borrowed_any(&s.churn)))
                })
            })
            .description("Why accounts left over the whole period and what it cost; the churn rate is over the accounts active at the period's start."),
        )
        .field(summary_field("activation_count", |s| s.activation_count))
        .field(summary_field("disconnection_count", |s| {
            s.disconnection_count
        }))
        .field(
            summary_field("net_change", |s| s.activation_count - s.disconnection_count)
                .description("Activations less disconnections."),
        )
        .field(
            crate::graphql::execution::resolver::field(
                "months",
                type_ref("[ActivationsAndDisconnectionsMonth!]!"),
                |ctx| {
                    FieldFuture::new(async move {
                        let s = ctx.parent_value.try_downcast_ref::<Summary>()?;
                        Ok(Some(FieldValue::list(
                            s.months.iter().map(|m| FieldValue::owned_any(m.clone())),
                        )))
                    })
                },
            )
            .description("Every month of the period, zeros included."),
        );
    let month_field = |name: &'static str, ty: &'static str, f: fn(&report::Month) -> Value| {
        crate::graphql::execution::resolver::field(name, type_ref(ty), move |ctx| {
            FieldFuture::new(async move {
                Ok(Some(FieldValue::value(f(ctx
                    .parent_value
                    .try_downcast_ref::<report::Month>()?))))
            })
        })
    };
    let month = Object::new("ActivationsAndDisconnectionsMonth")
        .description("fathom extension: one local month of the report.")
        .field(
            month_field("month", "String!", |m| Value::String(m.month.clone()))
                .description("YYYY-MM"),
        )
        .field(month_field("activations", "Int!", |m| {
            Value::from(m.activations)
        }))
        .field(month_field("disconnections", "Int!", |m| {
            Value::from(m.disconnections)
        }))
        .field(month_field("net", "Int!", |m| {
            Value::from(m.activations - m.disconnections)
        }))
        .field(
            crate::graphql::execution::resolver::field("churn", type_ref("Churn!"), |ctx| {
                FieldFuture::new(async move {
                    let m = ctx.parent_value.try_downcast_ref::<report::Month>()?;
                    Ok(Some(FieldValue::borrowed_any(&m.churn)))
                })
            })
            .description("Why accounts left this month and what it cost; the churn rate is over the accounts active at the start of the month (of its part of the period)."),
        );
    let churn_field = |name: &'static str,
                       ty: &'static str,
                       description: &'static str,
                       f: fn(&Churn) -> Value| {
        crate::graphql::execution::resolver::field(name, type_ref(ty), move |ctx| {
            FieldFuture::new(async move {
                let value = f(ctx.parent_value.try_downcast_ref::<Churn>()?);
                Ok((value != Value::Null).then_some(FieldValue::value(value)))
            })
        })
        .description(description)
    };
    let churn = Object::new("Churn")
        .description("fathom extension: why accounts left and what it cost, over a month or a report's period.")
        .field(
            crate::graphql::execution::resolver::field(
                "disconnections_by_reason",
                type_ref("[DisconnectionReasonCount!]!"),
                |ctx| {
                    FieldFuture::new(async move {
                        let c = ctx.parent_value.try_downcast_ref::<Churn>()?;
                        Ok(Some(FieldValue::list(
                            c.by_reason.iter().map(|r| FieldValue::borrowed_any(r)),
                        )))
                    })
                },
            )
            .description("By reason, in reason id order, disconnections without a reason last; only reasons with disconnections."),
        )
        .field(churn_field("voluntary_disconnections", "Int!", "Disconnections whose reason is voluntary.", |c| Value::from(c.voluntary)))
        .field(churn_field("involuntary_disconnections", "Int!", "Disconnections whose reason is not voluntary, and the delinquency pass's without a reason.", |c| Value::from(c.involuntary)))
        .field(churn_field("unspecified_disconnections", "Int!", "Disconnections without a reason (not for non-payment).", |c| Value::from(c.unspecified)))
        .field(churn_field("lost_mrr", "Int!", "What the disconnected accounts' recurring services came to per month when they left, in cents.", |c| Value::from(c.lost_mrr)))
        .field(churn_field("win_backs", "Int!", "Activations of accounts that had been disconnected before.", |c| Value::from(c.win_backs)))
        .field(churn_field("active_accounts_at_start", "Int!", "Accounts in an activating status at the start.", |c| Value::from(c.active_at_start)))
        .field(churn_field("churn_rate", "Float", "Disconnections over active_accounts_at_start (0.05 is 5%); null when no account was active.", |c| {
            c.churn_rate.map_or(Value::Null, Value::from)
        }));
    let reason_field =
        |name: &'static str, ty: &'static str, f: fn(&report::ReasonCount) -> Value| {
            crate::graphql::execution::resolver::field(name, type_ref(ty), move |ctx| {
                FieldFuture::new(async move {
                    let value = f(ctx.parent_value.try_downcast_ref::<report::ReasonCount>()?);
                    Ok((value != Value::Null).then_some(FieldValue::value(value)))
                })
            })
        };
    let reason_count = Object::new("DisconnectionReasonCount")
        .description("fathom extension: the disconnections that gave one reason, or none.")
        .field(
            reason_field("disconnection_reason_id", "Int64Bit", |r| {
                r.disconnection_reason_id
                    .map_or(Value::Null, |id| Value::String(id.to_string()))
            })
            .description("Null: no reason given."),
        )
        .field(reason_field("name", "String", |r| {
            r.name.clone().map_or(Value::Null, Value::String)
        }))
        .field(reason_field("voluntary", "Boolean", |r| {
            r.voluntary.map_or(Value::Null, Value::from)
        }))
        .field(reason_field("disconnections", "Int!", |r| {
            Value::from(r.disconnections)
        }))
        .field(
            reason_field("lost_mrr", "Int!", |r| Value::from(r.lost_mrr)).description("In cents."),
        );
    vec![
        report,
        summary,
        month,
        churn,
        reason_count,
        object_type(&ACCOUNT_ACTIVATION),
        object_type(&ACCOUNT_DISCONNECTION),
        connection_type(&ACCOUNT_ACTIVATION),
        connection_type(&ACCOUNT_DISCONNECTION),
    ]
}
