//! The webhook part of the schema that is not generic: the signing secret shown once,
//! `webhook_model_events`, `WebhookTestResponse`, and the mutations.

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, Object, TypeRef};
use async_graphql::Value;

use crate::auth::Permission::WebhooksManage;
use crate::graphql::{
    execution::resolver::{allowed, gql},
    schema::{entity_def::Row, objects::Connection},
};
use crate::service::{
    base::values::Page,
    webhooks::{
        delivery::{Answer, Delivery},
        endpoints::MODEL_EVENTS,
    },
};

/// The webhook delivery of the server (its HTTP client and [`crate::service::webhooks::endpoints::Policy`]).
pub fn delivery<'a>(ctx: &async_graphql::dynamic::ResolverContext<'a>) -> &'a Delivery {
    &ctx.ctx
        .data_unchecked::<crate::graphql::execution::resolver::State>()
        .webhooks
}

/// One model and its events, as `webhook_model_events` lists them.
struct ModelEvents {
    model: &'static str,
    events: &'static [&'static str],
}

fn string_field(name: &'static str, get: fn(&ModelEvents) -> Value, ty: TypeRef) -> Field {
    crate::graphql::execution::resolver::field(name, ty, move |ctx| {
        FieldFuture::new(async move {
            let row = ctx.parent_value.try_downcast_ref::<Row>()?;
            let me = row
                .downcast::<ModelEvents>()
                .ok_or_else(|| async_graphql::Error::new("not a model event"))?;
            Ok(Some(FieldValue::value(get(me))))
        })
    })
}

pub fn types() -> Vec<Object> {
    let result = Object::new("WebhookModelEventResult")
        .description("A model webhooks report, and its events an endpoint may subscribe to.")
        .field(string_field(
            "model",
            |m| Value::String(m.model.into()),
            TypeRef::named_nn(TypeRef::STRING),
        ))
        .field(string_field(
            "events",
            |m| {
                Value::List(
                    m.events
                        .iter()
                        .map(|e| Value::Enum(async_graphql::Name::new(*e)))
                        .collect(),
                )
            },
            TypeRef::named_list_nn("WebhookEndpointModelEvent"),
        ));
    let connection = Object::new("WebhookModelEventResultConnection")
        .description("Every model/event pair an endpoint may subscribe to, on one page.")
        .field(crate::graphql::execution::resolver::field(
            "entities",
            TypeRef::named_nn_list_nn("WebhookModelEventResult"),
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
    let answer = |name: &'static str, ty: TypeRef, get: fn(&Answer) -> Value| {
        crate::graphql::execution::resolver::field(name, ty, move |ctx| {
            FieldFuture::new(async move {
                let answer = ctx.parent_value.try_downcast_ref::<Answer>()?;
                Ok(Some(FieldValue::value(get(answer))))
            })
        })
    };
    let test = Object::new("WebhookTestResponse")
        .description("What an endpoint answered to a test dispatch.")
        .field(
            answer("success", TypeRef::named_nn(TypeRef::BOOLEAN), |a| {
                Value::Boolean(a.success)
            })
            .description("Whether it answered 2xx within 10 seconds."),
        )
        .field(
            answer("status_code", TypeRef::named_nn(TypeRef::INT), |a| {
                Value::from(a.status_code.unwrap_or(0))
            })
            .description("The HTTP status; 0 when there was no answer."),
        )
        .field(
            answer("response", TypeRef::named_nn(TypeRef::STRING), |a| {
                Value::String(a.response.clone())
            })
            .description("The first 2 KiB of the answer, or why there was none."),
        );
    vec![result, connection, test]
}

/// `webhook_model_events`.
pub fn query_field() -> Field {
    crate::graphql::execution::resolver::field(
        "webhook_model_events",
        TypeRef::named("WebhookModelEventResultConnection"),
        |ctx| {
            FieldFuture::new(async move {
                allowed(&ctx, WebhooksManage).map_err(gql)?;
                let items: Vec<Row> = MODEL_EVENTS
                    .iter()
                    .map(|(model, events)| Row::new(ModelEvents { model, events }))
                    .collect();
                let total = items.len() as u64;
                Ok(Some(FieldValue::owned_any(Connection(
                    std::sync::Arc::new(Page {
                        items,
                        page: 1,
                        records_per_page: total.max(1),
                        total_count: total,
                    }),
                ))))
            })
        },
    )
    .description("The model/event pairs webhook endpoints may subscribe to (WEBHOOKS_MANAGE).")
}
