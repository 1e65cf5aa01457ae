use axum::body::Body;
use axum::http::{Request, StatusCode};
use fathom::service::access::tokens;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;

use crate::common::{self, error_code};

const ME: &str = r#"{"query":"{ me { name username } }"}"#;

on_both!(
    requests_without_a_valid_token_get_401_unauthenticated,
    |app| {
        let fingerprint = app.fingerprint().await;
        for token in [
            None,
            Some("not-a-token"),
            Some("fathom_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
        ] {
            let (status, body) = app.post_raw(token, ME).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}: {body}");
            assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
        }
        // A well-formed token with a valid checksum that was never issued.
        let forged = fathom::auth::CheckedToken::generate();
        let (status, body) = app.post_raw(Some(forged.as_str()), ME).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
        // A wrong scheme.
        let request = Request::post("/api/graphql")
            .header("authorization", format!("Basic {}", app.token))
            .header("content-type", "application/json")
            .body(Body::from(ME))
            .unwrap();
        assert_eq!(app.send(request).await.0, StatusCode::UNAUTHORIZED);
        // Nothing about the failed attempts was written.
        assert_eq!(app.fingerprint().await, fingerprint);
    }
);

on_both!(graphiql_and_health_load_without_a_token, |app| {
    for path in ["/graphiql", "/healthz", "/readyz", "/metrics"] {
        let (status, body) = app
            .send(Request::get(path).body(Body::empty()).unwrap())
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
        if path == "/graphiql" {
            assert!(body.as_str().unwrap().contains("/api/graphql"));
        }
    }
});

on_both!(me_returns_the_calling_user, |app| {
    let data = app
        .ok(
            "{ me { name username super_admin role_id email_address } }",
            json!({}),
        )
        .await;
    assert_eq!(data["me"]["username"], "admin");
    assert_eq!(data["me"]["super_admin"], true);
});

on_both!(
    a_created_token_is_shown_once_works_and_stops_working_when_deleted,
    |app| {
        let data = app
        .ok("mutation { createPersonalAccessToken(input: {name: \"script\"}) { id name revoked token } }", json!({}))
        .await;
        let token = data["createPersonalAccessToken"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let id = data["createPersonalAccessToken"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(token.starts_with("fathom_"));
        assert_eq!(data["createPersonalAccessToken"]["revoked"], false);

        // The new token works, and the token itself is never listed again.
        let me = app.gql_as(&token, "{ me { username } }", json!({})).await;
        assert_eq!(me["data"]["me"]["username"], "admin");
        let list = app.ok("{ personal_access_tokens { entities { id name token last_used_at } page_info { total_count } } }", json!({})).await;
        let tokens = list["personal_access_tokens"]["entities"]
            .as_array()
            .unwrap();
        assert_eq!(tokens.len(), 2);
        assert!(tokens.iter().all(|t| t["token"].is_null()));
        assert!(
            tokens.iter().any(|t| !t["last_used_at"].is_null()),
            "last_used_at is recorded"
        );

        let deleted = app
        .ok("mutation($id: Int64Bit!) { deletePersonalAccessToken(id: $id) { success message } }", json!({ "id": id }))
        .await;
        assert_eq!(deleted["deletePersonalAccessToken"]["success"], true);
        let (status, body) = app.post_raw(Some(&token), ME).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));

        // Deleting a token that does not exist is NOT_FOUND.
        let code = app
            .code(
                "mutation { deletePersonalAccessToken(id: 999999) { success } }",
                json!({}),
            )
            .await;
        assert_eq!(code, "NOT_FOUND");
    }
);

/// Creates a user with a built-in role and a token for them, through the service layer (the
/// API's `createUser` is tested in `users.rs`; a token for another user has no API path).
async fn user_with_role(app: &common::TestApp, username: &str, role: &str) -> (i64, String) {
    let user = tokens::create_user(
        &app.db,
        username,
        username,
        &format!("{username}@example.com"),
        role,
    )
    .await
    .unwrap();
    let (_, token) = tokens::create_token(&app.db, user.id, "test")
        .await
        .unwrap();
    (user.id, token.as_str().to_owned())
}

on_both!(
    a_read_only_user_can_read_but_gets_forbidden_naming_the_permission_on_writes,
    |app| {
        let (_, token) = user_with_role(app, "reader", "Read Only").await;
        let read = app
            .gql_as(
                &token,
                "{ accounts { page_info { total_count } } }",
                json!({}),
            )
            .await;
        assert!(read.get("errors").is_none(), "{read}");
        let before = app.fingerprint().await;
        let write = app
        .gql_as(&token, "mutation { createAccountStatus(input: {name: \"X\", activates_account: false, color: \"FFFFFF\", icon: ADD759610}) { id } }", json!({}))
        .await;
        assert_eq!(error_code(&write).as_deref(), Some("FORBIDDEN"));
        assert!(write["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("SETTINGS_WRITE"));
        let write = app
            .gql_as(
                &token,
                "mutation { updateAccount(id: 1, input: {name: \"X\"}) { id } }",
                json!({}),
            )
            .await;
        assert_eq!(error_code(&write).as_deref(), Some("FORBIDDEN"));
        assert!(write["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ACCOUNTS_WRITE"));
        assert_eq!(app.fingerprint().await, before);
    }
);

on_both!(the_billing_role_cannot_change_settings, |app| {
    let (_, token) = user_with_role(app, "biller", "Billing").await;
    let body = app
        .gql_as(
            &token,
            "mutation { updateSystemSettings(input: {timezone: AMERICACHICAGO}) { timezone } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("FORBIDDEN"));
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("SETTINGS_WRITE"));
});

on_both!(a_disabled_users_tokens_stop_working, |app| {
    let (user_id, token) = user_with_role(app, "leaver", "Billing").await;
    assert_eq!(app.post_raw(Some(&token), ME).await.0, StatusCode::OK);
    let user = fathom::entity::user::Entity::find_by_id(user_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut am: fathom::entity::user::ActiveModel = user.into();
    am.enabled = Set(false);
    am.update(&app.db).await.unwrap();
    let (status, body) = app.post_raw(Some(&token), ME).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
});
