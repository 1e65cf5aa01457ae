use std::path::Path;

use serde_json::{json, Value};

use crate::common::{self, create_account};

fn sdl() -> String {
    let db = sea_orm::DatabaseConnection::default();
    fathom::graphql::build_schema(db, &fathom::config::Limits::default())
        .unwrap()
        .sdl()
}

#[test]
fn the_committed_schema_graphql_equals_the_served_schema() {
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql"))
            .unwrap();
    assert!(
        committed == sdl(),
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn the_generated_enums_match_sonar_enums_json() {
    let Some(text) = crate::common::shared_file(
        "schema::the_generated_enums_match_sonar_enums_json",
        "sonar-enums.json",
    ) else {
        return;
    };
    let json: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(json.len(), fathom::sonar_enums::SONAR_ENUMS.len());
    for (name, values) in fathom::sonar_enums::SONAR_ENUMS {
        let expected = json[*name].as_object().unwrap();
        let mut got: Vec<(&str, &str)> = values.to_vec();
        got.sort();
        let want: Vec<(&str, &str)> = expected
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        assert_eq!(got, want, "{name}: run scripts/gen-sonar-enums.py");
    }
}

/// Published examples that declare variables but were published without their values: the
/// values a caller would send.
fn variables_for(title: &str) -> Option<Value> {
    (title == "Sonar API Meeting (01/26/2024) - create a new service").then(|| {
        json!({"input": {"enabled": true, "name": "Fiber 250", "application": "DEBIT", "amount": 6500, "billing_frequency": 1}})
    })
}

fn examples() -> Vec<Value> {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sonar-examples-in-scope.json");
    serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap()
}

#[test]
fn the_fixture_holds_every_in_scope_example_of_sonar_examples_json() {
    let Some(text) = crate::common::shared_file(
        "schema::the_fixture_holds_every_in_scope_example_of_sonar_examples_json",
        "sonar-examples.json",
    ) else {
        return;
    };
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    let in_scope: Vec<Value> = all
        .into_iter()
        .filter(|e| e["in_fathom_scope"] == true)
        .map(|e| json!({"title": e["title"], "operation": e["operation"], "variables": e["variables"]}))
        .collect();
    assert_eq!(in_scope, examples());
}

on_both!(sonar_scripts_in_scope_run_unchanged, |app| {
    // The data the scripts refer to: account status 5, serviceable address 1234, account 1234.
    for name in ["Lead", "Prospect", "Suspended"] {
        app.ok(
            "mutation($n: String!) { createAccountStatus(input: {name: $n, activates_account: false, color: \"CCCCCC\", icon: ADD759610}) { id } }",
            json!({"n": name}),
        )
        .await;
    }
    app.ok(
        "mutation { createServiceableAddress(input: {id: 1234, line1: \"9 Elm St\", city: \"Springfield\", zip: \"62701\", country: US, latitude: 39.7, longitude: -89.6}) { id } }",
        json!({}),
    )
    .await;
    app.ok(
        "mutation { createAccount(input: {id: 1234, name: \"Migrated\", account_status_id: 1, account_type_id: 1, company_id: 1, primary_contact: {name: \"M\"}}) { id } }",
        json!({}),
    )
    .await;
    create_account(app, "Someone", 1).await;
    // Services 12 (recurring) and 105 (one-time), and account 1001, for the billing scripts.
    app.ok(
        "mutation { createRecurringService(input: {id: 12, enabled: true, name: \"Fiber\", application: DEBIT, amount: 5000, billing_frequency: 1}) { id } }",
        json!({}),
    )
    .await;
    app.ok(
        "mutation { createOneTimeService(input: {id: 105, enabled: true, name: \"Install\", application: DEBIT, amount: 9900}) { id } }",
        json!({}),
    )
    .await;
    app.ok(
        "mutation { createAccount(input: {id: 3, name: \"Three\", account_status_id: 1, account_type_id: 1, company_id: 1, primary_contact: {name: \"T\"}}) { id } }",
        json!({}),
    )
    .await;
    app.ok(
        "mutation { createAccount(input: {id: 1001, name: \"Lead\", account_status_id: 1, account_type_id: 1, company_id: 1, primary_contact: {name: \"L\"}}) { id } }",
        json!({}),
    )
    .await;

    for example in examples() {
        let title = example["title"].as_str().unwrap();
        let variables = variables_for(title).unwrap_or_else(|| example["variables"].clone());
        let body = app
            .gql(example["operation"].as_str().unwrap(), variables)
            .await;
        assert!(body.get("errors").is_none(), "{title}: {body}");
        assert!(body["data"].is_object(), "{title}: {body}");
    }
});
