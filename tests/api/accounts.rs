use serde_json::json;

use crate::common::{self, create_account, create_address, error_code};

const ACTIVE: i64 = 1;
const INACTIVE: i64 = 2;

on_both!(creating_an_active_account_records_its_activation, |app| {
    let data = app
        .ok(
            r#"mutation($input: CreateAccountMutationInput) { createAccount(input: $input) {
                id name activation_date activation_time next_bill_date account_status { name }
                contacts { entities { name primary email_address } }
                addresses { entities { type line1 serviceable } }
                account_events { entities { event current } }
            } }"#,
            json!({ "input": {
                "name": "Jane Doe", "account_status_id": "1", "account_type_id": "1", "company_id": "1",
                "mailing_address": { "line1": "PO Box 1", "city": "Springfield", "subdivision": "US_IL", "zip": "62701", "country": "US" },
                "primary_contact": { "name": "Jane Doe", "email_address": "jane@example.com" }
            }}),
        )
        .await;
    let account = &data["createAccount"];
    assert_eq!(account["account_status"]["name"], "Active");
    assert!(account["activation_date"].is_string());
    assert_eq!(account["next_bill_date"], account["activation_date"]);
    assert_eq!(account["contacts"]["entities"][0]["primary"], true);
    assert_eq!(account["addresses"]["entities"][0]["type"], "MAILING");
    assert_eq!(
        account["account_events"]["entities"][0]["event"],
        "ACTIVATED"
    );
    // The audit log has the creation.
    let id = account["id"].as_str().unwrap();
    let logs = app.ok("query($id: Int64Bit!) { accounts(id: $id) { entities { logs { entities { type loggable_type } } } } }", json!({"id": id})).await;
    assert_eq!(
        logs["accounts"]["entities"][0]["logs"]["entities"][0]["type"],
        "CREATED"
    );
});

on_both!(
    an_account_can_keep_its_number_from_a_previous_system,
    |app| {
        let data = app
        .ok(
            "mutation { createAccount(input: {id: 20230001, name: \"Account XYZ\", account_status_id: 2, account_type_id: 1, company_id: 1, primary_contact: {name: \"Ms. Person\"}}) { id } }",
            json!({}),
        )
        .await;
        assert_eq!(data["createAccount"]["id"], "20230001");
        // Automatic ids keep working after an explicit one.
        let next = create_account(app, "After", ACTIVE).await;
        assert!(next > 20230001);
        let before = app.fingerprint().await;
        let code = app
        .code(
            "mutation { createAccount(input: {id: 20230001, name: \"Again\", account_status_id: 2, account_type_id: 1, company_id: 1, primary_contact: {name: \"X\"}}) { id } }",
            json!({}),
        )
        .await;
        assert_eq!(code, "CONFLICT");
        assert_eq!(app.fingerprint().await, before);
    }
);

on_both!(create_account_refusals_write_nothing, |app| {
    let before = app.fingerprint().await;
    for (input, code) in [
        (
            json!({"name": "X", "account_status_id": 99, "account_type_id": 1, "company_id": 1, "primary_contact": {"name": "X"}}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "account_status_id": 1, "account_type_id": 99, "company_id": 1, "primary_contact": {"name": "X"}}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "account_status_id": 1, "account_type_id": 1, "company_id": 99, "primary_contact": {"name": "X"}}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "  ", "account_status_id": 1, "account_type_id": 1, "company_id": 1, "primary_contact": {"name": "X"}}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "account_status_id": 1, "account_type_id": 1, "company_id": 1, "primary_contact": {"name": "X"}, "serviceable_address_id": 424242}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"name": "X", "account_status_id": 1, "account_type_id": 1, "company_id": 1, "primary_contact": {"name": ""}}),
            "VALIDATION_FAILED",
        ),
    ] {
        let got = app.code("mutation($input: CreateAccountMutationInput) { createAccount(input: $input) { id } }", json!({"input": input})).await;
        assert_eq!(got, code, "{input}");
    }
    let got = app
        .code("mutation { createAccount { id } }", json!({}))
        .await;
    assert_eq!(got, "VALIDATION_FAILED");
    assert_eq!(app.fingerprint().await, before);
});

on_both!(
    status_changes_record_events_and_the_first_activation_sets_the_date,
    |app| {
        let id = create_account(app, "Lead", INACTIVE).await;
        let q = "mutation($id: Int64Bit!, $s: Int64Bit) { updateAccount(id: $id, input: {account_status_id: $s}) { activation_date _version account_events { entities { event previous current } } } }";
        let data = app.ok(q, json!({"id": id, "s": ACTIVE})).await;
        let account = &data["updateAccount"];
        assert!(account["activation_date"].is_string());
        let events: Vec<_> = account["account_events"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(events, ["STATUS_UPDATED", "ACTIVATED"]);
        assert_eq!(
            account["account_events"]["entities"][0]["previous"],
            INACTIVE.to_string()
        );
        assert_eq!(
            account["account_events"]["entities"][0]["current"],
            ACTIVE.to_string()
        );
        let first_date = account["activation_date"].clone();
        // Leaving and re-entering an activating status does not move the first activation date.
        app.ok(q, json!({"id": id, "s": INACTIVE})).await;
        let again = app.ok(q, json!({"id": id, "s": ACTIVE})).await;
        assert_eq!(again["updateAccount"]["activation_date"], first_date);
        assert_eq!(
            again["updateAccount"]["account_events"]["entities"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        // The activation date can be corrected.
        let fixed = app
        .ok("mutation($id: Int64Bit!) { updateAccountActivationDate(id: $id, input: {activation_date: \"2024-02-29\", activation_time: \"08:30:00\"}) { activation_date activation_time } }", json!({"id": id}))
        .await;
        assert_eq!(
            fixed["updateAccountActivationDate"]["activation_date"],
            "2024-02-29"
        );
        assert_eq!(
            fixed["updateAccountActivationDate"]["activation_time"],
            "08:30:00"
        );
    }
);

on_both!(
    a_serviceable_address_belongs_to_one_account_at_a_time_and_keeps_its_history,
    |app| {
        let address = create_address(app, "1 Main St").await;
        let a = create_account(app, "A", ACTIVE).await;
        let b = create_account(app, "B", ACTIVE).await;
        let assign = "mutation($id: Int64Bit!, $addr: Int64Bit) { updateAccount(id: $id, input: {serviceable_address_id: $addr}) { id } }";
        app.ok(assign, json!({"id": a, "addr": address})).await;
        let before = app.fingerprint().await;
        assert_eq!(
            app.code(assign, json!({"id": b, "addr": address})).await,
            "CONFLICT"
        );
        assert_eq!(app.fingerprint().await, before);
        // A serviceable address that was ever assigned cannot be deleted.
        let code = app
            .code(
                "mutation($id: Int64Bit!) { deleteServiceableAddress(id: $id) { success } }",
                json!({"id": address}),
            )
            .await;
        assert_eq!(code, "CONFLICT");
        // Unsetting releases it, keeps the history, and B can take it.
        app.ok("mutation($id: Int64Bit!) { updateAccount(id: $id, input: {unset_serviceable_address_id: true}) { id } }", json!({"id": a})).await;
        app.ok(assign, json!({"id": b, "addr": address})).await;
        let history = app
        .ok("query($addr: Int64Bit!) { serviceable_address_account_assignment_histories(address_id: $addr, sorter: [{attribute: \"id\", direction: ASC}]) { entities { account_id start_date end_date } } }", json!({"addr": address}))
        .await;
        let rows = history["serviceable_address_account_assignment_histories"]["entities"]
            .as_array()
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["account_id"], a.to_string());
        assert!(rows[0]["end_date"].is_string());
        assert_eq!(rows[1]["account_id"], b.to_string());
        assert!(rows[1]["end_date"].is_null());
    }
);

on_both!(
    archiving_freezes_an_inactive_account_and_hides_it_from_default_listings,
    |app| {
        let active = create_account(app, "Still here", ACTIVE).await;
        let before = app.fingerprint().await;
        assert_eq!(
            app.code(
                "mutation($id: Int64Bit!) { archiveAccount(id: $id) { id } }",
                json!({"id": active})
            )
            .await,
            "VALIDATION_FAILED"
        );
        assert_eq!(app.fingerprint().await, before);

        let gone = create_account(app, "Gone", INACTIVE).await;
        let data = app.ok("mutation($id: Int64Bit!) { archiveAccount(id: $id) { archived_at archived_by_user_id } }", json!({"id": gone})).await;
        assert!(data["archiveAccount"]["archived_at"].is_string());
        let listed = app.ok("{ accounts { entities { id } } all: accounts(include_archived: true) { entities { id } } }", json!({})).await;
        assert!(!listed["accounts"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"].as_str() == Some(gone.to_string().as_str())));
        assert!(listed["all"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"].as_str() == Some(gone.to_string().as_str())));

        let before = app.fingerprint().await;
        for q in [
        "mutation($id: Int64Bit!) { updateAccount(id: $id, input: {name: \"X\"}) { id } }",
        "mutation($id: Int64Bit!) { archiveAccount(id: $id) { id } }",
        "mutation($id: Int64Bit!) { updateAccountActivationDate(id: $id, input: {activation_date: \"2024-01-01\"}) { id } }",
    ] {
        assert_eq!(app.code(q, json!({"id": gone})).await, "ACCOUNT_ARCHIVED", "{q}");
    }
        assert_eq!(app.fingerprint().await, before);
        app.ok(
            "mutation($id: Int64Bit!) { unarchiveAccount(id: $id) { archived_at } }",
            json!({"id": gone}),
        )
        .await;
        assert_eq!(
            app.code(
                "mutation($id: Int64Bit!) { unarchiveAccount(id: $id) { id } }",
                json!({"id": gone})
            )
            .await,
            "VALIDATION_FAILED"
        );
        app.ok(
            "mutation($id: Int64Bit!) { updateAccount(id: $id, input: {name: \"Back\"}) { id } }",
            json!({"id": gone}),
        )
        .await;
    }
);

on_both!(linking_allows_one_parent_and_no_cycles, |app| {
    let parent = create_account(app, "Parent", ACTIVE).await;
    let child = create_account(app, "Child", ACTIVE).await;
    let grandchild = create_account(app, "Grandchild", ACTIVE).await;
    let link = "mutation($p: Int64Bit!, $c: Int64Bit!) { linkAccounts(id: $p, input: {child_account_id: $c}) { id child_accounts { entities { id } } } }";
    let data = app.ok(link, json!({"p": parent, "c": child})).await;
    assert_eq!(
        data["linkAccounts"]["child_accounts"]["entities"][0]["id"],
        child.to_string()
    );
    app.ok(link, json!({"p": child, "c": grandchild})).await;

    let before = app.fingerprint().await;
    assert_eq!(
        app.code(link, json!({"p": parent, "c": parent})).await,
        "VALIDATION_FAILED",
        "self-link"
    );
    assert_eq!(
        app.code(link, json!({"p": grandchild, "c": parent})).await,
        "VALIDATION_FAILED",
        "cycle"
    );
    assert_eq!(
        app.code(link, json!({"p": grandchild, "c": child})).await,
        "CONFLICT",
        "second parent"
    );
    assert_eq!(
        app.code(link, json!({"p": parent, "c": 999999})).await,
        "VALIDATION_FAILED",
        "missing child"
    );
    assert_eq!(
        app.code(link, json!({"p": 999999, "c": child})).await,
        "NOT_FOUND",
        "missing parent"
    );
    assert_eq!(app.fingerprint().await, before);

    let data = app
        .ok(
            "query($id: Int64Bit!) { accounts(id: $id) { entities { parent_account { name } } } }",
            json!({"id": grandchild}),
        )
        .await;
    assert_eq!(
        data["accounts"]["entities"][0]["parent_account"]["name"],
        "Child"
    );
});

on_both!(unlinking_needs_a_billing_contact, |app| {
    let parent = create_account(app, "Parent", ACTIVE).await;
    // A child whose only contact has no email address and with no mailing address.
    let child = app
        .ok("mutation { createAccount(input: {name: \"Branch\", account_status_id: 1, account_type_id: 1, company_id: 1, primary_contact: {name: \"Site\"}}) { id } }", json!({}))
        .await["createAccount"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok("mutation($p: Int64Bit!, $c: Int64Bit!) { linkAccounts(id: $p, input: {child_account_id: $c}) { id } }", json!({"p": parent, "c": child})).await;
    let unlink = "mutation($id: Int64Bit!) { unlinkAccounts(id: $id) { id parent_account_id } }";
    let before = app.fingerprint().await;
    assert_eq!(
        app.code(unlink, json!({"id": child})).await,
        "NO_BILLING_CONTACT"
    );
    assert_eq!(app.fingerprint().await, before);
    app.ok(
        "mutation($c: Int64Bit!) { createContact(input: {contactable_type: Account, contactable_id: $c, name: \"Billing\", email_address: \"billing@example.com\"}) { id } }",
        json!({"c": child}),
    )
    .await;
    let data = app.ok(unlink, json!({"id": child})).await;
    assert!(data["unlinkAccounts"]["parent_account_id"].is_null());
    // Unlinking an account without a parent is refused.
    assert_eq!(
        app.code(unlink, json!({"id": child})).await,
        "VALIDATION_FAILED"
    );
});

on_both!(
    no_mutation_deletes_an_account_and_the_database_refuses_it_too,
    |app| {
        let body = app
            .gql("mutation { deleteAccount(id: 1) { success } }", json!({}))
            .await;
        assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
        let id = create_account(app, "Kept", ACTIVE).await;
        use sea_orm::{ConnectionTrait, Statement};
        let refused = app
            .db
            .execute_raw(Statement::from_string(
                app.db.get_database_backend(),
                format!("DELETE FROM accounts WHERE id = {id}"),
            ))
            .await;
        assert!(
            refused.is_err(),
            "its contact, events and log rows refer to it"
        );
    }
);
