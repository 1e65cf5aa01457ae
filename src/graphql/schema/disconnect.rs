//! `disconnectAccount` and `disconnect_account_preview`, and the preview's types.

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, TypeRef};
use async_graphql::Value;

use crate::auth::Permission;
use crate::graphql::{
    execution::resolver::{allowed, db, gql},
    schema::{
        entity_def::Row,
        inputs::{id_arg, optional_input},
        objects::type_ref,
    },
};
use crate::service::{
    billing::transactions::PlannedCredit,
    lifecycle::disconnect::{self, DisconnectPlan},
};

pub fn mutation_field() -> Field {
    crate::graphql::execution::resolver::field("disconnectAccount", TypeRef::named("Account"), |ctx| {
        FieldFuture::new(async move {
            crate::graphql::execution::idempotent::field(&ctx, "Account", async {
                let user = allowed(&ctx, Permission::AccountsDisconnect)?;
                let id = id_arg(&ctx)?;
                let input: disconnect::DisconnectAccount = optional_input(&ctx, "input")?;
                let account = disconnect::disconnect(db(&ctx), user.user_id, id, input).await?;
                Ok(Some(FieldValue::owned_any(Row::new(account))))
            })
            .await
            .map_err(gql)
        })
    })
    .description(
        "Disconnects an active account now, in one transaction: proration credits (by input.prorate, else the \
         billing setting), a final invoice of every uninvoiced debit, the serviceable address released, the account \
         moved to billing settings' disconnect status, a disconnection log (with input's reason and comment), pending \
         scheduled disconnections cancelled. Child accounts stay connected. Refusals: NOT_FOUND, ACCOUNT_ARCHIVED, \
         ACCOUNT_NOT_ACTIVE, VALIDATION_FAILED (an unknown or inactive reason, or none when billing settings require one); a \
         concurrent disconnection of the same account makes this CONFLICT or ACCOUNT_NOT_ACTIVE.",
    )
    .argument(InputValue::new("id", type_ref("Int64Bit!")))
    .argument(InputValue::new("input", type_ref("DisconnectAccountMutationInput")))
}

pub fn preview_field() -> Field {
    crate::graphql::execution::resolver::field("disconnect_account_preview", TypeRef::named_nn("DisconnectAccountPreview"), |ctx| {
        FieldFuture::new(async move {
            allowed(&ctx, Permission::AccountsRead).map_err(gql)?;
            // It shows debits and credits too.
            allowed(&ctx, Permission::BillingRead).map_err(gql)?;
            let id = id_arg(&ctx).map_err(gql)?;
            let input: disconnect::DisconnectAccount = optional_input(&ctx, "input").map_err(gql)?;
            let plan = disconnect::preview(db(&ctx), id, input).await.map_err(gql)?;
            Ok(Some(FieldValue::owned_any(plan)))
        })
    })
    .description(
        "fathom extension: what disconnectAccount would do now, computed by the same code, writing nothing.",
    )
    .argument(InputValue::new("id", type_ref("Int64Bit!")))
    .argument(InputValue::new("input", type_ref("DisconnectAccountMutationInput")))
}

fn plan_field(
    name: &'static str,
    ty: &'static str,
    description: &'static str,
    value: for<'a> fn(&'a DisconnectPlan) -> Option<FieldValue<'a>>,
) -> Field {
    crate::graphql::execution::resolver::field(name, type_ref(ty), move |ctx| {
        FieldFuture::new(async move {
            let plan = ctx.parent_value.try_downcast_ref::<DisconnectPlan>()?;
            Ok(value(plan))
        })
    })
    .description(description)
}

fn rows<'a, M: Clone + Send + Sync + 'static>(items: &'a [M]) -> Option<FieldValue<'a>> {
    Some(FieldValue::list(
        items
            .iter()
            .map(|m| FieldValue::owned_any(Row::new(m.clone()))),
    ))
}

fn number<'a>(n: i64) -> Option<FieldValue<'a>> {
    Some(FieldValue::value(Value::from(n)))
}

fn id<'a>(n: i64) -> Option<FieldValue<'a>> {
    Some(FieldValue::value(Value::String(n.to_string())))
}

pub fn types() -> Vec<Object> {
    let preview = Object::new("DisconnectAccountPreview")
        .description("fathom extension: the plan of a disconnection, as disconnectAccount would carry it out now.")
        .field(plan_field("account", "Account!", "The account as it is now.", |p| {
            Some(FieldValue::owned_any(Row::new(p.account.clone())))
        }))
        .field(plan_field("prorate", "Boolean!", "Whether proration credits are given.", |p| {
            Some(FieldValue::value(p.prorate))
        }))
        .field(plan_field("proration_source", "ProrationSource!", "What decided prorate.", |p| {
            Some(FieldValue::value(Value::Enum(async_graphql::Name::new(p.proration_source.as_str()))))
        }))
        .field(plan_field("effective_date", "Date!", "The local date the disconnection takes effect (charged).", |p| {
            Some(FieldValue::value(Value::String(p.effective_date.to_string())))
        }))
        .field(plan_field("debits", "[Debit!]!", "The uninvoiced debits the final invoice takes.", |p| rows(&p.debits)))
        .field(plan_field("credits", "[ProrationCredit!]!", "The proration credits to be given.", |p| {
            Some(FieldValue::list(p.credits.iter().map(|c| FieldValue::owned_any(c.clone()))))
        }))
        .field(plan_field("final_invoice_total_debits", "Int!", "In cents.", |p| number(p.final_invoice_total_debits)))
        .field(plan_field("final_invoice_total_discounts", "Int!", "Credits applied to the final invoice, in cents.", |p| {
            number(p.final_invoice_total_discounts)
        }))
        .field(plan_field("final_invoice_remaining_due", "Int!", "In cents.", |p| number(p.final_invoice_remaining_due)))
        .field(plan_field("creates_final_invoice", "Boolean!", "False when there is nothing uninvoiced.", |p| {
            Some(FieldValue::value(p.creates_final_invoice()))
        }))
        .field(plan_field("serviceable_address_id", "Int64Bit", "The serviceable address to be released.", |p| {
            p.serviceable_address.as_ref().and_then(|a| id(a.id))
        }))
        .field(plan_field("target_account_status_id", "Int64Bit!", "Billing settings' disconnect status.", |p| {
            id(p.target_account_status_id)
        }))
        .field(plan_field(
            "scheduled_events_to_cancel",
            "[ScheduledEvent!]!",
            "Pending scheduled disconnections of the account that would be cancelled.",
            |p| rows(&p.scheduled_events_to_cancel),
        ))
        .field(plan_field(
            "disconnection_reason",
            "DisconnectionReason",
            "The reason the disconnection log would record.",
            |p| p.reason.as_ref().map(|r| FieldValue::owned_any(Row::new(r.clone()))),
        ))
        .field(plan_field("comment", "String", "The comment the disconnection log would record.", |p| {
            p.why.comment.as_ref().map(|c| FieldValue::value(Value::String(c.clone())))
        }))
        .field(plan_field(
            "active_child_accounts",
            "[Account!]!",
            "A warning: these child accounts stay connected (disconnect or unlink them separately).",
            |p| rows(&p.active_child_accounts),
        ));
    let credit_field = |name: &'static str, ty: &'static str, f: fn(&PlannedCredit) -> Value| {
        crate::graphql::execution::resolver::field(name, type_ref(ty), move |ctx| {
            FieldFuture::new(async move {
                let credit = ctx.parent_value.try_downcast_ref::<PlannedCredit>()?;
                Ok(Some(FieldValue::value(f(credit))))
            })
        })
    };
    let credit = Object::new("ProrationCredit")
        .description("fathom extension: a credit for the unused days of a debit.")
        .field(credit_field("debit_id", "Int64Bit!", |c| {
            Value::String(c.debit.id.to_string())
        }))
        .field(credit_field("amount", "Int!", |c| Value::from(c.amount)))
        .field(credit_field("prorated_from", "Date!", |c| {
            Value::String(c.from.to_string())
        }))
        .field(credit_field("prorated_to", "Date!", |c| {
            Value::String(c.to.to_string())
        }));
    vec![preview, credit]
}
