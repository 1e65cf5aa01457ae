//! Bulk disconnection runs (fathom extensions): `createDisconnectionRun`,
//! `cancelDisconnectionRun`, and the dry run `disconnection_run_preview` with its types. The
//! runs and their items are entity descriptions ([`DISCONNECTION_RUN`],
//! [`DISCONNECTION_RUN_ITEM`]), so `disconnection_runs` lists them like every collection.

use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, TypeRef,
};
use async_graphql::{Name, Value};

use crate::auth::Permission::{AccountsDisconnect, AccountsRead, BillingRead};
use crate::entity::{disconnection_run, disconnection_run_item};
use crate::error::AppError;
use crate::graphql::{
    execution::resolver::{allowed, db, gql},
    schema::{
        args,
        defs::{many, one, ACCOUNT, DISCONNECTION_REASON, USER},
        entity_def::{columns, fields, no_extra, EntityDef, Ops, Row},
        inputs::{id_arg, input},
        objects::type_ref,
    },
};
use crate::service::lifecycle::disconnection_runs::{
    self, CreateDisconnectionRun, PreviewItem, Selection,
};

pub static DISCONNECTION_RUN: EntityDef = EntityDef {
    name: "DisconnectionRun",
    plural: "disconnection_runs",
    description: "fathom extension: a bulk disconnection of selected accounts, carried out by the worker from its datetime, each account through disconnectAccount's own code, exactly once.",
    fields: fields!(disconnection_run::Model;
        name: "String!" => "",
        status: "String!" => "PENDING (not started), RUNNING, COMPLETED or CANCELLED.",
        datetime: "Datetime!" => "When its disconnections take effect.",
        prorate: "Boolean" => "Null inherits billing settings' prorate_account_status_change.",
        disconnection_reason_id: "Int64Bit" => "",
        comment: "String" => "",
        company_id: "Int64Bit" => "The company every selected account is of, when the run names one.",
        total: "Int!" => "Accounts selected.",
        done: "Int!" => "Accounts disconnected.",
        failed: "Int!" => "Accounts refused (each item says why).",
        cancelled: "Int!" => "Accounts left alone because the run was cancelled.",
        remaining: "Int!" => "Accounts still to do.",
        created_by_user_id: "Int64Bit!" => "Who created it; the disconnections are recorded as theirs.",
        started_at: "Datetime" => "",
        finished_at: "Datetime" => "",
    ),
    general_search: columns!(disconnection_run::Model; name, comment),
    relations: || {
        vec![
            many(
                "disconnection_run_items",
                &DISCONNECTION_RUN_ITEM,
                disconnection_run_item::Relation::DisconnectionRun,
            ),
            one(
                "disconnection_reason",
                &DISCONNECTION_REASON,
                disconnection_run::Relation::DisconnectionReason,
            ),
            one("created_by_user", &USER, disconnection_run::Relation::CreatedByUser),
        ]
    },
    read: AccountsRead,
    ops: &Ops::<disconnection_run::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static DISCONNECTION_RUN_ITEM: EntityDef = EntityDef {
    name: "DisconnectionRunItem",
    plural: "disconnection_run_items",
    description: "fathom extension: one account of a disconnection run and what became of it.",
    fields: fields!(disconnection_run_item::Model;
        disconnection_run_id: "Int64Bit!" => "",
        account_id: "Int64Bit!" => "",
        status: "String!" => "PENDING, DONE, FAILED or CANCELLED.",
        error_code: "String" => "Why it failed: the extensions.code disconnectAccount would have answered.",
        error_message: "String" => "",
        finished_at: "Datetime" => "",
    ),
    general_search: columns!(disconnection_run_item::Model; status, error_code),
    relations: || {
        vec![
            one(
                "disconnection_run",
                &DISCONNECTION_RUN,
                disconnection_run_item::Relation::DisconnectionRun,
            ),
            one(
                "account",
                &ACCOUNT,
                disconnection_run_item::Relation::Account,
            ),
        ]
    },
    read: AccountsRead,
    ops: &Ops::<disconnection_run_item::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

/// The selection of `input`: its `account_ids`, or its `search` and `general_search` parsed as
/// the `accounts` query parses them (errors naming `search…`). Both is `VALIDATION_FAILED`.
fn selection(
    ctx: &ResolverContext<'_>,
    run: &CreateDisconnectionRun,
) -> Result<Selection, AppError> {
    let searched =
        run.search.as_ref().is_some_and(|s| !s.is_null()) || run.general_search.is_some();
    match (&run.account_ids, searched) {
        (Some(_), true) => Err(AppError::validation(
            "account_ids",
            "give account_ids, or search and general_search, not both",
        )),
        (Some(ids), false) => Ok(Selection::Ids(ids.iter().map(|i| i.0).collect())),
        (None, _) => {
            let mut map = async_graphql::indexmap::IndexMap::new();
            if let Some(Ok(object)) = ctx.args.get("input").map(|v| v.object()) {
                for key in ["search", "general_search"] {
                    if let Some(value) = object.get(key) {
                        map.insert(Name::new(key), value.as_value().clone());
                    }
                }
            }
            Ok(Selection::Search(args::parse_map(&ACCOUNT, &map)?))
        }
    }
}

pub fn mutation_fields(object: Object) -> Object {
    object
        .field(
            crate::graphql::execution::resolver::field("createDisconnectionRun", type_ref("DisconnectionRun"), |ctx| {
                FieldFuture::new(async move {
                    crate::graphql::execution::idempotent::field(&ctx, "DisconnectionRun", async {
                        let user = allowed(&ctx, AccountsDisconnect)?;
                        let run: CreateDisconnectionRun = input(&ctx, "input")?;
                        let chosen = selection(&ctx, &run)?;
                        let model = disconnection_runs::create(db(&ctx), user, run, chosen).await?;
                        Ok(Some(FieldValue::owned_any(Row::new(model))))
                    })
                    .await
                    .map_err(gql)
                })
            })
            .description(
                "fathom extension: disconnects the selected accounts (account_ids, or the accounts query's search and \
                 general_search; at most 50,000, counted before anything is written) from datetime (now when left out), \
                 each through disconnectAccount's own code, with the run's proration, reason and comment. Written \
                 at once with one pending item per account; the worker carries it out (ACCOUNTS_DISCONNECT). \
                 Preview it with disconnection_run_preview.",
            )
            .argument(InputValue::new("input", type_ref("CreateDisconnectionRunMutationInput!"))),
        )
        .field(
            crate::graphql::execution::resolver::field("cancelDisconnectionRun", type_ref("DisconnectionRun"), |ctx| {
                FieldFuture::new(async move {
                    crate::graphql::execution::idempotent::field(&ctx, "DisconnectionRun", async {
                        let user = allowed(&ctx, AccountsDisconnect)?;
                        let model = disconnection_runs::cancel(db(&ctx), user, id_arg(&ctx)?).await?;
                        Ok(Some(FieldValue::owned_any(Row::new(model))))
                    })
                    .await
                    .map_err(gql)
                })
            })
            .description(
                "fathom extension: stops a run: its pending accounts are left alone (CANCELLED); what is done stays \
                 done. A completed or cancelled run is VALIDATION_FAILED naming id.",
            )
            .argument(InputValue::new("id", type_ref("Int64Bit!"))),
        )
}

pub fn preview_field() -> Field {
    crate::graphql::execution::resolver::field("disconnection_run_preview", TypeRef::named_nn("DisconnectionRunPreview"), |ctx| {
        FieldFuture::new(async move {
            allowed(&ctx, AccountsRead).map_err(gql)?;
            allowed(&ctx, BillingRead).map_err(gql)?;
            let run: CreateDisconnectionRun = input(&ctx, "input").map_err(gql)?;
            let chosen = selection(&ctx, &run).map_err(gql)?;
            let items = disconnection_runs::preview(db(&ctx), run, chosen).await.map_err(gql)?;
            Ok(Some(FieldValue::owned_any(items)))
        })
    })
    .description(
        "fathom extension: the dry run of createDisconnectionRun with the same input: the selection checked the same \
         way, then for each account what its disconnection would do now (disconnect_account_preview's plan) or why \
         it would be refused. Writes nothing.",
    )
    .argument(InputValue::new("input", type_ref("CreateDisconnectionRunMutationInput!")))
}

pub fn types() -> Vec<Object> {
    let count = |name: &'static str, description: &'static str, f: fn(&[PreviewItem]) -> i64| {
        crate::graphql::execution::resolver::field(name, type_ref("Int!"), move |ctx| {
            FieldFuture::new(async move {
                let items = ctx.parent_value.try_downcast_ref::<Vec<PreviewItem>>()?;
                Ok(Some(FieldValue::value(Value::from(f(items)))))
            })
        })
        .description(description)
    };
    let preview = Object::new("DisconnectionRunPreview")
        .description("fathom extension: what a disconnection run would do now.")
        .field(count("total", "Accounts selected.", |i| i.len() as i64))
        .field(count(
            "disconnectable",
            "Accounts that would be disconnected.",
            |i| i.iter().filter(|x| x.outcome.is_ok()).count() as i64,
        ))
        .field(count(
            "refused",
            "Accounts whose disconnection would be refused.",
            |i| i.iter().filter(|x| x.outcome.is_err()).count() as i64,
        ))
        .field(count(
            "final_invoice_total",
            "The final invoices' total debits, in cents.",
            |i| {
                i.iter()
                    .filter_map(|x| x.outcome.as_ref().ok())
                    .map(|p| p.final_invoice_total_debits)
                    .sum()
            },
        ))
        .field(count(
            "credit_total",
            "The proration credits, in cents.",
            |i| {
                i.iter()
                    .filter_map(|x| x.outcome.as_ref().ok())
                    .map(|p| p.credits.iter().map(|c| c.amount).sum::<i64>())
                    .sum()
            },
        ))
        .field(
            crate::graphql::execution::resolver::field(
                "items",
                type_ref("[DisconnectionRunPreviewItem!]!"),
                |ctx| {
                    FieldFuture::new(async move {
                        let items = ctx.parent_value.try_downcast_ref::<Vec<PreviewItem>>()?;
                        Ok(Some(FieldValue::list(
                            items.iter().map(|i| FieldValue::borrowed_any(i)),
                        )))
                    })
                },
            )
            .description("One per selected account, in account id order."),
        );
    let item_field = |name: &'static str,
                      ty: &'static str,
                      description: &'static str,
                      f: fn(&PreviewItem) -> Value| {
        crate::graphql::execution::resolver::field(name, type_ref(ty), move |ctx| {
            FieldFuture::new(async move {
                let value = f(ctx.parent_value.try_downcast_ref::<PreviewItem>()?);
                Ok((value != Value::Null).then_some(FieldValue::value(value)))
            })
        })
        .description(description)
    };
    let item = Object::new("DisconnectionRunPreviewItem")
        .description("fathom extension: what a disconnection run would do to one account.")
        .field(item_field("account_id", "Int64Bit!", "", |i| {
            Value::String(i.account_id.to_string())
        }))
        .field(item_field("would_disconnect", "Boolean!", "", |i| {
            Value::from(i.outcome.is_ok())
        }))
        .field(item_field(
            "error_code",
            "String",
            "Why it would be refused: the extensions.code disconnectAccount would answer.",
            |i| {
                i.outcome
                    .as_ref()
                    .err()
                    .map_or(Value::Null, |e| Value::String(e.code().to_owned()))
            },
        ))
        .field(item_field("error_message", "String", "", |i| {
            i.outcome
                .as_ref()
                .err()
                .map_or(Value::Null, |e| Value::String(e.to_string()))
        }))
        .field(item_field(
            "final_invoice_total_debits",
            "Int",
            "In cents; null when refused.",
            |i| {
                i.outcome
                    .as_ref()
                    .map_or(Value::Null, |p| Value::from(p.final_invoice_total_debits))
            },
        ))
        .field(item_field(
            "credit_total",
            "Int",
            "The proration credits, in cents; null when refused.",
            |i| {
                i.outcome.as_ref().map_or(Value::Null, |p| {
                    Value::from(p.credits.iter().map(|c| c.amount).sum::<i64>())
                })
            },
        ))
        .field(item_field(
            "serviceable_address_id",
            "Int64Bit",
            "The address that would be released.",
            |i| {
                i.outcome
                    .as_ref()
                    .ok()
                    .and_then(|p| p.serviceable_address.as_ref())
                    .map_or(Value::Null, |a| Value::String(a.id.to_string()))
            },
        ))
        .field(
            crate::graphql::execution::resolver::field(
                "plan",
                type_ref("DisconnectAccountPreview"),
                |ctx| {
                    FieldFuture::new(async move {
                        let item = ctx.parent_value.try_downcast_ref::<PreviewItem>()?;
                        Ok(item
                            .outcome
                            .as_ref()
                            .ok()
                            .map(|p| FieldValue::borrowed_any(p)))
                    })
                },
            )
            .description(
                "The whole plan, as disconnect_account_preview answers it; null when refused.",
            ),
        );
    vec![preview, item]
}
