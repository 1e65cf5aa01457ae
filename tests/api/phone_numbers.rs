//! Phone numbers (Sonar's `PhoneNumber`): given with a new account's primary contact, kept as
//! digits with the number formatted as people write it, listed on the contact and in the root
//! `phone_numbers` collection (whose `general_search` finds a number by its digits), each
//! with its audit row. A number that is not one is refused, naming it, and nothing is written.

use serde_json::json;

use crate::common;

const CREATE: &str = "mutation($input: CreateAccountMutationInput) { createAccount(input: $input) { id contacts { entities { id name phone_numbers { entities { id country number number_formatted extension phone_number_type_id contact { name } } } } } } }";

fn account_input(name: &str, phone_numbers: serde_json::Value) -> serde_json::Value {
    json!({"input": {
        "name": name, "account_status_id": 1, "account_type_id": 1, "company_id": 1,
        "primary_contact": {"name": format!("{name} contact"), "phone_numbers": phone_numbers}
    }})
}

on_both!(a_new_accounts_contact_keeps_its_phone_numbers, |app| {
    let data = app
        .ok(
            CREATE,
            account_input(
                "Packers",
                json!([
                    {"number": "(920) 569-7500", "extension": "12", "phone_number_type_id": 3},
                    {"number": "+44 20 7946 0000", "country": "GB"}
                ]),
            ),
        )
        .await;
    let contact = &data["createAccount"]["contacts"]["entities"][0];
    let numbers = contact["phone_numbers"]["entities"].as_array().unwrap();
    assert_eq!(numbers.len(), 2, "{data}");
    // The company's country (the seeded company is in the US) when none is given.
    assert_eq!(numbers[0]["country"], "US");
    assert_eq!(numbers[0]["number"], "9205697500");
    assert_eq!(numbers[0]["number_formatted"], "(920) 569-7500");
    assert_eq!(numbers[0]["extension"], "12");
    assert_eq!(numbers[0]["phone_number_type_id"], "3");
    assert_eq!(numbers[0]["contact"]["name"], "Packers contact");
    assert_eq!(numbers[1]["country"], "GB");
    assert_eq!(numbers[1]["number"], "442079460000");
    assert_eq!(numbers[1]["number_formatted"], "442079460000");

    // The root collection finds a number by its digits, and leads back to the contact.
    let found = app
        .ok(
            "query($q: String) { phone_numbers(general_search: $q) { entities { number_formatted contact { name contactable_id } } page_info { total_count } } }",
            json!({"q": "5697500"}),
        )
        .await;
    assert_eq!(
        found["phone_numbers"]["page_info"]["total_count"], 1,
        "{found}"
    );
    assert_eq!(
        found["phone_numbers"]["entities"][0]["contact"]["contactable_id"],
        data["createAccount"]["id"]
    );
    // Each number has its audit row.
    let logs = app
        .ok(
            "{ logs(loggable_type: \"PhoneNumber\") { page_info { total_count } } }",
            json!({}),
        )
        .await;
    assert_eq!(logs["logs"]["page_info"]["total_count"], 2, "{logs}");
});

on_both!(
    a_number_that_is_not_one_is_refused_naming_it_and_writes_nothing,
    |app| {
        let before = app.fingerprint().await;
        for bad in ["call me", "12", "555-CALL"] {
            let body = app
                .gql(
                    CREATE,
                    account_input("Nope", json!([{"number": "920 569 7500"}, {"number": bad}])),
                )
                .await;
            assert_eq!(
                common::error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{bad}: {body}"
            );
            assert_eq!(
                body["errors"][0]["extensions"]["field"], "primary_contact.phone_numbers.1.number",
                "{body}"
            );
        }
        // A number is required in each entry.
        let body = app
            .gql(CREATE, account_input("Nope", json!([{"extension": "1"}])))
            .await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED"),
            "{body}"
        );
        assert_eq!(app.fingerprint().await, before);
    }
);
