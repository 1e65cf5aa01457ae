//! `createPayments`' answer: one `PaymentResult` per payment given, in order, on one page
//! (`PaymentResultConnection`). Sonar's `PaymentResult` has only `value`; fathom adds what a
//! script needs to tell the results apart without parsing it.

use std::sync::Arc;

use async_graphql::dynamic::{FieldFuture, FieldValue, Object, TypeRef};
use async_graphql::Value;

use crate::entity::payment;
use crate::error::AppError;
use crate::graphql::execution::resolver::field;
use crate::graphql::schema::{entity_def::Row, objects::Connection};
use crate::service::base::values::Page;

/// One payment's outcome.
pub struct PaymentResult(pub Result<payment::Model, AppError>);

/// The connection of `outcomes`, as `createPayments` answers it.
pub fn connection(outcomes: Vec<Result<payment::Model, AppError>>) -> FieldValue<'static> {
    let items: Vec<Row> = outcomes
        .into_iter()
        .map(|outcome| Row::new(PaymentResult(outcome)))
        .collect();
    let total = items.len() as u64;
    FieldValue::owned_any(Connection(Arc::new(Page {
        items,
        page: 1,
        records_per_page: total.max(1),
        total_count: total,
    })))
}

fn result_field(
    name: &'static str,
    ty: TypeRef,
    description: &'static str,
    get: fn(&Result<payment::Model, AppError>) -> Option<FieldValue<'static>>,
) -> async_graphql::dynamic::Field {
    field(name, ty, move |ctx| {
        FieldFuture::new(async move {
            let row = ctx.parent_value.try_downcast_ref::<Row>()?;
            let result = row
                .downcast::<PaymentResult>()
                .ok_or_else(|| async_graphql::Error::new("not a payment result"))?;
            Ok(get(&result.0))
        })
    })
    .description(description)
}

pub fn types() -> Vec<Object> {
    let result = Object::new("PaymentResult")
        .description("What became of one payment of createPayments.")
        .field(result_field(
            "value",
            TypeRef::named_nn(TypeRef::STRING),
            "The new payment's id, or why it was refused.",
            |r| match r {
                Ok(p) => Some(FieldValue::value(Value::String(p.id.to_string()))),
                Err(e) => Some(FieldValue::value(Value::String(e.to_string()))),
            },
        ))
        .field(result_field(
            "success",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            "fathom extension: whether the payment was recorded.",
            |r| Some(FieldValue::value(Value::Boolean(r.is_ok()))),
        ))
        .field(result_field(
            "payment",
            TypeRef::named("Payment"),
            "fathom extension: the payment, when it was recorded.",
            |r| {
                r.as_ref()
                    .ok()
                    .map(|p| FieldValue::owned_any(Row::new(p.clone())))
            },
        ))
        .field(result_field(
            "error_code",
            TypeRef::named(TypeRef::STRING),
            "fathom extension: the refusal's code (as extensions.code), when it was refused.",
            |r| {
                r.as_ref()
                    .err()
                    .map(|e| FieldValue::value(Value::String(e.code().into())))
            },
        ))
        .field(result_field(
            "error_field",
            TypeRef::named(TypeRef::STRING),
            "fathom extension: the input the refusal names (payments.N.amount), if any.",
            |r| match r {
                Err(AppError::Validation { field, .. }) | Err(AppError::Taken { field, .. }) => {
                    Some(FieldValue::value(Value::String(field.clone())))
                }
                _ => None,
            },
        ));
    let connection = Object::new("PaymentResultConnection")
        .description("The results of createPayments, one per payment given, in order, on one page.")
        .field(field(
            "entities",
            TypeRef::named_nn_list_nn("PaymentResult"),
            |ctx| {
                FieldFuture::new(async move {
                    let conn = ctx.parent_value.try_downcast_ref::<Connection>()?;
                    Ok(Some(FieldValue::list(
                        conn.0.items.iter().map(|r| FieldValue::borrowed_any(r)),
                    )))
                })
            },
        ))
        .field(crate::graphql::schema::objects::page_info_field());
    vec![result, connection]
}
