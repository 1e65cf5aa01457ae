use serde_json::{json, Value};

use crate::common::{self, create_account};

async fn names(app: &common::TestApp, args: &str) -> Vec<String> {
    let q = format!("{{ accounts({args}) {{ entities {{ name }} }} }}");
    names_in(&app.ok(&q, json!({})).await)
}

/// The names of `accounts { entities { name } }` in an answer's data.
fn names_in(data: &Value) -> Vec<String> {
    data["accounts"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn book(app: &common::TestApp) -> Vec<i64> {
    let mut ids = Vec::new();
    for (name, status) in [
        ("Alpha Networks", 1),
        ("beta farm", 1),
        ("Gamma_Co", 2),
        ("Delta 100%", 2),
        ("Epsilon", 1),
    ] {
        ids.push(create_account(app, name, status).await);
    }
    ids
}

on_both!(
    ids_are_strings_and_equality_filters_take_ints_or_strings,
    |app| {
        let ids = book(app).await;
        let data = app
            .ok(
                "query($id: Int64Bit!) { accounts(id: $id) { entities { id account_status_id } } }",
                json!({"id": ids[0].to_string()}),
            )
            .await;
        assert_eq!(
            data["accounts"]["entities"][0]["id"],
            Value::String(ids[0].to_string())
        );
        assert_eq!(data["accounts"]["entities"][0]["account_status_id"], "1");
        assert_eq!(names(app, &format!("id: {}", ids[1])).await, ["beta farm"]);
        assert_eq!(
            names(
                app,
                "account_status_id: \"2\", sorter: [{attribute: \"name\", direction: ASC}]"
            )
            .await,
            ["Delta 100%", "Gamma_Co"]
        );
        assert_eq!(names(app, "name: \"Epsilon\"").await, ["Epsilon"]);
    }
);

on_both!(
    string_search_matches_whole_values_substrings_and_negations,
    |app| {
        book(app).await;
        let s = |field: &str| {
            format!("search: [{{string_fields: [{field}]}}], sorter: [{{attribute: \"name\", direction: ASC}}]")
        };
        assert_eq!(
            names(
                app,
                &s("{attribute: \"name\", search_value: \"Epsilon\", match: true}")
            )
            .await,
            ["Epsilon"]
        );
        assert_eq!(names(app, &s("{attribute: \"name\", search_value: \"FARM\", match: true, partial_matching: true}")).await, ["beta farm"]);
        // LIKE wildcards in the value are literal.
        assert_eq!(names(app, &s("{attribute: \"name\", search_value: \"_\", match: true, partial_matching: true}")).await, ["Gamma_Co"]);
        assert_eq!(names(app, &s("{attribute: \"name\", search_value: \"%\", match: true, partial_matching: true}")).await, ["Delta 100%"]);
        assert_eq!(
        names(app, &s("{attribute: \"name\", search_value: \"a\", match: false, partial_matching: true}")).await,
        ["Epsilon"]
    );
        assert_eq!(
            names(
                app,
                &s("{attribute: \"name\", search_value: \"Epsilon\", match: false}")
            )
            .await
            .len(),
            4
        );
    }
);

on_both!(
    integer_date_datetime_and_boolean_search_use_their_operators,
    |app| {
        let ids = book(app).await;
        let mid = ids[2];
        for (op, expected) in [
            ("EQ", 1),
            ("NEQ", 4),
            ("GT", 2),
            ("GTE", 3),
            ("LT", 2),
            ("LTE", 3),
        ] {
            let args = format!("search: [{{integer_fields: [{{attribute: \"id\", search_value: {mid}, operator: {op}}}]}}]");
            assert_eq!(names(app, &args).await.len(), expected, "{op}");
        }
        let dates = app
            .ok(
                "{ accounts(account_status_id: 1) { entities { activation_date created_at } } }",
                json!({}),
            )
            .await;
        let date = dates["accounts"]["entities"][0]["activation_date"]
            .as_str()
            .unwrap()
            .to_owned();
        let created = dates["accounts"]["entities"][0]["created_at"]
            .as_str()
            .unwrap()
            .to_owned();
        let args = format!("search: [{{date_fields: [{{attribute: \"activation_date\", search_value: \"{date}\", operator: LTE}}]}}]");
        assert_eq!(
            names(app, &args).await.len(),
            3,
            "only activated accounts have an activation date"
        );
        let args = "search: [{date_fields: [{attribute: \"activation_date\", search_value: \"2000-01-01\", operator: LT}]}]";
        assert!(names(app, args).await.is_empty());
        // created_at: the accounts were created one after another, so a cut at the third one's
        // instant splits them exactly.
        let stamps = app.ok("{ accounts(sorter: [{attribute: \"id\", direction: ASC}]) { entities { created_at } } }", json!({})).await;
        let third = stamps["accounts"]["entities"][2]["created_at"]
            .as_str()
            .unwrap()
            .to_owned();
        let _ = created;
        let (older, newer) = {
            let lt = format!("search: [{{datetime_fields: [{{attribute: \"created_at\", search_value: \"{third}\", operator: LT}}]}}]");
            let gte = format!("search: [{{datetime_fields: [{{attribute: \"created_at\", search_value: \"{third}\", operator: GTE}}]}}]");
            (names(app, &lt).await.len(), names(app, &gte).await.len())
        };
        assert_eq!(older + newer, 5);
        assert!(
            newer >= 3,
            "the third and later accounts are at or after its instant"
        );
        let args = "search: [{datetime_fields: [{attribute: \"created_at\", search_value: \"2099-01-01T00:00:00+00:00\", operator: GT}]}]";
        assert!(names(app, args).await.is_empty());
        let args = "search: [{datetime_fields: [{attribute: \"created_at\", search_value: \"2000-01-01T00:00:00-06:00\", operator: GT}]}]";
        assert_eq!(names(app, args).await.len(), 5);
        let args = "search: [{boolean_fields: [{attribute: \"is_delinquent\", search_value: false, operator: EQ}]}]";
        assert_eq!(names(app, args).await.len(), 5);
        let args = "search: [{boolean_fields: [{attribute: \"is_delinquent\", search_value: false, operator: NEQ}]}]";
        assert!(names(app, args).await.is_empty());
        let args = "search: [{unset_fields: [\"activation_date\"]}]";
        assert_eq!(names(app, args).await.len(), 2);
        let args = "search: [{exists: [\"activation_date\"]}]";
        assert_eq!(names(app, args).await.len(), 3);
    }
);

on_both!(fields_in_one_search_and_separate_searches_or, |app| {
    book(app).await;
    let and = "search: [{string_fields: [{attribute: \"name\", search_value: \"a\", match: true, partial_matching: true}], integer_fields: [{attribute: \"account_status_id\", search_value: 2, operator: EQ}]}]";
    assert_eq!(names(app, and).await.len(), 2);
    let or = "search: [{string_fields: [{attribute: \"name\", search_value: \"Epsilon\", match: true}]}, {string_fields: [{attribute: \"name\", search_value: \"beta farm\", match: true}]}], sorter: [{attribute: \"name\", direction: DESC}]";
    assert_eq!(names(app, or).await, ["beta farm", "Epsilon"]);
});

on_both!(general_search_finds_text_in_the_named_columns, |app| {
    book(app).await;
    assert_eq!(
        names(app, "general_search: \"network\"").await,
        ["Alpha Networks"]
    );
    assert!(names(app, "general_search: \"nothing like this\"")
        .await
        .is_empty());
});

on_both!(sorting_and_paging_are_stable_and_bounded, |app| {
    book(app).await;
    assert_eq!(
        names(app, "sorter: [{attribute: \"account_status_id\", direction: DESC}, {attribute: \"name\", direction: ASC}]").await,
        ["Delta 100%", "Gamma_Co", "Alpha Networks", "Epsilon", "beta farm"]
    );
    let page = app
        .ok("{ accounts(paginator: {page: 2, records_per_page: 2}, sorter: [{attribute: \"id\", direction: ASC}]) { entities { name } page_info { page records_per_page total_count total_pages } } }", json!({}))
        .await;
    assert_eq!(
        page["accounts"]["page_info"],
        json!({"page": 2, "records_per_page": 2, "total_count": 5, "total_pages": 3})
    );
    assert_eq!(page["accounts"]["entities"].as_array().unwrap().len(), 2);
    let beyond = app
        .ok(
            "{ accounts(paginator: {page: 9, records_per_page: 2}) { entities { name } } }",
            json!({}),
        )
        .await;
    assert!(beyond["accounts"]["entities"]
        .as_array()
        .unwrap()
        .is_empty());
    let big = app.ok("{ accounts(paginator: {page: 1, records_per_page: 10000}) { page_info { records_per_page } } }", json!({})).await;
    assert_eq!(big["accounts"]["page_info"]["records_per_page"], 10000);
    for paginator in [
        "{page: 0, records_per_page: 10}",
        "{page: 1, records_per_page: 0}",
        "{page: 1, records_per_page: 10001}",
    ] {
        let q = format!("{{ accounts(paginator: {paginator}) {{ entities {{ id }} }} }}");
        let body = app.gql(&q, json!({})).await;
        assert_eq!(
            crate::common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED"),
            "{paginator}"
        );
        assert!(body["errors"][0]["extensions"]["field"]
            .as_str()
            .unwrap()
            .starts_with("paginator"));
    }
});

on_both!(unknown_attributes_are_refused_by_name_without_sql, |app| {
    for args in [
        "sorter: [{attribute: \"password; DROP TABLE accounts\", direction: ASC}]",
        "search: [{string_fields: [{attribute: \"no_such_field\", search_value: \"x\", match: true}]}]",
        "search: [{integer_fields: [{attribute: \"name\", search_value: 1, operator: EQ}]}]",
        "search: [{unset_fields: [\"token_hash\"]}]",
    ] {
        let body = app.gql(&format!("{{ accounts({args}) {{ entities {{ id }} }} }}"), json!({})).await;
        assert_eq!(crate::common::error_code(&body).as_deref(), Some("VALIDATION_FAILED"), "{args}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(!message.to_lowercase().contains("select"), "{message}");
    }
    let body = app
        .gql(
            "{ accounts(sorter: [{attribute: \"nope\", direction: ASC}]) { entities { id } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("nope"));
});

on_both!(relations_take_the_collection_arguments_too, |app| {
    let parent = create_account(app, "Parent", 1).await;
    for name in ["Kid A", "Kid B", "Kid C"] {
        let child = create_account(app, name, 1).await;
        app.ok("mutation($p: Int64Bit!, $c: Int64Bit!) { linkAccounts(id: $p, input: {child_account_id: $c}) { id } }", json!({"p": parent, "c": child})).await;
    }
    let data = app
        .ok(
            "query($id: Int64Bit!) { accounts(id: $id) { entities { child_accounts(paginator: {page: 1, records_per_page: 2}, sorter: [{attribute: \"name\", direction: DESC}]) { entities { name } page_info { total_count total_pages } } filtered: child_accounts(name: \"Kid B\") { entities { name } } second: child_accounts(paginator: {page: 2, records_per_page: 2}, sorter: [{attribute: \"name\", direction: DESC}]) { entities { name } page_info { page total_count } } } } }",
            json!({"id": parent}),
        )
        .await;
    let account = &data["accounts"]["entities"][0];
    assert_eq!(
        account["child_accounts"]["entities"],
        json!([{"name": "Kid C"}, {"name": "Kid B"}])
    );
    assert_eq!(
        account["child_accounts"]["page_info"],
        json!({"total_count": 3, "total_pages": 2})
    );
    assert_eq!(account["filtered"]["entities"], json!([{"name": "Kid B"}]));
    assert_eq!(account["second"]["entities"], json!([{"name": "Kid A"}]));
    assert_eq!(
        account["second"]["page_info"],
        json!({"page": 2, "total_count": 3})
    );
    // Many parents at once, each with its own children (batched by the loader).
    let all = app.ok("{ accounts(sorter: [{attribute: \"id\", direction: ASC}]) { entities { name account_status { name } child_accounts { page_info { total_count } } } } }", json!({})).await;
    let counts: Vec<i64> = all["accounts"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a["child_accounts"]["page_info"]["total_count"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(counts, [3, 0, 0, 0]);
});

/// The relation batches the general resolvers ran (`app.general`: the compiled read path
/// reads a page and its relations in one statement, without the relation loader).
async fn relation_batches(app: &common::TestApp) -> u64 {
    use axum::body::Body;
    use axum::http::Request;
    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    let (_, _, bytes) = common::answer(&app.general, request).await;
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("fathom_relation_batches_total "))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

on_both!(
    a_page_of_accounts_with_relations_costs_the_same_queries_whatever_its_size,
    |app| {
        let q = "query($n: Int!) { accounts(paginator: {page: 1, records_per_page: $n}) { entities { id account_status { name } account_type { name } addresses { entities { line1 } } child_accounts { entities { id } } contacts { entities { name } } } } }";
        for i in 0..30 {
            create_account(app, &format!("Account {i}"), 1 + i % 2).await;
        }
        let mut costs = Vec::new();
        for n in [5, 30] {
            let before = relation_batches(app).await;
            let data = app.ok(q, json!({"n": n})).await;
            assert_eq!(
                data["accounts"]["entities"].as_array().unwrap().len(),
                n as usize
            );
            costs.push(relation_batches(app).await - before);
        }
        // Five relations: one batch each when every parent joins the first batch; a slow
        // machine may split a batch in two, but a query per parent (150 here) never happens.
        assert!(costs[0] >= 5 && costs[1] >= 5, "{costs:?}");
        assert!(
            costs[1] <= 10,
            "relation queries do not grow with the page: {costs:?}"
        );
    }
);

on_both!(
    sorters_and_operators_given_as_variables_mean_what_literals_do,
    |app| {
        book(app).await;
        let names = names_in;
        let literal = app
        .ok(
            "{ accounts(sorter: [{attribute: \"name\", direction: DESC}]) { entities { name } } }",
            json!({}),
        )
        .await;
        let variable = app
            .ok(
                "query($s: [Sorter]) { accounts(sorter: $s) { entities { name } } }",
                json!({"s": [{"attribute": "name", "direction": "DESC"}]}),
            )
            .await;
        assert_eq!(names(&literal), names(&variable));
        let mut ascending = names(&literal);
        ascending.reverse();
        assert_ne!(names(&literal), ascending, "the book has distinct names");
        // An operator from a variable, as a literal one.
        let search = |op: &str| json!({"s": [{"integer_fields": [{"attribute": "account_status_id", "search_value": 1, "operator": op}]}]});
        let q = "query($s: [Search]) { accounts(search: $s) { entities { name } } }";
        let gt = app.ok(q, search("GT")).await;
        let eq = app.ok(q, search("EQ")).await;
        assert_eq!(names(&gt).len() + names(&eq).len(), 5);
        assert!(!names(&gt).is_empty() && !names(&eq).is_empty());
    }
);
