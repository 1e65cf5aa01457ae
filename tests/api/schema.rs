use std::path::Path;

use serde_json::{json, Value};

use crate::common::{self, create_account};

fn sdl() -> String {
    let db = sea_orm::DatabaseConnection::default();
    fathom::graphql::schema::build_schema(db, &fathom::config::Limits::default())
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
    let someone = create_account(app, "Someone", 1).await;
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

    let mut checked = 0;
    for example in examples() {
        let title = example["title"].as_str().unwrap();
        let variables = variables_for(title).unwrap_or_else(|| example["variables"].clone());
        let body = app
            .gql(example["operation"].as_str().unwrap(), variables)
            .await;
        assert!(body.get("errors").is_none(), "{title}: {body}");
        assert!(body["data"].is_object(), "{title}: {body}");
        answered_as_the_data_says(app, title, &body["data"], someone).await;
        checked += 1;
    }
    assert_eq!(checked, examples().len());
});

/// The answer each in-scope script gets from the data the test made (in the fixture's order:
/// the accounts and services read are those made above and by the scripts before).
async fn answered_as_the_data_says(app: &common::TestApp, title: &str, data: &Value, someone: i64) {
    // The accounts made before the first script reads them, in id order.
    let accounts = json!({"accounts": {"entities": [
        {"id": "3", "name": "Three"},
        {"id": "1001", "name": "Lead"},
        {"id": "1234", "name": "Migrated"},
        {"id": someone.to_string(), "name": "Someone"},
        {"id": "20230001", "name": "Account XYZ"},
    ]}});
    let admin = json!({"id": "1", "name": "Administrator", "public_name": "Administrator", "username": "admin"});
    match title {
        "Specify Account ID upon Creation" => {
            assert_eq!(*data, json!({"createAccount": {"id": "20230001"}}));
            let made = app
                .ok("{ accounts(id: 20230001) { entities { name account_status_id contacts { entities { name primary } } } } }", json!({}))
                .await;
            assert_eq!(
                made["accounts"]["entities"],
                json!([{"name": "Account XYZ", "account_status_id": "2", "contacts": {"entities": [{"name": "Ms. Person", "primary": true}]}}])
            );
        }
        t if t.starts_with("API Calls Using Third Party Applications - ") => {
            assert_eq!(*data, json!({"users": {"entities": [admin]}}));
        }
        t if t.starts_with("API Calls Using Third Party Applications: ") => {
            assert_eq!(
                *data,
                json!({"me": {"name": "Administrator", "username": "admin"}})
            );
        }
        "Sonar API Meeting (01/26/2024) - query all customers and their IDs" => {
            assert_eq!(*data, accounts);
        }
        "Sonar API Meeting (01/26/2024) - query all services and their IDs" => {
            assert_eq!(
                *data,
                json!({"services": {"entities": [
                    {"id": "12", "name": "Fiber", "type": "RECURRING"},
                    {"id": "105", "name": "Install", "type": "ONETIME"},
                ]}})
            );
        }
        "Sonar API Meeting (01/26/2024) - create a new service" => {
            let made = &data["createRecurringService"];
            for (field, value) in [
                ("enabled", json!(true)),
                ("name", json!("Fiber 250")),
                ("type", json!("RECURRING")),
                ("application", json!("DEBIT")),
                ("amount", json!(6500)),
                ("display_if_zero", json!(false)),
                ("company_id", Value::Null),
                ("general_ledger_code_id", Value::Null),
                ("tax_definition_id", Value::Null),
                ("reverse_tax_definition_id", Value::Null),
            ] {
                assert_eq!(made[field], value, "{field}: {data}");
            }
            let id = made["id"].as_str().unwrap();
            assert_eq!(made["sonar_unique_id"], format!("Service:{id}"));
            assert!(
                made["created_at"].is_string() && made["created_at"] == made["updated_at"],
                "{data}"
            );
        }
        "Sonar API Meeting (01/26/2024) - create a new one-time charge" => {
            let made = data["createAccountOneTimeTransaction"].as_array().unwrap();
            assert_eq!(made.len(), 1, "{data}");
            let debits = app
                .ok(
                    "{ debits(account_id: 3) { entities { id amount service_id description } } }",
                    json!({}),
                )
                .await;
            assert_eq!(
                debits["debits"]["entities"],
                json!([{"id": made[0]["id"], "amount": 1000, "service_id": "105", "description": "Description"}])
            );
        }
        "Lead form: create serviceable address" => {
            let id = data["createServiceableAddress"]["id"].as_str().unwrap();
            let made = app
                .ok("query($id: Int64Bit) { addresses(id: $id) { entities { line1 city subdivision zip country serviceable } } }", json!({"id": id}))
                .await;
            assert_eq!(
                made["addresses"]["entities"],
                json!([{"line1": "123 Main St", "city": "Springfield", "subdivision": "US_IL", "zip": "62701", "country": "US", "serviceable": true}])
            );
        }
        "Lead form: create lead account" => {
            let id = data["createAccount"]["id"].as_str().unwrap();
            assert_eq!(
                data["createAccount"]["contacts"]["entities"]
                    .as_array()
                    .map(Vec::len),
                Some(1),
                "{data}"
            );
            let made = app
                .ok("query($id: Int64Bit) { accounts(id: $id) { entities { name account_status { id name } contacts { entities { id name email_address primary } } } } }", json!({"id": id}))
                .await;
            assert_eq!(
                made["accounts"]["entities"],
                json!([{"name": "Jane Doe", "account_status": {"id": "5", "name": "Suspended"}, "contacts": {"entities": [{
                    "id": data["createAccount"]["contacts"]["entities"][0]["id"],
                    "name": "Jane Doe", "email_address": "jane@example.com", "primary": true,
                }]}}])
            );
        }
        "Lead form: add service plan to new account" => {
            assert_eq!(*data, json!({"addServiceToAccount": {"service_id": "12"}}));
            let made = app
                .ok("{ accounts(id: 1001) { entities { account_services { entities { service_id quantity } } } } }", json!({}))
                .await;
            assert_eq!(
                made["accounts"]["entities"][0]["account_services"]["entities"],
                json!([{"service_id": "12", "quantity": 1}])
            );
        }
        t if t.starts_with("Migration tool: account by id") => {
            let account = &data["accounts"]["entities"][0];
            assert_eq!(
                data["accounts"]["entities"].as_array().map(Vec::len),
                Some(1),
                "{data}"
            );
            for (field, value) in [
                ("id", json!("1234")),
                ("sonar_unique_id", json!("Account:1234")),
                ("name", json!("Migrated")),
                ("is_delinquent", json!(false)),
                ("account_status", json!({"id": "1", "name": "Active"})),
                ("account_type", json!({"id": "1", "name": "Residential"})),
                ("addresses", json!({"entities": []})),
                (
                    "contacts",
                    json!({"entities": [{"id": account["contacts"]["entities"][0]["id"], "name": "M", "email_address": null, "primary": true}]}),
                ),
            ] {
                assert_eq!(account[field], value, "{field}: {data}");
            }
            assert_eq!(
                data["accounts"]["page_info"],
                json!({"page": 1, "total_pages": 1, "total_count": 1, "records_per_page": 1})
            );
        }
        t if t.starts_with("Migration tool smoke test: invoices") => {
            assert_eq!(
                *data,
                json!({"invoices": {"entities": [], "page_info": {"total_count": 0, "page": 1}}})
            );
        }
        "Python wrapper example: all accounts" => {
            let lead = app
                .ok("{ accounts(search: {string_fields: {attribute: \"name\", search_value: \"Jane Doe\", match: true}}) { entities { id } } }", json!({}))
                .await;
            let lead = lead["accounts"]["entities"][0]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let mut want = accounts;
            want["accounts"]["entities"]
                .as_array_mut()
                .unwrap()
                .push(json!({"id": lead, "name": "Jane Doe"}));
            assert_eq!(*data, want);
        }
        other => panic!("no expected answer for the in-scope script {other:?}: add one"),
    }
}
