//! Users and roles: `createUser`, `updateUser`, `roles`, and what a role may do. The
//! permission tests enumerate every mutation and every root query from the schema itself
//! (introspection over the API), so a new one is covered the day it is added.

use std::collections::HashMap;

use axum::http::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Map, Value};

use crate::common::{self, create_account, error_code, TestApp};
use fathom::service::{access::tokens, base::values};

const CREATE_USER: &str = "mutation($input: CreateUserMutationInput) { createUser(input: $input) { id username name public_name email_address mobile_number language enabled super_admin completed_setup role_id _version role { name applied_permissions } } }";
const UPDATE_USER: &str = "mutation($id: Int64Bit!, $input: UpdateUserMutationInput) { updateUser(id: $id, input: $input) { id username name public_name email_address mobile_number enabled super_admin role_id _version role { name } } }";
const ME: &str = r#"{"query":"{ me { username } }"}"#;

fn id_of(value: &Value) -> i64 {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an id: {value}"))
        .parse()
        .unwrap()
}

async fn role_id(app: &TestApp, name: &str) -> i64 {
    let data = app
        .ok(
            "query($name: String) { roles(name: $name) { entities { id } } }",
            json!({ "name": name }),
        )
        .await;
    id_of(&data["roles"]["entities"][0]["id"])
}

/// Creates a user through the API, as admin, with the role called `role` (the default role
/// when `None`), and returns their id.
async fn create_user(app: &TestApp, username: &str, role: Option<&str>) -> i64 {
    let mut input = json!({
        "name": username, "username": username, "public_name": username,
        "email_address": format!("{username}@example.com"),
    });
    if let Some(role) = role {
        input["role_id"] = json!(role_id(app, role).await);
    }
    let data = app.ok(CREATE_USER, json!({ "input": input })).await;
    id_of(&data["createUser"]["id"])
}

/// A user created through the API, and a token acting as them. `createPersonalAccessToken`
/// makes a token for its caller, so a token for someone else comes from the service layer,
/// as `fathom token create --user` makes it.
async fn user_with_token(app: &TestApp, username: &str, role: Option<&str>) -> (i64, String) {
    let id = create_user(app, username, role).await;
    let (_, token) = tokens::create_token(&app.db, id, "test").await.unwrap();
    (id, token.as_str().to_owned())
}

async fn user_logs(app: &TestApp, id: i64) -> Vec<Value> {
    let data = app
        .ok(
            "query($id: Int64Bit) { logs(loggable_type: \"User\", loggable_id: $id, sorter: [{attribute: \"id\", direction: ASC}]) { entities { type user_id previous current } } }",
            json!({ "id": id }),
        )
        .await;
    data["logs"]["entities"].as_array().unwrap().clone()
}

fn field_of(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["field"].as_str()
}

on_both!(
    a_user_created_without_a_role_gets_read_only_and_an_audit_row,
    |app| {
        let data = app
            .ok(
                CREATE_USER,
                json!({ "input": {
                    "name": "Rita Reader", "username": "rita", "public_name": "Rita",
                    "email_address": "rita@example.com", "mobile_number": "15555550100", "language": "fr"
                }}),
            )
            .await;
        let user = &data["createUser"];
        let id = id_of(&user["id"]);
        assert_eq!(user["username"], "rita");
        assert_eq!(user["public_name"], "Rita");
        assert_eq!(user["mobile_number"], "15555550100");
        assert_eq!(user["language"], "fr");
        assert_eq!(user["completed_setup"], true);
        assert_eq!(user["enabled"], true);
        assert_eq!(user["super_admin"], false);
        assert_eq!(user["_version"], "1");
        assert_eq!(user["role"]["name"], "Read Only");
        assert_eq!(
            user["role"]["applied_permissions"],
            json!(["ACCOUNTS_READ", "BILLING_READ", "REPORTS_READ"])
        );

        // Listed, filterable by username, with its role.
        let listed = app
            .ok(
                "{ users(username: \"rita\") { entities { id role { name } } page_info { total_count } } }",
                json!({}),
            )
            .await;
        assert_eq!(listed["users"]["page_info"]["total_count"], 1);
        assert_eq!(listed["users"]["entities"][0]["id"], user["id"]);

        // One CREATED row, by the admin who called.
        let logs = user_logs(app, id).await;
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0]["type"], "CREATED");
        assert_eq!(logs[0]["user_id"], "1");
        let current: Value = serde_json::from_str(logs[0]["current"].as_str().unwrap()).unwrap();
        assert_eq!(current["username"], "rita");

        // The roles, their permissions and their users.
        let roles = app
            .ok(
                "{ roles(sorter: [{attribute: \"name\", direction: ASC}]) { entities { name applied_permissions users { entities { username } } } } }",
                json!({}),
            )
            .await;
        let roles = roles["roles"]["entities"].as_array().unwrap();
        let names: Vec<&str> = roles.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Administrator", "Billing", "Read Only"]);
        assert_eq!(
            roles[0]["applied_permissions"].as_array().unwrap().len(),
            10
        );
        assert!(!roles[1]["applied_permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("USERS_MANAGE")));
        assert_eq!(
            roles[0]["users"]["entities"],
            json!([{"username": "admin"}])
        );
        assert_eq!(roles[2]["users"]["entities"], json!([{"username": "rita"}]));
    }
);

on_both!(
    updating_a_user_changes_what_was_given_bumps_version_and_logs_each_change,
    |app| {
        let id = create_user(app, "bob", None).await;
        let billing = role_id(app, "Billing").await;
        let data = app
            .ok(
                UPDATE_USER,
                json!({ "id": id, "input": {
                    "name": "Bob Biller", "username": "bob.b", "role_id": billing,
                    "mobile_number": "15555550101", "password": "ignored: fathom has no passwords"
                }}),
            )
            .await;
        let user = &data["updateUser"];
        assert_eq!(user["name"], "Bob Biller");
        assert_eq!(user["username"], "bob.b");
        assert_eq!(user["public_name"], "bob", "unchanged");
        assert_eq!(user["role"]["name"], "Billing");
        assert_eq!(user["mobile_number"], "15555550101");
        assert_eq!(user["_version"], "2");

        let data = app
            .ok(
                UPDATE_USER,
                json!({ "id": id, "input": { "unset_mobile_number": true } }),
            )
            .await;
        assert!(data["updateUser"]["mobile_number"].is_null());
        assert_eq!(data["updateUser"]["_version"], "3");

        let logs = user_logs(app, id).await;
        let kinds: Vec<&str> = logs.iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["CREATED", "UPDATED", "UPDATED"]);
        let previous: Value = serde_json::from_str(logs[1]["previous"].as_str().unwrap()).unwrap();
        assert_eq!(previous["username"], "bob");
        assert!(
            !logs[1]["current"].as_str().unwrap().contains("ignored"),
            "the password is not stored anywhere"
        );

        // A user that does not exist.
        let body = app
            .gql(
                UPDATE_USER,
                json!({ "id": 999999, "input": { "name": "X" } }),
            )
            .await;
        assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"));
    }
);

// --- Enumerating the schema --------------------------------------------------------------

const INTROSPECTION: &str = "{ __schema { types { kind name
    fields { name args { name type { ...T } } type { ...T } }
    inputFields { name type { ...T } }
    enumValues { name } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

/// The schema's types by name, as introspection over the API describes them.
struct Types(HashMap<String, Value>);

impl Types {
    async fn load(app: &TestApp) -> Types {
        let data = app.ok(INTROSPECTION, json!({})).await;
        let types = data["__schema"]["types"].as_array().unwrap();
        Types(
            types
                .iter()
                .map(|t| (t["name"].as_str().unwrap().to_owned(), t.clone()))
                .collect(),
        )
    }

    fn fields(&self, type_name: &str) -> Vec<Value> {
        self.0[type_name]["fields"].as_array().unwrap().clone()
    }

    fn kind_of_named(&self, type_ref: &Value) -> &str {
        self.0[named(type_ref)]["kind"].as_str().unwrap()
    }

    /// A plausible value for an input of type `type_ref`: ids are `id`, an input object gets
    /// its required fields, an enum its first value.
    fn sample(&self, type_ref: &Value, id: i64) -> Value {
        match type_ref["kind"].as_str().unwrap() {
            "NON_NULL" => self.sample(&type_ref["ofType"], id),
            "LIST" => json!([self.sample(&type_ref["ofType"], id)]),
            _ => {
                let ty = &self.0[named(type_ref)];
                match ty["kind"].as_str().unwrap() {
                    "SCALAR" => scalar_sample(ty["name"].as_str().unwrap(), id),
                    "ENUM" => ty["enumValues"][0]["name"].clone(),
                    "INPUT_OBJECT" => {
                        let mut object = Map::new();
                        for field in ty["inputFields"].as_array().unwrap() {
                            if field["type"]["kind"] == "NON_NULL" {
                                object.insert(
                                    field["name"].as_str().unwrap().to_owned(),
                                    self.sample(&field["type"], id),
                                );
                            }
                        }
                        Value::Object(object)
                    }
                    other => panic!("no input of kind {other}"),
                }
            }
        }
    }

    /// A selection of `type_ref`'s leaf fields (and, `depth` levels down, of its objects'),
    /// leaving out fields with required arguments; empty for a leaf type.
    fn selection(&self, type_ref: &Value, depth: usize) -> String {
        let ty = &self.0[named(type_ref)];
        match ty["kind"].as_str().unwrap() {
            "OBJECT" | "INTERFACE" => {}
            "UNION" => return "{ __typename }".into(),
            _ => return String::new(),
        }
        let mut parts = vec!["__typename".to_owned()];
        for field in ty["fields"].as_array().unwrap() {
            let requires_arguments = field["args"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["type"]["kind"] == "NON_NULL");
            if requires_arguments {
                continue;
            }
            let name = field["name"].as_str().unwrap();
            match self.kind_of_named(&field["type"]) {
                "SCALAR" | "ENUM" => parts.push(name.to_owned()),
                _ if depth > 0 => parts.push(format!(
                    "{name} {}",
                    self.selection(&field["type"], depth - 1)
                )),
                _ => {}
            }
        }
        format!("{{ {} }}", parts.join(" "))
    }

    /// An operation calling the root field `field` with `args` (name → sample value).
    fn operation(
        &self,
        kind: &str,
        field: &Value,
        args: &[&Value],
        id: i64,
        depth: usize,
    ) -> (String, Value) {
        let name = field["name"].as_str().unwrap();
        let mut declarations = Vec::new();
        let mut passed = Vec::new();
        let mut variables = Map::new();
        for (i, arg) in args.iter().enumerate() {
            declarations.push(format!("$a{i}: {}", type_string(&arg["type"])));
            passed.push(format!("{}: $a{i}", arg["name"].as_str().unwrap()));
            variables.insert(format!("a{i}"), self.sample(&arg["type"], id));
        }
        let wrap = |items: Vec<String>| {
            if items.is_empty() {
                String::new()
            } else {
                format!("({})", items.join(", "))
            }
        };
        let query = format!(
            "{kind}{} {{ {name}{} {} }}",
            wrap(declarations),
            wrap(passed),
            self.selection(&field["type"], depth)
        );
        (query, Value::Object(variables))
    }
}

fn named(type_ref: &Value) -> &str {
    match type_ref["name"].as_str() {
        Some(name) => name,
        None => named(&type_ref["ofType"]),
    }
}

fn type_string(type_ref: &Value) -> String {
    match type_ref["kind"].as_str().unwrap() {
        "NON_NULL" => format!("{}!", type_string(&type_ref["ofType"])),
        "LIST" => format!("[{}]", type_string(&type_ref["ofType"])),
        _ => type_ref["name"].as_str().unwrap().to_owned(),
    }
}

fn scalar_sample(name: &str, id: i64) -> Value {
    match name {
        "Int64Bit" | "ID" => json!(id.to_string()),
        "Int" => json!(1),
        "Float" => json!(1.0),
        "Boolean" => json!(false),
        "String" | "Text" => json!("x"),
        // A month ahead: within what every date argument takes (a forecast's `until` is at
        // most a year ahead).
        "Date" => json!((chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string()),
        "Datetime" => json!("2030-01-01T00:00:00Z"),
        "Time" => json!("12:00:00"),
        "EmailAddress" => json!("someone@example.com"),
        "HtmlHexColor" => json!("112233"),
        "Latitude" => json!(40.0),
        "Longitude" => json!(-90.0),
        "Numeric" => json!("5550100"),
        "URL" | "HttpsUrl" => json!("https://example.com"),
        "Geopoint" => json!("40,-90"),
        other => panic!("no sample value for the scalar {other}: teach this test one"),
    }
}

/// Mutations a Read Only token may call: they act on the caller's own tokens, which needs no
/// permission.
const OWN_TOKEN_MUTATIONS: &[&str] = &[
    // Makes a token for the caller themselves.
    "createPersonalAccessToken",
];

on_both!(
    a_read_only_token_is_forbidden_every_mutation_and_writes_nothing,
    |app| {
        // Every id argument is 1: the first account, company, status, type, user (admin),
        // and admin's own initial token, so that each call would find what it names.
        let account = create_account(app, "Forbidden", 1).await;
        assert_eq!(account, 1);
        let (_, reader) = user_with_token(app, "reader", Some("Read Only")).await;
        let types = Types::load(app).await;
        let mutations = types.fields("Mutation");
        assert!(mutations.len() >= 35, "{} mutations", mutations.len());

        let before = app.fingerprint().await;
        let mut checked = Vec::new();
        let mut wrong = Vec::new();
        for field in &mutations {
            let name = field["name"].as_str().unwrap();
            if OWN_TOKEN_MUTATIONS.contains(&name) {
                continue;
            }
            // Every argument, optional ones (`input`) too, so that a mutation that forgot its
            // permission check would go on and write, and be caught.
            let args: Vec<&Value> = field["args"].as_array().unwrap().iter().collect();
            let (query, variables) = types.operation("mutation", field, &args, 1, 0);
            let body = app.gql_as(&reader, &query, variables.clone()).await;
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            let names_a_permission = fathom::auth::Permission::ALL
                .iter()
                .any(|p| message.contains(p.name()));
            if error_code(&body).as_deref() != Some("FORBIDDEN")
                || !names_a_permission
                || !body["data"][name].is_null()
            {
                wrong.push(format!("{query} {variables} -> {body}"));
            }
            checked.push(name.to_owned());
        }
        assert!(
            wrong.is_empty(),
            "not FORBIDDEN naming a permission:\n{}",
            wrong.join("\n")
        );
        for expected in [
            "createUser",
            "updateUser",
            "disconnectAccount",
            "createInvoice",
        ] {
            assert!(checked.iter().any(|c| c == expected), "{expected} checked");
        }
        assert_eq!(app.fingerprint().await, before, "nothing was written");
    }
);

on_both!(a_read_only_token_can_run_every_root_query, |app| {
    // disconnect_account_preview needs an active account; every id argument names it.
    let account = create_account(app, "Readable", 1).await;
    let (_, reader) = user_with_token(app, "reader", Some("Read Only")).await;
    let types = Types::load(app).await;
    let queries = types.fields("Query");
    let mut wrong = Vec::new();
    for field in &queries {
        let name = field["name"].as_str().unwrap();
        let required: Vec<&Value> = field["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"]["kind"] == "NON_NULL")
            .collect();
        let (query, mut variables) = types.operation("query", field, &required, account, 2);
        if name == "disconnection_run_preview" {
            // Its input's required fields select nothing (refused as such): name the account.
            variables["a0"]["account_ids"] = serde_json::json!([account]);
        }
        let body = app.gql_as(&reader, &query, variables.clone()).await;
        // Webhooks need WEBHOOKS_MANAGE, which Read Only lacks: their payloads carry account
        // data, and their endpoints are where it goes.
        if name.starts_with("webhook_") {
            if error_code(&body).as_deref() != Some("FORBIDDEN") {
                wrong.push(format!(
                    "{query} {variables} -> {body} (expected FORBIDDEN)"
                ));
            }
        } else if body.get("errors").is_some() || body["data"][name].is_null() {
            wrong.push(format!("{query} {variables} -> {body}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "wrong for Read Only:\n{}",
        wrong.join("\n")
    );
    let names: Vec<&str> = queries
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for expected in [
        "users",
        "roles",
        "me",
        "activations_and_disconnections_report",
        "disconnect_account_preview",
        "webhook_endpoints",
        "webhook_model_events",
    ] {
        assert!(names.contains(&expected), "{expected} is a root query");
    }
});

// --- Disabling, and refusals -------------------------------------------------------------

on_both!(
    disabling_a_user_stops_their_token_on_the_next_request_and_enabling_restores_it,
    |app| {
        let (id, token) = user_with_token(app, "leaver", Some("Billing")).await;
        assert_eq!(app.post_raw(Some(&token), ME).await.0, StatusCode::OK);

        let data = app
            .ok(
                UPDATE_USER,
                json!({ "id": id, "input": { "enabled": false } }),
            )
            .await;
        assert_eq!(data["updateUser"]["enabled"], false);
        assert_eq!(data["updateUser"]["_version"], "2");
        let (status, body) = app.post_raw(Some(&token), ME).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));

        let data = app
            .ok(
                UPDATE_USER,
                json!({ "id": id, "input": { "enabled": true } }),
            )
            .await;
        assert_eq!(data["updateUser"]["_version"], "3");
        let (status, body) = app.post_raw(Some(&token), ME).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["data"]["me"]["username"], "leaver");
        assert_eq!(user_logs(app, id).await.len(), 3);
    }
);

on_both!(
    a_taken_username_an_unknown_role_or_a_bad_value_is_refused_and_writes_nothing,
    |app| {
        let bob = create_user(app, "bob", None).await;
        create_user(app, "carol", None).await;
        let before = app.fingerprint().await;
        let new_user = |username: &str, role_id: Option<i64>| {
            json!({ "input": {
                "name": "N", "username": username, "public_name": "N",
                "email_address": "n@example.com", "role_id": role_id
            }})
        };

        let body = app.gql(CREATE_USER, new_user("bob", None)).await;
        assert_eq!(error_code(&body).as_deref(), Some("CONFLICT"), "{body}");
        assert_eq!(field_of(&body), Some("username"));
        assert!(body["data"]["createUser"].is_null());
        let body = app
            .gql(
                UPDATE_USER,
                json!({ "id": bob, "input": { "username": "carol" } }),
            )
            .await;
        assert_eq!(error_code(&body).as_deref(), Some("CONFLICT"), "{body}");
        assert_eq!(field_of(&body), Some("username"));

        let body = app.gql(CREATE_USER, new_user("dave", Some(999))).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("VALIDATION_FAILED"),
            "{body}"
        );
        assert_eq!(field_of(&body), Some("role_id"));
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("role 999 does not exist"));
        let body = app
            .gql(
                UPDATE_USER,
                json!({ "id": bob, "input": { "role_id": 999 } }),
            )
            .await;
        assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
        assert_eq!(field_of(&body), Some("role_id"));

        let body = app.gql(CREATE_USER, new_user("two words", None)).await;
        assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
        assert_eq!(field_of(&body), Some("username"));
        let body = app
            .gql(
                UPDATE_USER,
                json!({ "id": bob, "input": { "mobile_number": "1555", "unset_mobile_number": true } }),
            )
            .await;
        assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
        assert_eq!(field_of(&body), Some("unset_mobile_number"));

        assert_eq!(app.fingerprint().await, before);
    }
);

on_both!(
    a_billing_token_is_forbidden_to_create_or_change_users,
    |app| {
        let (biller, token) = user_with_token(app, "biller", Some("Billing")).await;
        let before = app.fingerprint().await;
        let body = app
            .gql_as(
                &token,
                CREATE_USER,
                json!({ "input": {
                    "name": "N", "username": "sneaky", "public_name": "N",
                    "email_address": "n@example.com", "role_id": role_id(app, "Administrator").await
                }}),
            )
            .await;
        assert_eq!(error_code(&body).as_deref(), Some("FORBIDDEN"));
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("USERS_MANAGE"));
        // Not even to promote themselves.
        let body = app
            .gql_as(
                &token,
                UPDATE_USER,
                json!({ "id": biller, "input": { "role_id": 1 } }),
            )
            .await;
        assert_eq!(error_code(&body).as_deref(), Some("FORBIDDEN"));
        assert_eq!(app.fingerprint().await, before);
    }
);

on_both!(
    an_administrator_cannot_disable_themselves_or_give_up_users_manage,
    |app| {
        let read_only = role_id(app, "Read Only").await;
        let billing = role_id(app, "Billing").await;
        let before = app.fingerprint().await;
        let body = app
            .gql(
                UPDATE_USER,
                json!({ "id": 1, "input": { "enabled": false } }),
            )
            .await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("VALIDATION_FAILED"),
            "{body}"
        );
        assert_eq!(field_of(&body), Some("enabled"));
        assert!(body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot disable yourself"));
        for role in [read_only, billing] {
            let body = app
                .gql(
                    UPDATE_USER,
                    json!({ "id": 1, "input": { "role_id": role } }),
                )
                .await;
            assert_eq!(
                error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{body}"
            );
            assert_eq!(field_of(&body), Some("role_id"));
            assert!(body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("USERS_MANAGE"));
        }
        assert_eq!(app.fingerprint().await, before);
        // Changing anything else about oneself is fine.
        let data = app
            .ok(
                UPDATE_USER,
                json!({ "id": 1, "input": { "public_name": "The Admin", "enabled": true } }),
            )
            .await;
        assert_eq!(data["updateUser"]["public_name"], "The Admin");
        assert_eq!(app.post_raw(Some(&app.token), ME).await.0, StatusCode::OK);
    }
);

on_both!(
    at_least_one_enabled_user_with_users_manage_always_remains,
    |app| {
        use fathom::error::AppError;
        use fathom::service::access::users::{update, UpdateUser};

        let billing = role_id(app, "Billing").await;
        // A second administrator may disable the first.
        let (second, second_token) = user_with_token(app, "second", Some("Administrator")).await;
        let body = app
            .gql_as(
                &second_token,
                UPDATE_USER,
                json!({ "id": 1, "input": { "enabled": false } }),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(
            app.post_raw(Some(&app.token), ME).await.0,
            StatusCode::UNAUTHORIZED
        );

        // Now `second` is the last enabled user with USERS_MANAGE. The API cannot reach them
        // (nobody else may manage users), but the rule holds in the service itself, whoever
        // the caller: disabling them, or moving them to a role without USERS_MANAGE, is refused.
        let reader = create_user_as(app, &second_token, "reader").await;
        let before = app.fingerprint().await;
        let refused = update(
            &app.db,
            reader,
            second,
            UpdateUser {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await;
        match refused {
            Err(AppError::Validation { field, message }) => {
                assert_eq!(field, "enabled");
                assert!(message.contains("at least one enabled user with USERS_MANAGE"));
            }
            other => panic!("expected VALIDATION_FAILED, got {other:?}"),
        }
        let refused = update(
            &app.db,
            reader,
            second,
            UpdateUser {
                role_id: Some(values::Id(billing)),
                ..Default::default()
            },
        )
        .await;
        assert!(
            matches!(&refused, Err(AppError::Validation { field, .. }) if field == "role_id"),
            "{refused:?}"
        );
        assert_eq!(app.fingerprint().await, before);

        // Re-enabling the first administrator makes the second one free to leave.
        let body = app
            .gql_as(
                &second_token,
                UPDATE_USER,
                json!({ "id": 1, "input": { "enabled": true } }),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        let data = app
            .ok(
                UPDATE_USER,
                json!({ "id": second, "input": { "enabled": false } }),
            )
            .await;
        assert_eq!(data["updateUser"]["enabled"], false);
    }
);

async fn create_user_as(app: &TestApp, token: &str, username: &str) -> i64 {
    let body = app
        .gql_as(
            token,
            CREATE_USER,
            json!({ "input": {
                "name": username, "username": username, "public_name": username,
                "email_address": format!("{username}@example.com")
            }}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    id_of(&body["data"]["createUser"]["id"])
}

on_both!(
    two_last_administrators_disabling_each_other_at_once_leave_one_enabled,
    |app| {
        let (x, x_token) = user_with_token(app, "x", Some("Administrator")).await;
        let (y, y_token) = user_with_token(app, "y", Some("Administrator")).await;
        let administrator = role_id(app, "Administrator").await;
        // x and y become the only enabled users with USERS_MANAGE.
        let body = app
            .gql_as(
                &x_token,
                UPDATE_USER,
                json!({ "id": 1, "input": { "enabled": false } }),
            )
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        let disable = |id: i64| {
            json!({ "query": UPDATE_USER, "variables": { "id": id, "input": { "enabled": false } } })
                .to_string()
        };
        for round in 0..4 {
            let (by_x, by_y) = tokio::join!(
                app.post_raw(Some(&x_token), disable(y)),
                app.post_raw(Some(&y_token), disable(x)),
            );
            let won = |(status, body): &(StatusCode, Value)| {
                *status == StatusCode::OK && body.get("errors").is_none()
            };
            assert_eq!(
                won(&by_x) as u8 + won(&by_y) as u8,
                1,
                "round {round}: exactly one wins: {by_x:?} {by_y:?}"
            );
            for (status, body) in [&by_x, &by_y] {
                if !won(&(*status, (*body).clone())) {
                    // Refused by the rule, or, when the winner committed first, by
                    // authentication: the loser's own token no longer works.
                    let code = error_code(body);
                    assert!(
                        matches!(
                            code.as_deref(),
                            Some("VALIDATION_FAILED" | "UNAUTHENTICATED")
                        ),
                        "round {round}: {body}"
                    );
                }
            }
            let managers = fathom::entity::user::Entity::find()
                .filter(fathom::entity::user::Column::Enabled.eq(true))
                .filter(fathom::entity::user::Column::RoleId.eq(administrator))
                .count(&app.db)
                .await
                .unwrap();
            assert_eq!(managers, 1, "round {round}");
            // The survivor enables the other again.
            let (survivor, other) = if won(&by_x) {
                (&x_token, y)
            } else {
                (&y_token, x)
            };
            let body = app
                .gql_as(
                    survivor,
                    UPDATE_USER,
                    json!({ "id": other, "input": { "enabled": true } }),
                )
                .await;
            assert!(body.get("errors").is_none(), "{body}");
        }
    }
);
