//! Money in, and taken back: payments applied to the invoices they name and to open ones oldest due first, what
//! they leave applied to the next invoices (`createInvoice`, the billing pass, a disconnection's
//! final invoice), reversals and voids that reopen what they paid, `voidInvoice` and
//! `reverseDebit` refusing what would lose money, batches whose items succeed
//! or fail on their own, refusals that write nothing, and `fathom verify` checking it all.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::common::{self, billed_account, day, noon, violations};
use fathom::service::{access::tokens, base::clock, billing::pass};

const PAY: &str = "mutation($input: CreatePaymentMutationInput) { createPayment(input: $input) { id amount amount_remaining payment_type status successful reversed account_id } }";
const PAY_MANY: &str = "mutation($input: CreatePaymentsMutationInput) { createPayments(input: $input) { entities { value success error_code error_field payment { id amount_remaining } } page_info { total_count } } }";
const REVERSE: &str = "mutation($id: Int64Bit!, $input: ReversePaymentMutationInput) { reversePayment(id: $id, input: $input) { id amount payment_id description payment { reversed amount_remaining } } }";
const VOID: &str = "mutation($id: Int64Bit!, $input: VoidPaymentMutationInput) { voidPayment(id: $id, input: $input) { id amount payment_id payment { reversed amount_remaining } } }";
const INVOICES: &str = "query($id: Int64Bit!) { invoices(account_id: $id, sorter: [{attribute: \"id\", direction: ASC}]) { entities { id total_debits remaining_due status due_date invoice_payment_applications { entities { payment_id amount undone } } } } }";
const PAYMENT: &str = "query($id: Int64Bit!) { payments(id: $id) { entities { id amount amount_remaining reversed reversed_payments { entities { amount } } voided_payments { entities { amount } } invoice_payment_applications { entities { invoice_id amount undone } } account { id payments { page_info { total_count } } } } } }";
const CREATE_INVOICE: &str = "mutation($input: CreateInvoiceMutationInput) { createInvoice(input: $input) { id total_debits remaining_due status } }";
const DEBITS: &str = "query($id: Int64Bit!) { debits(account_id: $id, sorter: [{attribute: \"id\", direction: ASC}]) { entities { id invoice_id } } }";
const DISCONNECT: &str =
    "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: false}) { id } }";
const FINAL: &str = "query($id: Int64Bit!) { disconnection_logs(account_id: $id) { entities { final_invoice_id } } }";
const PREVIEW: &str = "query($id: Int64Bit!) { disconnect_account_preview(id: $id, input: {prorate: false}) { final_invoice_total_debits final_invoice_total_discounts final_invoice_remaining_due } }";

fn id(value: &Value) -> i64 {
    match value {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_i64().unwrap(),
    }
}

async fn invoices(app: &common::TestApp, account: i64) -> Vec<Value> {
    app.ok(INVOICES, json!({"id": account})).await["invoices"]["entities"]
        .as_array()
        .unwrap()
        .clone()
}

async fn payment(app: &common::TestApp, payment: i64) -> Value {
    app.ok(PAYMENT, json!({"id": payment})).await["payments"]["entities"][0].clone()
}

/// The account's one uninvoiced debit.
async fn uninvoiced_debit(app: &common::TestApp, account: i64) -> i64 {
    let debits = app.ok(DEBITS, json!({"id": account})).await["debits"]["entities"]
        .as_array()
        .unwrap()
        .clone();
    let open: Vec<&Value> = debits
        .iter()
        .filter(|d| d["invoice_id"].is_null())
        .collect();
    assert_eq!(open.len(), 1, "{debits:?}");
    id(&open[0]["id"])
}

/// The books are right: the tests' own invariants and `fathom verify`.
async fn books_are_right(app: &common::TestApp) {
    app.assert_money_conserved().await;
    assert_eq!(violations(app).await, Vec::<String>::new());
}

/// An account billed on Jan 15 (invoice of 5000, due Jan 29) with its 2500 one-time debit on a
/// second invoice made on Jan 20 (due Feb 3); the account and its two invoices.
async fn two_invoices(app: &common::TestApp, name: &str) -> (i64, i64, i64) {
    let (account, _) = billed_account(app, name).await;
    let debit = uninvoiced_debit(app, account).await;
    let second = app
        .ok_at(
            noon("2026-01-20"),
            CREATE_INVOICE,
            json!({"input": {"debit_ids": [debit], "date": "2026-01-20"}}),
        )
        .await;
    let all = invoices(app, account).await;
    assert_eq!(all.len(), 2);
    assert_eq!(id(&second["createInvoice"]["id"]), id(&all[1]["id"]));
    (account, id(&all[0]["id"]), id(&all[1]["id"]))
}

on_both!(
    a_payment_pays_the_invoices_it_names_then_the_oldest_open_ones_and_its_rest_pays_the_next_invoice,
    |app| {
        let (account, first, second) = two_invoices(app, "Ada").await;
        let paid = app
            .ok_at(
                noon("2026-01-25"),
                PAY,
                json!({"input": {"account_id": account, "amount": 9000, "payment_type": "CHECK",
                    "invoice_ids": [second], "apply_to_open_invoices": true, "reference": "check 1001"}}),
            )
            .await["createPayment"]
            .clone();
        assert_eq!(paid["amount"], 9000);
        assert_eq!(paid["amount_remaining"], 1500, "2500 to the named invoice, 5000 to the other");
        assert_eq!(paid["payment_type"], "CHECK");
        assert_eq!(paid["status"], "SUCCEEDED");
        assert_eq!(paid["successful"], true);
        assert_eq!(paid["reversed"], false);
        let payment_id = id(&paid["id"]);
        let all = invoices(app, account).await;
        assert_eq!(id(&all[0]["id"]), first);
        for (invoice, amount) in [(&all[0], 5000), (&all[1], 2500)] {
            assert_eq!(invoice["remaining_due"], 0, "{invoice}");
            assert_eq!(invoice["status"], "PAID");
            assert_eq!(
                invoice["invoice_payment_applications"]["entities"],
                json!([{"payment_id": payment_id.to_string(), "amount": amount, "undone": false}])
            );
        }
        let read = payment(app, payment_id).await;
        assert_eq!(read["account"]["payments"]["page_info"]["total_count"], 1);
        assert_eq!(
            read["invoice_payment_applications"]["entities"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM logs WHERE loggable_type = 'Payment' AND loggable_id = {payment_id} AND type = 'CREATED'"
            ))
            .await,
            1
        );

        // The next billing pass's invoice takes the 1500 left.
        pass::run_pass(&app.db, day("2026-02-15")).await.unwrap();
        let all = invoices(app, account).await;
        assert_eq!(all.len(), 3);
        assert_eq!(all[2]["total_debits"], 5000);
        assert_eq!(all[2]["remaining_due"], 3500);
        assert_eq!(all[2]["status"], "UNPAID");
        assert_eq!(payment(app, payment_id).await["amount_remaining"], 0);
        books_are_right(app).await;
    }
);

on_both!(
    what_a_payment_has_left_pays_a_new_invoice_and_a_disconnections_final_invoice,
    |app| {
        // createInvoice: the one-time debit's invoice is paid by a payment made before it.
        let (account, _) = billed_account(app, "Bea").await;
        let payment_id = id(&app
            .ok_at(
                noon("2026-01-18"),
                PAY,
                json!({"input": {"account_id": account, "amount": 1000, "payment_type": "CASH"}}),
            )
            .await["createPayment"]["id"]);
        assert_eq!(
            payment(app, payment_id).await["amount_remaining"],
            1000,
            "nothing named, nothing applied"
        );
        assert_eq!(invoices(app, account).await[0]["remaining_due"], 5000);
        let debit = uninvoiced_debit(app, account).await;
        let made = app
            .ok_at(
                noon("2026-01-20"),
                CREATE_INVOICE,
                json!({"input": {"debit_ids": [debit], "date": "2026-01-20"}}),
            )
            .await;
        assert_eq!(made["createInvoice"]["total_debits"], 2500);
        assert_eq!(made["createInvoice"]["remaining_due"], 1500);
        assert_eq!(payment(app, payment_id).await["amount_remaining"], 0);

        // A disconnection's final invoice: previewed and carried out with the payment applied.
        let (other, _) = billed_account(app, "Cal").await;
        let second = id(&app
            .ok_at(
                noon("2026-01-18"),
                PAY,
                json!({"input": {"account_id": other, "amount": 4000, "payment_type": "WIRE"}}),
            )
            .await["createPayment"]["id"]);
        let preview = clock::at_instant(noon("2026-01-20"), app.ok(PREVIEW, json!({"id": other})))
            .await["disconnect_account_preview"]
            .clone();
        assert_eq!(preview["final_invoice_total_debits"], 2500);
        assert_eq!(preview["final_invoice_total_discounts"], 0);
        assert_eq!(
            preview["final_invoice_remaining_due"], 0,
            "the payment pays it"
        );
        app.ok_at(noon("2026-01-20"), DISCONNECT, json!({"id": other}))
            .await;
        let final_id = id(
            &app.ok(FINAL, json!({"id": other})).await["disconnection_logs"]["entities"][0]
                ["final_invoice_id"],
        );
        let final_invoice = invoices(app, other)
            .await
            .into_iter()
            .find(|i| id(&i["id"]) == final_id)
            .unwrap();
        assert_eq!(final_invoice["total_debits"], 2500);
        assert_eq!(final_invoice["remaining_due"], 0);
        assert_eq!(final_invoice["status"], "PAID");
        assert_eq!(payment(app, second).await["amount_remaining"], 1500);
        books_are_right(app).await;
    }
);

on_both!(
    reversing_a_payment_makes_what_it_paid_owed_again_once_and_deletes_nothing,
    |app| {
        let (account, first, _) = two_invoices(app, "Dan").await;
        let payment_id = id(&app
            .ok_at(
                noon("2026-01-25"),
                PAY,
                json!({"input": {"account_id": account, "amount": 6000, "payment_type": "CHECK", "invoice_ids": [first]}}),
            )
            .await["createPayment"]["id"]);
        assert_eq!(invoices(app, account).await[0]["remaining_due"], 0);

        // The wrong amount, and an unknown payment: refused, nothing written.
        let before = app.fingerprint().await;
        let body = app
            .gql(
                REVERSE,
                json!({"id": payment_id, "input": {"amount": 5000}}),
            )
            .await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED")
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "amount");
        assert_eq!(
            app.code(REVERSE, json!({"id": 999_999, "input": {"amount": 6000}}))
                .await,
            "NOT_FOUND"
        );
        assert_eq!(app.fingerprint().await, before);

        let reversal = app
            .ok_at(
                noon("2026-02-02"),
                REVERSE,
                json!({"id": payment_id, "input": {"amount": 6000, "description": "bounced"}}),
            )
            .await["reversePayment"]
            .clone();
        assert_eq!(reversal["amount"], 6000);
        assert_eq!(reversal["description"], "bounced");
        assert_eq!(id(&reversal["payment_id"]), payment_id);
        assert_eq!(
            reversal["payment"],
            json!({"reversed": true, "amount_remaining": 0})
        );
        let all = invoices(app, account).await;
        assert_eq!(all[0]["remaining_due"], 5000);
        assert_eq!(all[0]["status"], "UNPAID");
        assert_eq!(
            all[0]["invoice_payment_applications"]["entities"],
            json!([{"payment_id": payment_id.to_string(), "amount": 5000, "undone": true}]),
            "the application is kept, undone"
        );
        let read = payment(app, payment_id).await;
        assert_eq!(
            read["reversed_payments"]["entities"],
            json!([{"amount": 6000}])
        );

        // Twice: refused, nothing written.
        let before = app.fingerprint().await;
        let body = app
            .gql(
                REVERSE,
                json!({"id": payment_id, "input": {"amount": 6000}}),
            )
            .await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED")
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "id");
        assert_eq!(app.fingerprint().await, before);

        // The account's next invoice is not paid by a reversed payment's rest.
        pass::run_pass(&app.db, day("2026-02-15")).await.unwrap();
        assert_eq!(invoices(app, account).await[2]["remaining_due"], 5000);
        books_are_right(app).await;
    }
);

on_both!(a_payment_is_voided_only_on_the_day_it_was_made, |app| {
    let (account, first, second) = two_invoices(app, "Eve").await;
    let today = id(&app
        .ok_at(
            noon("2026-01-25"),
            PAY,
            json!({"input": {"account_id": account, "amount": 2500, "payment_type": "PAYPAL", "invoice_ids": [second]}}),
        )
        .await["createPayment"]["id"]);
    let voided = app
        .ok_at(
            noon("2026-01-25") + chrono::Duration::hours(3),
            VOID,
            json!({"id": today, "input": {"amount": 2500, "payment_tracker_id": "T-1"}}),
        )
        .await["voidPayment"]
        .clone();
    assert_eq!(voided["amount"], 2500);
    assert_eq!(
        voided["payment"],
        json!({"reversed": true, "amount_remaining": 0})
    );
    assert_eq!(invoices(app, account).await[1]["remaining_due"], 2500);

    let earlier = id(&app
        .ok_at(
            noon("2026-01-25"),
            PAY,
            json!({"input": {"account_id": account, "amount": 100, "payment_type": "CASH", "invoice_ids": [first]}}),
        )
        .await["createPayment"]["id"]);
    let before = app.fingerprint().await;
    let body = clock::at_instant(
        noon("2026-01-27"),
        app.gql(VOID, json!({"id": earlier, "input": {"amount": 100}})),
    )
    .await;
    assert_eq!(
        common::error_code(&body).as_deref(),
        Some("VALIDATION_FAILED")
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], "id");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("reverse it"),
        "{body}"
    );
    assert_eq!(app.fingerprint().await, before);
    assert_eq!(invoices(app, account).await[0]["remaining_due"], 4900);
    books_are_right(app).await;
});

on_both!(create_payments_carries_out_each_payment_on_its_own, |app| {
    let (account, first, _) = two_invoices(app, "Fay").await;
    let answer = app
        .ok_at(
            noon("2026-01-25"),
            PAY_MANY,
            json!({"input": {"payments": [
                {"account_id": account, "amount": 1000, "payment_type": "CASH", "invoice_ids": [first]},
                {"account_id": account, "amount": 0, "payment_type": "CASH"},
                {"account_id": 999_999, "amount": 10, "payment_type": "CASH"},
                {"account_id": account, "amount": 700, "payment_type": "OTHER"}
            ]}}),
        )
        .await["createPayments"]
        .clone();
    assert_eq!(answer["page_info"]["total_count"], 4);
    let results = answer["entities"].as_array().unwrap();
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[0]["payment"]["amount_remaining"], 0);
    assert_eq!(results[0]["value"], results[0]["payment"]["id"]);
    assert_eq!(results[1]["success"], false);
    assert_eq!(results[1]["error_code"], "VALIDATION_FAILED");
    assert_eq!(results[1]["error_field"], "payments.1.amount");
    assert!(results[1]["payment"].is_null());
    assert_eq!(results[2]["success"], false);
    assert_eq!(results[2]["error_field"], "payments.2.account_id");
    assert_eq!(results[3]["success"], true);
    assert_eq!(results[3]["payment"]["amount_remaining"], 700);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM payments").await, 2);
    assert_eq!(invoices(app, account).await[0]["remaining_due"], 4000);

    // The list itself: empty, or longer than 100, is refused whole.
    let before = app.fingerprint().await;
    let body = app.gql(PAY_MANY, json!({"input": {"payments": []}})).await;
    assert_eq!(
        common::error_code(&body).as_deref(),
        Some("VALIDATION_FAILED")
    );
    let many: Vec<Value> = (0..101)
        .map(|_| json!({"account_id": account, "amount": 1, "payment_type": "CASH"}))
        .collect();
    let body = app
        .gql(PAY_MANY, json!({"input": {"payments": many}}))
        .await;
    assert_eq!(
        common::error_code(&body).as_deref(),
        Some("VALIDATION_FAILED")
    );
    assert_eq!(app.fingerprint().await, before);
    books_are_right(app).await;
});

on_both!(
    bad_payments_are_refused_naming_the_field_and_write_nothing,
    |app| {
        let (account, first, _) = two_invoices(app, "Gil").await;
        let (other, _) = billed_account(app, "Hal").await;
        let others_invoice = id(&invoices(app, other).await[0]["id"]);
        let base = json!({"account_id": account, "amount": 500, "payment_type": "CASH"});
        let with = |change: Value| {
            let mut input = base.clone();
            for (k, v) in change.as_object().unwrap() {
                input[k] = v.clone();
            }
            json!({"input": input})
        };
        let cases: Vec<(Value, &str, &str)> = vec![
            (with(json!({"amount": 0})), "VALIDATION_FAILED", "amount"),
            (with(json!({"amount": -5})), "VALIDATION_FAILED", "amount"),
            (
                with(json!({"amount": 2_147_483_648i64})),
                "VALIDATION_FAILED",
                "amount",
            ),
            (
                with(json!({"payment_type": "CREDITCARD"})),
                "VALIDATION_FAILED",
                "payment_type",
            ),
            (
                with(json!({"payment_datetime": "yesterday"})),
                "VALIDATION_FAILED",
                "payment_datetime",
            ),
            (
                with(json!({"account_id": 999_999})),
                "VALIDATION_FAILED",
                "account_id",
            ),
            (
                with(json!({"invoice_ids": [others_invoice]})),
                "VALIDATION_FAILED",
                "invoice_ids.0",
            ),
            (
                with(json!({"invoice_ids": [first, first]})),
                "VALIDATION_FAILED",
                "invoice_ids.1",
            ),
            (
                with(json!({"invoice_ids": [999_999]})),
                "VALIDATION_FAILED",
                "invoice_ids.0",
            ),
            (
                with(json!({"reference": "x".repeat(300)})),
                "VALIDATION_FAILED",
                "reference",
            ),
        ];
        let before = app.fingerprint().await;
        for (variables, code, field) in cases {
            let body = app.gql(PAY, variables.clone()).await;
            assert_eq!(
                common::error_code(&body).as_deref(),
                Some(code),
                "{variables}: {body}"
            );
            let named = body["errors"][0]["extensions"]["field"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                named.ends_with(field),
                "{variables}: named {named}, not {field}"
            );
            assert_eq!(
                app.fingerprint().await,
                before,
                "{variables} wrote something"
            );
        }

        // An archived account takes no payment.
        app.ok(
            "mutation($id: Int64Bit!) { disconnectAccount(id: $id) { id } }",
            json!({"id": other}),
        )
        .await;
        app.ok(
            "mutation($id: Int64Bit!) { archiveAccount(id: $id) { id } }",
            json!({"id": other}),
        )
        .await;
        let before = app.fingerprint().await;
        assert_eq!(
            app.code(
                PAY,
                json!({"input": {"account_id": other, "amount": 5, "payment_type": "CASH"}})
            )
            .await,
            "ACCOUNT_ARCHIVED"
        );
        assert_eq!(app.fingerprint().await, before);
        books_are_right(app).await;
    }
);

on_both!(
    a_read_only_token_reads_payments_and_cannot_take_one,
    |app| {
        let (account, _, _) = two_invoices(app, "Ivy").await;
        app.ok(
            PAY,
            json!({"input": {"account_id": account, "amount": 300, "payment_type": "CASH"}}),
        )
        .await;
        let user = tokens::create_user(
            &app.db,
            "reader",
            "reader",
            "reader@example.com",
            "Read Only",
        )
        .await
        .unwrap();
        let (_, token) = tokens::create_token(&app.db, user.id, "test")
            .await
            .unwrap();
        let read = app
            .gql_as(
                token.as_str(),
                "query($id: Int64Bit!) { payments(account_id: $id) { entities { amount } } }",
                json!({"id": account}),
            )
            .await;
        assert_eq!(
            read["data"]["payments"]["entities"],
            json!([{"amount": 300}]),
            "{read}"
        );
        let before = app.fingerprint().await;
        let refused = app
            .gql_as(
                token.as_str(),
                PAY,
                json!({"input": {"account_id": account, "amount": 300, "payment_type": "CASH"}}),
            )
            .await;
        assert_eq!(common::error_code(&refused).as_deref(), Some("FORBIDDEN"));
        assert_eq!(app.fingerprint().await, before);
    }
);

on_both!(
    verify_names_a_payment_or_an_invoice_whose_money_does_not_add_up,
    |app| {
        let (account, first, _) = two_invoices(app, "Jo").await;
        let payment_id = id(&app
        .ok(PAY, json!({"input": {"account_id": account, "amount": 3000, "payment_type": "CASH", "invoice_ids": [first]}}))
        .await["createPayment"]["id"]);
        books_are_right(app).await;
        let backend = app.db.get_database_backend();
        app.db
            .execute_raw(Statement::from_string(
                backend,
                format!("UPDATE payments SET amount_remaining = 100 WHERE id = {payment_id}"),
            ))
            .await
            .unwrap();
        let found = violations(app).await;
        assert!(
        found.iter().any(|v| v.starts_with(&format!("Payment {payment_id}: amount = amount_remaining"))),
        "{found:?}"
    );
        for sql in [
        format!("UPDATE payments SET amount_remaining = 0 WHERE id = {payment_id}"),
        format!("UPDATE invoice_payment_applications SET undone = TRUE WHERE payment_id = {payment_id}"),
    ] {
        app.db
            .execute_raw(Statement::from_string(backend, sql))
            .await
            .unwrap();
    }
        let found = violations(app).await;
        assert!(
            found
                .iter()
                .any(|v| v.starts_with(&format!("Invoice {first}: remaining_due"))),
            "{found:?}"
        );
        assert!(
        found.iter().any(|v| v.starts_with(&format!("Payment {payment_id}: amount = amount_remaining"))),
        "{found:?}"
    );
    }
);

const VOID_INVOICE: &str = "mutation($id: Int64Bit!) { voidInvoice(id: $id) { id void voided_at remaining_due status total_debits } }";
const REVERSE_DEBIT: &str = "mutation($id: Int64Bit!, $m: String!) { reverseDebit(id: $id, input: {message: $m}) { id reversed reversed_at reversed_by_user_id invoice_id } }";
const CREDIT: &str = "mutation($s: Int64Bit!, $a: Int64Bit!) { createAccountOneTimeTransaction(input: {service_id: $s, account_id: $a, quantity: 1}) { id } }";

on_both!(
    voiding_an_invoice_gives_its_credits_back_and_uninvoices_its_debits_but_not_while_it_is_paid,
    |app| {
        let (account, _) = billed_account(app, "Kim").await;
        let t = noon("2026-01-20");
        let credit = app.one_time_service("Goodwill", 1000, true).await;
        app.ok_at(t, CREDIT, json!({"s": credit, "a": account}))
            .await;
        let debit = uninvoiced_debit(app, account).await;
        let made = app
            .ok_at(
                t,
                CREATE_INVOICE,
                json!({"input": {"debit_ids": [debit], "date": "2026-01-20"}}),
            )
            .await;
        let invoice = id(&made["createInvoice"]["id"]);
        assert_eq!(
            made["createInvoice"]["remaining_due"], 1500,
            "2500 less the 1000 credit"
        );
        let paid = id(&app
            .ok_at(t, PAY, json!({"input": {"account_id": account, "amount": 500, "payment_type": "CASH", "invoice_ids": [invoice]}}))
            .await["createPayment"]["id"]);

        // Paid in part: refused, nothing written.
        let before = app.fingerprint().await;
        let body = app.gql(VOID_INVOICE, json!({"id": invoice})).await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED")
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], "id");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("payment {paid}")),
            "{body}"
        );
        assert_eq!(app.fingerprint().await, before);

        app.ok_at(t, REVERSE, json!({"id": paid, "input": {"amount": 500}}))
            .await;
        let voided =
            app.ok_at(t, VOID_INVOICE, json!({"id": invoice})).await["voidInvoice"].clone();
        assert_eq!(voided["void"], true);
        assert!(voided["voided_at"].is_string());
        assert_eq!(voided["remaining_due"], 0);
        assert_eq!(voided["status"], "VOID");
        assert_eq!(voided["total_debits"], 2500, "kept as it was");
        assert_eq!(
            uninvoiced_debit(app, account).await,
            debit,
            "the debit is uninvoiced again"
        );
        let credits = app
            .ok("query($id: Int64Bit!) { discounts(account_id: $id) { entities { amount amount_remaining } } }", json!({"id": account}))
            .await;
        assert_eq!(
            credits["discounts"]["entities"],
            json!([{"amount": 1000, "amount_remaining": 1000}])
        );
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) AS n FROM invoice_discount_applications WHERE invoice_id = {invoice} AND undone = TRUE")).await,
            1,
            "the credit's application is kept, undone"
        );

        // Twice: refused.
        let before = app.fingerprint().await;
        assert_eq!(
            app.code(VOID_INVOICE, json!({"id": invoice})).await,
            "VALIDATION_FAILED"
        );
        assert_eq!(
            app.code(VOID_INVOICE, json!({"id": 999_999})).await,
            "NOT_FOUND"
        );
        assert_eq!(app.fingerprint().await, before);

        // The account's next invoice takes the debit and the credit again.
        let again = app
            .ok_at(
                t,
                CREATE_INVOICE,
                json!({"input": {"debit_ids": [debit], "date": "2026-01-21"}}),
            )
            .await;
        assert_eq!(again["createInvoice"]["total_debits"], 2500);
        assert_eq!(again["createInvoice"]["remaining_due"], 1500);
        books_are_right(app).await;
    }
);

on_both!(
    reversing_a_debit_is_refused_wherever_it_would_lose_money,
    |app| {
        let (account, _) = billed_account(app, "Lou").await;
        let t = noon("2026-01-20");
        let all = app.ok(DEBITS, json!({"id": account})).await["debits"]["entities"].clone();
        let recurring = id(&all[0]["id"]);
        let one_time = uninvoiced_debit(app, account).await;
        assert_ne!(recurring, one_time);

        let before = app.fingerprint().await;
        for (debit, message, field, says) in [
            (recurring, "wrong", "id", "void the invoice first"),
            (one_time, "  ", "message", "message"),
            (999_999, "wrong", "", ""),
        ] {
            let body = app
                .gql(REVERSE_DEBIT, json!({"id": debit, "m": message}))
                .await;
            if debit == 999_999 {
                assert_eq!(common::error_code(&body).as_deref(), Some("NOT_FOUND"));
                continue;
            }
            assert_eq!(
                common::error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], field);
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains(says),
                "{body}"
            );
        }
        assert_eq!(app.fingerprint().await, before);

        // An uninvoiced recurring debit (a service added mid-period) is refused too.
        let extra = app.recurring_service("Extra", 3000, 1).await;
        app.ok_at(
        t,
        "mutation($input: AddServiceToAccountMutationInput) { addServiceToAccount(input: $input) { id } }",
        json!({"input": {"account_id": account, "service_id": extra, "quantity": 1, "prorate": true}}),
    )
    .await;
        let prorated = app.ok(DEBITS, json!({"id": account})).await["debits"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (id(&d["id"]), d["invoice_id"].is_null()))
            .filter(|(d, open)| *open && *d != one_time)
            .map(|(d, _)| d)
            .next()
            .expect("the prorated debit of the service added");
        let body = app
            .gql(REVERSE_DEBIT, json!({"id": prorated, "m": "wrong"}))
            .await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED")
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("recurring"),
            "{body}"
        );

        let reversed = app
            .ok_at(
                t,
                REVERSE_DEBIT,
                json!({"id": one_time, "m": "installed by mistake"}),
            )
            .await["reverseDebit"]
            .clone();
        assert_eq!(reversed["reversed"], true);
        assert!(reversed["reversed_at"].is_string());
        assert!(reversed["reversed_by_user_id"].is_string());
        assert!(reversed["invoice_id"].is_null());
        assert_eq!(
        app.count(&format!("SELECT COUNT(*) AS n FROM logs WHERE loggable_type = 'Debit' AND loggable_id = {one_time} AND message LIKE '%installed by mistake%'")).await,
        1
    );
        assert_eq!(
            app.code(REVERSE_DEBIT, json!({"id": one_time, "m": "again"}))
                .await,
            "VALIDATION_FAILED"
        );

        // The next invoice leaves it out.
        pass::run_pass(&app.db, day("2026-02-15")).await.unwrap();
        let debits = app.ok(DEBITS, json!({"id": account})).await["debits"]["entities"].clone();
        for d in debits.as_array().unwrap() {
            if id(&d["id"]) == one_time {
                assert!(
                    d["invoice_id"].is_null(),
                    "a reversed debit is never invoiced: {d}"
                );
            } else {
                assert!(
                    !d["invoice_id"].is_null(),
                    "every other debit is invoiced: {d}"
                );
            }
        }
        books_are_right(app).await;
    }
);

on_both!(
    thirty_two_payments_racing_for_one_invoice_pay_it_once,
    |app| {
        let (account, _) = billed_account(app, "Race").await;
        let invoice = id(&invoices(app, account).await[0]["id"]);
        let calls = (0..32).map(|_| {
        app.gql(
            PAY,
            json!({"input": {"account_id": account, "amount": 1000, "payment_type": "CASH", "invoice_ids": [invoice]}}),
        )
    });
        let results: Vec<Value> =
            clock::at_instant(noon("2026-01-25"), futures_util::future::join_all(calls)).await;
        let mut recorded = 0;
        for body in &results {
            match common::error_code(body) {
                None => recorded += 1,
                Some(code) => assert_eq!(code, "CONFLICT", "only a retryable conflict: {body}"),
            }
        }
        assert!(recorded >= 5, "{recorded} of 32 recorded");
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM payments").await,
            recorded
        );
        let paid = app
        .count(&format!(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS n FROM invoice_payment_applications WHERE invoice_id = {invoice}"
        ))
        .await;
        assert_eq!(paid, 5000, "paid once, never more than it owed");
        assert_eq!(invoices(app, account).await[0]["remaining_due"], 0);
        assert_eq!(
            app.count(
                "SELECT CAST(COALESCE(SUM(amount_remaining), 0) AS BIGINT) AS n FROM payments"
            )
            .await,
            recorded * 1000 - 5000,
            "the rest kept on the payments"
        );
        books_are_right(app).await;
    }
);

on_both!(
    payments_racing_a_disconnection_and_a_reversal_racing_the_billing_pass_leave_the_books_right,
    |app| {
        let (account, _) = billed_account(app, "Rush").await;
        let at = noon("2026-01-25");
        // Thirty-one payments and a disconnection: 32 clients at once.
        let pays = (0..31).map(|_| {
        app.gql(
            PAY,
            json!({"input": {"account_id": account, "amount": 700, "payment_type": "CASH", "apply_to_open_invoices": true}}),
        )
    });
        let disconnect = app.gql(DISCONNECT, json!({"id": account}));
        let (paid, disconnected) = clock::at_instant(
            at,
            futures_util::future::join(futures_util::future::join_all(pays), disconnect),
        )
        .await;
        assert!(
            common::error_code(&disconnected).is_none(),
            "{disconnected}"
        );
        for body in &paid {
            if let Some(code) = common::error_code(body) {
                assert_eq!(code, "CONFLICT", "{body}");
            }
        }
        books_are_right(app).await;

        // A reversal racing the billing pass of the account it paid.
        let (other, _) = billed_account(app, "Rive").await;
        let payment_id = id(&app
        .ok_at(at, PAY, json!({"input": {"account_id": other, "amount": 9000, "payment_type": "CASH", "apply_to_open_invoices": true}}))
        .await["createPayment"]["id"]);
        let reverse = app.gql(
            REVERSE,
            json!({"id": payment_id, "input": {"amount": 9000}}),
        );
        let bill = pass::run_pass(&app.db, day("2026-02-15"));
        let (reversed, billed) = clock::at_instant(
            noon("2026-02-15"),
            futures_util::future::join(reverse, bill),
        )
        .await;
        billed.unwrap();
        if let Some(code) = common::error_code(&reversed) {
            assert_eq!(code, "CONFLICT", "{reversed}");
        }
        books_are_right(app).await;
    }
);

const APPLY_CREDIT: &str = "mutation($id: Int64Bit!, $input: ApplyCreditToInvoiceMutationInput) { applyCreditToInvoice(id: $id, input: $input) { id remaining_due status } }";

on_both!(a_credit_made_after_an_invoice_pays_it_when_applied, |app| {
    let (account, first, _) = two_invoices(app, "Max").await;
    let t = noon("2026-01-22");
    let goodwill = app.one_time_service("Goodwill", 1000, true).await;
    app.ok_at(t, CREDIT, json!({"s": goodwill, "a": account}))
        .await;
    let credits =
        "query($id: Int64Bit!) { discounts(account_id: $id) { entities { amount_remaining } } }";

    let paid = app
        .ok_at(
            t,
            APPLY_CREDIT,
            json!({"id": first, "input": {"amount": 600}}),
        )
        .await["applyCreditToInvoice"]
        .clone();
    assert_eq!(paid["remaining_due"], 4400);
    assert_eq!(paid["status"], "UNPAID");
    assert_eq!(
        app.ok(credits, json!({"id": account})).await["discounts"]["entities"],
        json!([{"amount_remaining": 400}])
    );
    let rest =
        app.ok_at(t, APPLY_CREDIT, json!({"id": first})).await["applyCreditToInvoice"].clone();
    assert_eq!(
        rest["remaining_due"], 4000,
        "all the credit left, as far as it goes"
    );

    let before = app.fingerprint().await;
    for (variables, field) in [
        (json!({"id": first}), "id"),
        (json!({"id": first, "input": {"amount": 0}}), "amount"),
        (json!({"id": first, "input": {"amount": 4001}}), "amount"),
    ] {
        let body = app.gql(APPLY_CREDIT, variables.clone()).await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED"),
            "{variables}: {body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["field"], field,
            "{variables}: {body}"
        );
    }
    assert_eq!(
        app.code(APPLY_CREDIT, json!({"id": 999_999})).await,
        "NOT_FOUND"
    );
    assert_eq!(app.fingerprint().await, before);
    books_are_right(app).await;
});
