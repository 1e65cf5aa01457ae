//! Dates when nobody is cut off for non-payment (Sonar's `DelinquencyExclusion`): managed by
//! Administrators, read with BILLING_READ, checked for dates that exist, and asked by the
//! delinquency pass through `excludes`.

use serde_json::json;

use crate::common;
use fathom::service::{access::tokens, configuration::delinquency_exclusions::excludes};

const CREATE: &str = "mutation($input: CreateDelinquencyExclusionMutationInput) { createDelinquencyExclusion(input: $input) { id name day month year } }";
const UPDATE: &str = "mutation($id: Int64Bit!, $input: UpdateDelinquencyExclusionMutationInput) { updateDelinquencyExclusion(id: $id, input: $input) { id name day month year } }";
const DELETE: &str =
    "mutation($id: Int64Bit!) { deleteDelinquencyExclusion(id: $id) { success message } }";
const LIST: &str = "{ delinquency_exclusions(sorter: [{attribute: \"id\", direction: ASC}]) { entities { name day month year } } }";

on_both!(
    exclusions_are_created_changed_deleted_and_asked_for_a_date,
    |app| {
        let yearly = app
            .ok(
                CREATE,
                json!({"input": {"name": "Christmas", "day": 25, "month": 12}}),
            )
            .await["createDelinquencyExclusion"]
            .clone();
        assert_eq!(yearly["year"], serde_json::Value::Null);
        let once = app
            .ok(
                CREATE,
                json!({"input": {"name": "Storm", "day": 29, "month": 2, "year": 2028}}),
            )
            .await["createDelinquencyExclusion"]
            .clone();
        assert_eq!(once["year"], 2028);
        assert_eq!(
            app.ok(LIST, json!({})).await["delinquency_exclusions"]["entities"],
            json!([
                {"name": "Christmas", "day": 25, "month": 12, "year": null},
                {"name": "Storm", "day": 29, "month": 2, "year": 2028}
            ])
        );
        let day = |s: &str| common::day(s);
        assert!(excludes(&app.db, day("2026-12-25")).await.unwrap());
        assert!(
            excludes(&app.db, day("2031-12-25")).await.unwrap(),
            "every year"
        );
        assert!(!excludes(&app.db, day("2026-12-24")).await.unwrap());
        assert!(excludes(&app.db, day("2028-02-29")).await.unwrap());

        // Moved to another day, then made yearly.
        let changed = app
            .ok(
                UPDATE,
                json!({"id": once["id"], "input": {"name": "Flood", "day": 1, "month": 3}}),
            )
            .await["updateDelinquencyExclusion"]
            .clone();
        assert_eq!(
            changed,
            json!({"id": once["id"], "name": "Flood", "day": 1, "month": 3, "year": 2028})
        );
        assert!(!excludes(&app.db, day("2029-03-01")).await.unwrap());
        let yearly_now = app
            .ok(
                UPDATE,
                json!({"id": once["id"], "input": {"unset_year": true}}),
            )
            .await["updateDelinquencyExclusion"]
            .clone();
        assert_eq!(yearly_now["year"], serde_json::Value::Null);
        assert!(excludes(&app.db, day("2029-03-01")).await.unwrap());

        let gone = app.ok(DELETE, json!({"id": yearly["id"]})).await;
        assert_eq!(gone["deleteDelinquencyExclusion"]["success"], true);
        assert!(!excludes(&app.db, day("2026-12-25")).await.unwrap());
        assert_eq!(
            app.count(
                "SELECT COUNT(*) AS n FROM logs WHERE loggable_type = 'DelinquencyExclusion'"
            )
            .await,
            5,
            "two created, two updated, one deleted"
        );
    }
);

on_both!(
    bad_exclusions_are_refused_naming_the_field_and_write_nothing,
    |app| {
        let made = app
            .ok(
                CREATE,
                json!({"input": {"name": "New year", "day": 1, "month": 1}}),
            )
            .await["createDelinquencyExclusion"]
            .clone();
        let before = app.fingerprint().await;
        for (query, variables, field) in [
            (
                CREATE,
                json!({"input": {"name": "x", "day": 1, "month": 13}}),
                "month",
            ),
            (
                CREATE,
                json!({"input": {"name": "x", "day": 31, "month": 4}}),
                "day",
            ),
            (
                CREATE,
                json!({"input": {"name": "x", "day": 29, "month": 2, "year": 2027}}),
                "day",
            ),
            (
                CREATE,
                json!({"input": {"name": "x", "day": 0, "month": 1}}),
                "day",
            ),
            (
                CREATE,
                json!({"input": {"name": "x", "day": 1, "month": 1, "year": 10000}}),
                "year",
            ),
            (
                CREATE,
                json!({"input": {"name": "  ", "day": 1, "month": 1}}),
                "name",
            ),
            (
                UPDATE,
                json!({"id": made["id"], "input": {"year": 2027, "unset_year": true}}),
                "unset_year",
            ),
            (
                UPDATE,
                json!({"id": made["id"], "input": {"day": 30, "month": 2}}),
                "day",
            ),
        ] {
            let body = app.gql(query, variables.clone()).await;
            assert_eq!(
                common::error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{variables}: {body}"
            );
            assert_eq!(
                body["errors"][0]["extensions"]["field"], field,
                "{variables}: {body}"
            );
            assert_eq!(
                app.fingerprint().await,
                before,
                "{variables} wrote something"
            );
        }
        assert_eq!(
            app.code(UPDATE, json!({"id": 999_999, "input": {"name": "x"}}))
                .await,
            "NOT_FOUND"
        );
        assert_eq!(app.code(DELETE, json!({"id": 999_999})).await, "NOT_FOUND");
        assert_eq!(app.fingerprint().await, before);
    }
);

on_both!(
    the_billing_role_reads_exclusions_and_only_administrators_change_them,
    |app| {
        app.ok(
            CREATE,
            json!({"input": {"name": "Holiday", "day": 4, "month": 7}}),
        )
        .await;
        let user =
            tokens::create_user(&app.db, "biller", "biller", "biller@example.com", "Billing")
                .await
                .unwrap();
        let (_, token) = tokens::create_token(&app.db, user.id, "test")
            .await
            .unwrap();
        let read = app.gql_as(token.as_str(), LIST, json!({})).await;
        assert_eq!(
            read["data"]["delinquency_exclusions"]["entities"][0]["name"], "Holiday",
            "{read}"
        );
        let before = app.fingerprint().await;
        let refused = app
            .gql_as(
                token.as_str(),
                CREATE,
                json!({"input": {"name": "x", "day": 1, "month": 1}}),
            )
            .await;
        assert_eq!(common::error_code(&refused).as_deref(), Some("FORBIDDEN"));
        assert_eq!(app.fingerprint().await, before);
    }
);
