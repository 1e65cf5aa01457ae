use serde_json::json;

use crate::common::{self, create_account, create_address};

on_both!(
    account_statuses_are_created_changed_and_deleted_only_when_unused,
    |app| {
        let data = app
        .ok("mutation { createAccountStatus(input: {name: \"Suspended\", activates_account: false, color: \"#e53935\", icon: ADD759610}) { id name color icon activates_account } }", json!({}))
        .await;
        let status = &data["createAccountStatus"];
        assert_eq!(status["color"], "E53935");
        let id = status["id"].as_str().unwrap().to_owned();
        let updated = app
        .ok("mutation($id: Int64Bit!) { updateAccountStatus(id: $id, input: {name: \"On hold\"}) { name _version } }", json!({"id": id}))
        .await;
        assert_eq!(
            updated["updateAccountStatus"],
            json!({"name": "On hold", "_version": "2"})
        );

        let account = create_account(app, "Held", id.parse().unwrap()).await;
        let delete =
            "mutation($id: Int64Bit!) { deleteAccountStatus(id: $id) { success message } }";
        let before = app.fingerprint().await;
        assert_eq!(
            app.code(delete, json!({"id": id})).await,
            "CONFLICT",
            "in use"
        );
        assert_eq!(
            app.code(delete, json!({"id": 2})).await,
            "CONFLICT",
            "named by billing settings"
        );
        assert_eq!(app.code(delete, json!({"id": 999})).await, "NOT_FOUND");
        assert_eq!(app.code("mutation { createAccountStatus(input: {name: \"X\", activates_account: false, color: \"red\", icon: ADD759610}) { id } }", json!({})).await, "VALIDATION_FAILED");
        assert_eq!(app.code("mutation { createAccountStatus(input: {name: \"X\", activates_account: false, color: \"FFFFFF\", icon: NOT_AN_ICON}) { id } }", json!({})).await, "VALIDATION_FAILED");
        // The disconnect status may not become an activating one.
        assert_eq!(
            app.code(
                "mutation { updateAccountStatus(id: 2, input: {activates_account: true}) { id } }",
                json!({})
            )
            .await,
            "VALIDATION_FAILED"
        );
        assert_eq!(app.fingerprint().await, before);

        app.ok("mutation($id: Int64Bit!) { updateAccount(id: $id, input: {account_status_id: 1}) { id } }", json!({"id": account})).await;
        let deleted = app.ok(delete, json!({"id": id})).await;
        assert_eq!(deleted["deleteAccountStatus"]["success"], true);
        let listed = app
            .ok("{ account_statuses { entities { name } } }", json!({}))
            .await;
        assert_eq!(
            listed["account_statuses"]["entities"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
);

on_both!(
    account_types_are_created_changed_and_deleted_only_when_unused,
    |app| {
        let data = app.ok("mutation { createAccountType(input: {name: \"Business\", type: COMMERCIAL}) { id name type color icon } }", json!({})).await;
        let id = data["createAccountType"]["id"].as_str().unwrap().to_owned();
        assert_eq!(data["createAccountType"]["type"], "COMMERCIAL");
        assert_eq!(data["createAccountType"]["color"], "9E9E9E");
        let updated = app.ok("mutation($id: Int64Bit!) { updateAccountType(id: $id, input: {type: GOVERNMENT, color: \"000000\"}) { type color } }", json!({"id": id})).await;
        assert_eq!(
            updated["updateAccountType"],
            json!({"type": "GOVERNMENT", "color": "000000"})
        );
        create_account(app, "uses type 1", 1).await;
        let before = app.fingerprint().await;
        assert_eq!(
            app.code(
                "mutation { deleteAccountType(id: 1) { success } }",
                json!({})
            )
            .await,
            "CONFLICT"
        );
        assert_eq!(app.fingerprint().await, before);
        let deleted = app
            .ok(
                "mutation($id: Int64Bit!) { deleteAccountType(id: $id) { success } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(deleted["deleteAccountType"]["success"], true);
        assert_eq!(
            app.code(
                "mutation($id: Int64Bit!) { deleteAccountType(id: $id) { success } }",
                json!({"id": id})
            )
            .await,
            "NOT_FOUND"
        );
    }
);

on_both!(
    serviceable_addresses_are_created_updated_and_deleted_while_never_assigned,
    |app| {
        // Sonar's lead-form script, unchanged: latitude and longitude as JSON numbers.
        let data = app
        .ok(
            "mutation createLeadAddress($lead_address: CreateServiceableAddressMutationInput) {createServiceableAddress(input: $lead_address) {id line1 latitude longitude serviceable type subdivision}}",
            json!({"lead_address": {"line1": "123 Main St", "city": "Springfield", "subdivision": "US_IL", "zip": "62701", "country": "US", "latitude": 39.7817, "longitude": -89.6501}}),
        )
        .await;
        let address = &data["createServiceableAddress"];
        assert_eq!(address["latitude"], "39.7817");
        assert_eq!(address["serviceable"], true);
        assert_eq!(address["type"], "PHYSICAL");
        let id = address["id"].as_str().unwrap().to_owned();
        let updated = app
        .ok("mutation($id: Int64Bit!) { updateServiceableAddress(id: $id, input: {line2: \"Unit 4\", latitude: \"40.1\"}) { line2 latitude } }", json!({"id": id}))
        .await;
        assert_eq!(
            updated["updateServiceableAddress"],
            json!({"line2": "Unit 4", "latitude": "40.1"})
        );
        let cleared = app.ok("mutation($id: Int64Bit!) { updateServiceableAddress(id: $id, input: {unset_line2: true}) { line2 } }", json!({"id": id})).await;
        assert!(cleared["updateServiceableAddress"]["line2"].is_null());

        let before = app.fingerprint().await;
        let bad = "mutation($input: CreateServiceableAddressMutationInput) { createServiceableAddress(input: $input) { id } }";
        for input in [
            json!({"line1": "1 X", "city": "Y", "zip": "1", "country": "US", "latitude": 91, "longitude": 0}),
            json!({"line1": "1 X", "city": "Y", "zip": "1", "country": "NOWHERE", "latitude": 1, "longitude": 0}),
            json!({"line1": "", "city": "Y", "zip": "1", "country": "US", "latitude": 1, "longitude": 0}),
            json!({"line1": "1 X", "city": "Y", "zip": "1", "country": "US", "latitude": "north", "longitude": 0}),
        ] {
            assert_eq!(
                app.code(bad, json!({"input": input})).await,
                "VALIDATION_FAILED",
                "{input}"
            );
        }
        assert_eq!(app.fingerprint().await, before);
        let deleted = app
            .ok(
                "mutation($id: Int64Bit!) { deleteServiceableAddress(id: $id) { success } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(deleted["deleteServiceableAddress"]["success"], true);
        assert_eq!(
            app.code(
                "mutation($id: Int64Bit!) { deleteServiceableAddress(id: $id) { success } }",
                json!({"id": id})
            )
            .await,
            "NOT_FOUND"
        );
        let _ = create_address(app, "2 Main St").await;
    }
);

on_both!(contacts_are_managed_with_one_primary_per_account, |app| {
    let account = create_account(app, "Family", 1).await;
    let create = "mutation($input: CreateContactMutationInput) { createContact(input: $input) { id primary email_address } }";
    let data = app
        .ok(create, json!({"input": {"contactable_type": "Account", "contactable_id": account, "name": "Second", "email_address": "second@example.com", "become_primary": true}}))
        .await;
    let second = data["createContact"]["id"].as_str().unwrap().to_owned();
    assert_eq!(data["createContact"]["primary"], true);
    let contacts = app
        .ok("query($id: Int64Bit!) { contacts(contactable_id: $id, sorter: [{attribute: \"id\", direction: ASC}]) { entities { id primary } } }", json!({"id": account}))
        .await;
    let rows = contacts["contacts"]["entities"].as_array().unwrap();
    assert_eq!(rows.iter().filter(|c| c["primary"] == true).count(), 1);
    let first = rows[0]["id"].as_str().unwrap().to_owned();

    let before = app.fingerprint().await;
    assert_eq!(
        app.code(
            "mutation($id: Int64Bit!) { deleteContact(id: $id) { success } }",
            json!({"id": second})
        )
        .await,
        "VALIDATION_FAILED",
        "primary"
    );
    assert_eq!(app.code(create, json!({"input": {"contactable_type": "Account", "contactable_id": account, "name": "X", "email_address": "not-an-email"}})).await, "VALIDATION_FAILED");
    assert_eq!(
        app.code(
            create,
            json!({"input": {"contactable_type": "Vendor", "contactable_id": account, "name": "X"}})
        )
        .await,
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.code(
            create,
            json!({"input": {"contactable_type": "Account", "contactable_id": 999999, "name": "X"}})
        )
        .await,
        "VALIDATION_FAILED"
    );
    assert_eq!(app.fingerprint().await, before);

    let updated = app
        .ok("mutation($id: Int64Bit!) { updateContact(id: $id, input: {role: \"Owner\", unset_email_address: true}) { role email_address } }", json!({"id": first}))
        .await;
    assert_eq!(
        updated["updateContact"],
        json!({"role": "Owner", "email_address": null})
    );
    let deleted = app
        .ok(
            "mutation($id: Int64Bit!) { deleteContact(id: $id) { success } }",
            json!({"id": first}),
        )
        .await;
    assert_eq!(deleted["deleteContact"]["success"], true);
});

on_both!(settings_are_read_and_changed_with_their_rules, |app| {
    let data = app.ok("{ system_setting { timezone } billing_setting { disconnect_account_status_id prorate_account_status_change disconnect_account_status { name } } companies { entities { name default } } }", json!({})).await;
    assert_eq!(data["system_setting"]["timezone"], "UTC");
    assert_eq!(
        data["billing_setting"]["disconnect_account_status"]["name"],
        "Inactive"
    );
    assert_eq!(data["companies"]["entities"][0]["default"], true);

    let tz = app
        .ok(
            "mutation { updateSystemSettings(input: {timezone: AMERICACHICAGO}) { timezone } }",
            json!({}),
        )
        .await;
    assert_eq!(tz["updateSystemSettings"]["timezone"], "AMERICACHICAGO");

    let before = app.fingerprint().await;
    assert_eq!(
        app.code(
            "mutation { updateBillingSettings(input: {disconnect_account_status_id: 1}) { id } }",
            json!({})
        )
        .await,
        "VALIDATION_FAILED",
        "activating"
    );
    assert_eq!(
        app.code(
            "mutation { updateBillingSettings(input: {disconnect_account_status_id: 999}) { id } }",
            json!({})
        )
        .await,
        "VALIDATION_FAILED",
        "missing"
    );
    assert_eq!(
        app.code(
            "mutation { updateSystemSettings(input: {timezone: NOT_A_ZONE}) { timezone } }",
            json!({})
        )
        .await,
        "VALIDATION_FAILED"
    );
    assert_eq!(app.fingerprint().await, before);

    let data = app
        .ok("mutation { createAccountStatus(input: {name: \"Disconnected\", activates_account: false, color: \"000000\", icon: ADD759610}) { id } }", json!({}))
        .await;
    let status = data["createAccountStatus"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let updated = app
        .ok("mutation($s: Int64Bit) { updateBillingSettings(input: {disconnect_account_status_id: $s, prorate_account_status_change: false, round_prorated_amounts: true}) { disconnect_account_status_id prorate_account_status_change round_prorated_amounts _version } }", json!({"s": status}))
        .await;
    assert_eq!(
        updated["updateBillingSettings"]["disconnect_account_status_id"],
        status
    );
    assert_eq!(
        updated["updateBillingSettings"]["prorate_account_status_change"],
        false
    );
    assert_eq!(updated["updateBillingSettings"]["_version"], "2");
    let logs = app.ok("{ logs(loggable_type: \"BillingSetting\") { entities { type previous current user_id } } }", json!({})).await;
    assert_eq!(logs["logs"]["entities"][0]["type"], "UPDATED");
});
