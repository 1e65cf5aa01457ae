//! Fields that are not plain columns.

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, Object, TypeRef};
use async_graphql::Value;

use crate::auth::{decode_permissions, Permission};
use crate::entity::{personal_access_token, role, service, system_setting};
use crate::graphql::schema::entity_def::{Row, WithSecret};

/// `Service.recurring_service_detail`: the billing frequency of a recurring service.
pub fn service() -> Vec<Field> {
    vec![crate::graphql::execution::resolver::field(
        "recurring_service_detail",
        TypeRef::named("RecurringServiceDetail"),
        |ctx| {
            FieldFuture::new(async move {
                let row = ctx.parent_value.try_downcast_ref::<Row>()?;
                let Some(model) = row.downcast::<service::Model>() else {
                    return Ok(None);
                };
                Ok(model
                    .billing_frequency
                    .map(|_| FieldValue::owned_any(Row::new(model.clone()))))
            })
        },
    )
    .description("For a recurring service: how often it bills. Null for other services.")]
}

/// The `RecurringServiceDetail` type, resolved from the service itself.
pub fn recurring_service_detail_type() -> Object {
    let service_of = |ctx: &async_graphql::dynamic::ResolverContext<'_>| -> async_graphql::Result<service::Model> {
        let row = ctx.parent_value.try_downcast_ref::<Row>()?;
        row.downcast::<service::Model>().cloned().ok_or_else(|| "not a service".into())
    };
    Object::new("RecurringServiceDetail")
        .description("How a recurring service bills.")
        .field(crate::graphql::execution::resolver::field(
            "id",
            TypeRef::named_nn("Int64Bit"),
            move |ctx| {
                FieldFuture::new(async move {
                    Ok(Some(Value::String(service_of(&ctx)?.id.to_string())))
                })
            },
        ))
        .field(
            crate::graphql::execution::resolver::field(
                "billing_frequency",
                TypeRef::named_nn(TypeRef::INT),
                move |ctx| {
                    FieldFuture::new(async move {
                        Ok(Some(Value::from(
                            service_of(&ctx)?.billing_frequency.unwrap_or(1),
                        )))
                    })
                },
            )
            .description("Months between bills."),
        )
        .field(crate::graphql::execution::resolver::field(
            "service_id",
            TypeRef::named_nn("Int64Bit"),
            move |ctx| {
                FieldFuture::new(async move {
                    Ok(Some(Value::String(service_of(&ctx)?.id.to_string())))
                })
            },
        ))
        .field(crate::graphql::execution::resolver::field(
            "service",
            TypeRef::named("Service"),
            move |ctx| {
                FieldFuture::new(async move {
                    Ok(Some(FieldValue::owned_any(Row::new(service_of(&ctx)?))))
                })
            },
        ))
}

/// `PersonalAccessToken.token`: the secret, shown only in the response that created it.
pub fn personal_access_token() -> Vec<Field> {
    vec![
        crate::graphql::execution::resolver::field("token", TypeRef::named("Text"), |ctx| {
            FieldFuture::new(async move {
                let row = ctx.parent_value.try_downcast_ref::<Row>()?;
                let secret = row
                    .downcast::<WithSecret<personal_access_token::Model>>()
                    .map(|w| w.secret.clone());
                Ok(secret.map(|s| FieldValue::value(Value::String(s))))
            })
        })
        .description(
            "The token itself: returned once, by createPersonalAccessToken; null afterwards.",
        ),
    ]
}

/// `SystemSetting.timezone_name` (a fathom extension): the time zone's IANA name, which browsers
/// and most libraries take (`timezone` is Sonar's enum value, `AMERICACHICAGO`).
pub fn system_setting() -> Vec<Field> {
    vec![crate::graphql::execution::resolver::field(
        "timezone_name",
        TypeRef::named_nn(TypeRef::STRING),
        |ctx| {
            FieldFuture::new(async move {
                let row = ctx.parent_value.try_downcast_ref::<Row>()?;
                let name = row
                    .downcast::<system_setting::Model>()
                    .and_then(|s| crate::sonar_enums::timezone_name(&s.timezone))
                    .unwrap_or("UTC");
                Ok(Some(FieldValue::value(Value::String(name.into()))))
            })
        },
    )
    .description(
        "fathom extension: the time zone's IANA name (America/Chicago for AMERICACHICAGO), as browsers take it.",
    )]
}

/// Permissions as a list of `Permission` enum values (`Role.applied_permissions`,
/// `Me.permissions`).
pub fn permission_list(permissions: impl IntoIterator<Item = Permission>) -> FieldValue<'static> {
    FieldValue::list(
        permissions
            .into_iter()
            .map(|p| FieldValue::value(Value::Enum(async_graphql::Name::new(p.name())))),
    )
}

/// `Role.applied_permissions`: the permissions the role grants.
pub fn role() -> Vec<Field> {
    vec![crate::graphql::execution::resolver::field(
        "applied_permissions",
        TypeRef::named_list_nn("Permission"),
        |ctx| {
            FieldFuture::new(async move {
                let row = ctx.parent_value.try_downcast_ref::<Row>()?;
                let permissions = row
                    .downcast::<role::Model>()
                    .map(|r| decode_permissions(&r.permissions))
                    .unwrap_or_default();
                Ok(Some(permission_list(permissions)))
            })
        },
    )
    .description("The permissions the role grants.")]
}
