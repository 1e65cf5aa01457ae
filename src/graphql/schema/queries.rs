//! The root query type: every collection of [`crate::graphql::schema::defs`], the singletons, and `me`.

use std::sync::Arc;

use async_graphql::dynamic::{FieldFuture, FieldValue, Object, TypeRef};

use crate::auth::Permission;
use crate::graphql::{
    execution::resolver::{caller, db, gql, require, SuccessResponse},
    schema::{
        defs,
        entity_def::Row,
        objects::{column_field, root_collection, Connection},
    },
};
use crate::service::{
    access::tokens,
    base::{settings, values},
};

pub fn query_type() -> Object {
    let mut query = Object::new("Query");
    for def in defs::all() {
        if !def.plural.is_empty() {
            query = query.field(root_collection(def));
        }
    }
    query
        .field(crate::graphql::schema::disconnect::preview_field())
        .field(crate::graphql::schema::disconnection_runs::preview_field())
        .field(crate::graphql::schema::forecast::query_field())
        .field(crate::graphql::schema::report::query_field())
        .field(crate::graphql::schema::webhooks::query_field())
        .field(
            crate::graphql::execution::resolver::field(
                "system_setting",
                TypeRef::named_nn("SystemSetting"),
                |ctx| {
                    FieldFuture::new(async move {
                        caller(&ctx)?;
                        let setting = settings::system_setting(db(&ctx)).await.map_err(gql)?;
                        Ok(Some(FieldValue::owned_any(Row::new(setting))))
                    })
                },
            )
            .description("Instance-wide settings (the time zone)."),
        )
        .field(
            crate::graphql::execution::resolver::field(
                "billing_setting",
                TypeRef::named_nn("BillingSetting"),
                |ctx| {
                    FieldFuture::new(async move {
                        require(&ctx, Permission::AccountsRead)?;
                        let setting = settings::billing_setting(db(&ctx)).await.map_err(gql)?;
                        Ok(Some(FieldValue::owned_any(Row::new(setting))))
                    })
                },
            )
            .description("The global billing settings."),
        )
        .field(
            crate::graphql::execution::resolver::field("me", TypeRef::named_nn("Me"), |ctx| {
                FieldFuture::new(async move {
                    let user = caller(&ctx)?;
                    let model = tokens::get(db(&ctx), user.user_id).await.map_err(gql)?;
                    Ok(Some(FieldValue::owned_any(Row::new(model))))
                })
            })
            .description("The user the request's token acts as."),
        )
        .field(
            crate::graphql::execution::resolver::field(
                "personal_access_tokens",
                TypeRef::named_nn("PersonalAccessTokenConnection"),
                |ctx| {
                    FieldFuture::new(async move {
                        let user = caller(&ctx)?;
                        let page = tokens::tokens_of(db(&ctx), user.user_id)
                            .await
                            .map_err(gql)?;
                        let page = values::Page {
                            items: page.items.into_iter().map(Row::new).collect(),
                            page: page.page,
                            records_per_page: page.records_per_page,
                            total_count: page.total_count,
                        };
                        Ok(Some(FieldValue::owned_any(Connection(Arc::new(page)))))
                    })
                },
            )
            .description("The calling user's personal access tokens."),
        )
}

/// Types that are not entities: `Me`, `SuccessResponse`, and the token connection.
pub fn extra_types() -> Vec<Object> {
    let user = &defs::USER;
    let mut me = Object::new("Me").description("The calling user.");
    me = me.field(column_field(user, "id", "id", "Int64Bit!"));
    for (name, ty) in [
        ("name", "String!"),
        ("username", "String!"),
        ("public_name", "String!"),
        ("super_admin", "Boolean!"),
        ("role_id", "Int64Bit"),
        ("email_address", "EmailAddress!"),
    ] {
        me = me.field(column_field(user, name, name, ty));
    }
    // A fathom extension: what the token may do, so that a front end (the console) shows only
    // the controls the API would accept.
    me = me.field(
        crate::graphql::execution::resolver::field(
            "permissions",
            TypeRef::named_nn_list_nn("Permission"),
            |ctx| {
                FieldFuture::new(async move {
                    let user = caller(&ctx)?;
                    Ok(Some(crate::graphql::schema::extra_fields::permission_list(
                        user.permissions.iter().copied(),
                    )))
                })
            },
        )
        .description("The permissions the calling token's role grants (a fathom extension)."),
    );
    vec![
        me,
        crate::graphql::schema::objects::connection_type(&defs::PERSONAL_ACCESS_TOKEN),
        Object::new("SuccessResponse")
            .description("The result of a delete.")
            .field(crate::graphql::execution::resolver::field(
                "success",
                TypeRef::named_nn(TypeRef::BOOLEAN),
                |ctx| {
                    FieldFuture::new(async move {
                        let r = ctx.parent_value.try_downcast_ref::<SuccessResponse>()?;
                        Ok(Some(FieldValue::value(r.success)))
                    })
                },
            ))
            .field(crate::graphql::execution::resolver::field(
                "message",
                TypeRef::named("Text"),
                |ctx| {
                    FieldFuture::new(async move {
                        let r = ctx.parent_value.try_downcast_ref::<SuccessResponse>()?;
                        Ok(r.message.clone().map(FieldValue::value))
                    })
                },
            )),
    ]
}
