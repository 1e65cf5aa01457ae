//! Errors as the GraphQL specification shapes them ("Handling Field Errors"): a failed field
//! is `null` in `data`, a `null` in a non-null position makes the nearest nullable ancestor
//! `null` (up to all of `data`), and every field error carries `path` and `locations`.

use serde_json::{json, Value};

use crate::common::{self, create_account};

/// The one error of `body`, which must be a field error at `path` with `code`.
fn field_error<'a>(body: &'a Value, path: Value, code: &str) -> &'a Value {
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    let error = &errors[0];
    assert_eq!(error["path"], path, "{body}");
    assert_eq!(error["extensions"]["code"], code, "{body}");
    let location = &error["locations"][0];
    assert!(location["line"].as_u64().unwrap() >= 1, "{body}");
    assert!(location["column"].as_u64().unwrap() >= 1, "{body}");
    error
}

on_both!(
    a_failed_nullable_field_is_null_beside_the_fields_that_answered,
    |app| {
        let id = create_account(app, "Ada Lovelace", 1).await;
        let body = app
            .gql(
                "mutation($id: Int64Bit!) {
               gone: disconnectAccount(id: 999999) { id }
               done: disconnectAccount(id: $id) { id account_status { name } }
             }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(body["data"]["gone"], Value::Null, "{body}");
        assert_eq!(body["data"]["done"]["id"], id.to_string(), "{body}");
        let error = field_error(&body, json!(["gone"]), "NOT_FOUND");
        assert_eq!(error["locations"][0]["line"], 2, "{body}");
    }
);

on_both!(a_failed_non_null_root_field_makes_data_null, |app| {
    create_account(app, "Ada Lovelace", 1).await;
    let body = app
        .gql(
            "{ ok: accounts { entities { id } }
               p: disconnect_account_preview(id: 999999) { prorate } }",
            json!({}),
        )
        .await;
    // disconnect_account_preview is non-null and a root field: nothing above it is nullable.
    assert_eq!(body["data"], Value::Null, "{body}");
    field_error(&body, json!(["p"]), "NOT_FOUND");
});

on_both!(a_failed_non_null_field_in_a_list_nulls_its_element, |app| {
    let first = create_account(app, "Ada Lovelace", 1).await;
    let second = create_account(app, "Grace Hopper", 1).await;
    // `invoices` is non-null (InvoiceConnection!) and its paginator is refused: each account
    // (a nullable element of `entities`) becomes null, and the connection around it stays.
    let body = app
        .gql(
            "{ accounts(paginator: {page: 1, records_per_page: 10}) {
                 entities { id invoices(paginator: {page: 0, records_per_page: 5}) { entities { id } } }
                 page_info { total_count }
               } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({ "accounts": { "entities": [null, null], "page_info": { "total_count": 2 } } }),
        "{body}"
    );
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 2, "{body}");
    let mut paths: Vec<Value> = errors.iter().map(|e| e["path"].clone()).collect();
    paths.sort_by_key(|p| p.to_string());
    assert_eq!(
        paths,
        vec![
            json!(["accounts", "entities", 0, "invoices"]),
            json!(["accounts", "entities", 1, "invoices"]),
        ]
    );
    for error in errors {
        assert_eq!(error["extensions"]["code"], "VALIDATION_FAILED", "{body}");
        assert!(error["locations"][0]["line"].as_u64().is_some(), "{body}");
    }
    // The same selection with a valid paginator answers both accounts.
    let ok = app
        .ok(
            "{ accounts { entities { id invoices(paginator: {page: 1, records_per_page: 5}) { entities { id } } } } }",
            json!({}),
        )
        .await;
    let ids: Vec<&str> = ok["accounts"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![first.to_string(), second.to_string()]);
});

on_both!(
    errors_under_aliases_and_fragments_follow_the_response_keys,
    |app| {
        create_account(app, "Ada Lovelace", 1).await;
        let body = app
        .gql(
            "query Q { list: accounts { ...Row } }
             fragment Row on AccountConnection {
               entities { ... on Account { bills: invoices(paginator: {page: 1, records_per_page: 0}) { entities { id } } } }
             }",
            json!({}),
        )
        .await;
        assert_eq!(
            body["data"],
            json!({ "list": { "entities": [null] } }),
            "{body}"
        );
        field_error(
            &body,
            json!(["list", "entities", 0, "bills"]),
            "VALIDATION_FAILED",
        );
    }
);

/// Sends `query` with `variables`: refused before it runs, with `VALIDATION_FAILED`,
/// `extensions.field` = `field`, a message containing `says`, and nothing written.
async fn input_refused(
    app: &common::TestApp,
    query: &str,
    variables: Value,
    field: &str,
    says: &str,
) {
    let before = app.fingerprint().await;
    let body = app.gql(query, variables).await;
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    let error = &errors[0];
    assert_eq!(error["extensions"]["code"], "VALIDATION_FAILED", "{body}");
    assert_eq!(error["extensions"]["field"], field, "{body}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(says), "{message}");
    assert!(
        error.get("path").is_none(),
        "a request error has no path: {body}"
    );
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(app.fingerprint().await, before, "nothing is written");
}

const CREATE: &str =
    "mutation($input: CreateAccountMutationInput) { createAccount(input: $input) { id } }";

on_both!(
    input_coercion_errors_name_the_input_and_what_it_expects,
    |app| {
        let contact = |email: &str| json!({"name": "Ada", "email_address": email});
        // A bad email, in a variable.
        input_refused(
            app,
            CREATE,
            json!({"input": {"name": "Ada", "account_status_id": 1, "account_type_id": 1,
                         "company_id": 1, "primary_contact": contact("not an email")}}),
            "input.primary_contact.email_address",
            "expected EmailAddress, an email address such as name@example.com",
        )
        .await;
        // A required input field left out.
        input_refused(
            app,
            CREATE,
            json!({"input": {"account_status_id": 1, "account_type_id": 1, "company_id": 1,
                         "primary_contact": contact("ada@example.com")}}),
            "input.name",
            "input.name is required (String!)",
        )
        .await;
        // An Int64Bit that is not a number, written in the document.
        input_refused(
            app,
            "mutation { disconnectAccount(id: \"abc\") { id } }",
            json!({}),
            "id",
            "expected Int64Bit, a 64-bit integer id",
        )
        .await;
        // A required argument left out.
        input_refused(
            app,
            "mutation { disconnectAccount { id } }",
            json!({}),
            "id",
            "id is required (an argument of disconnectAccount)",
        )
        .await;
    }
);

// An input field the input type does not have is refused, named, and nothing is written:
// inline, through variables, and nested (a primary contact inside createAccount).
on_both!(
    an_unknown_input_field_is_refused_naming_it_and_writes_nothing,
    |app| {
        let before = app.fingerprint().await;
        let cases = [
        (
            "mutation { createAccountStatus(input: {name: \"X\", activates_account: false, color: \"FFFFFF\", icon: ADD759610, bogus: 1}) { id } }",
            json!({}),
        ),
        (
            "mutation($input: CreateAccountStatusMutationInput) { createAccountStatus(input: $input) { id } }",
            json!({"input": {"name": "X", "activates_account": false, "color": "FFFFFF", "icon": "ADD759610", "bogus": 1}}),
        ),
        (
            "mutation($input: CreateAccountMutationInput) { createAccount(input: $input) { id } }",
            json!({"input": {"name": "X", "account_status_id": 1, "account_type_id": 1, "company_id": 1,
                "primary_contact": {"name": "X", "bogus": 1}}}),
        ),
    ];
        for (query, variables) in cases {
            let body = app.gql(query, variables).await;
            assert_eq!(
                common::error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{body}"
            );
            let field = body["errors"][0]["extensions"]["field"]
                .as_str()
                .unwrap_or("");
            assert!(field.ends_with("bogus"), "{body}");
        }
        assert_eq!(app.fingerprint().await, before);
    }
);
