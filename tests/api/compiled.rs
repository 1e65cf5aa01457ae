//! The compiled read path against the general resolvers: the same request, sent to a router
//! that compiles reads and to one that does not (`compiled_reads: false`) over the same
//! database, must get the same bytes back — for hand-written queries covering what the
//! compiler handles, for the repository's other read queries, and for random selections
//! generated from the entity descriptions. Also: what a page costs in statements.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::common::{self, billed_account, create_account, TestApp};
use fathom::service::access::tokens;

/// Both routers, over the test's database.
struct Pair {
    compiled: Router,
    general: Router,
}

impl Pair {
    fn new(app: &TestApp) -> Pair {
        let mut config = fathom::config::Config::for_database(&app.url);
        config.limits.rate_limit_per_minute = 1_000_000;
        config.limits.rate_limit_burst = 1_000_000;
        let compiled = fathom::app::router(app.db.clone(), &config).unwrap();
        config.compiled_reads = false;
        let general = fathom::app::router(app.db.clone(), &config).unwrap();
        Pair { compiled, general }
    }
}

async fn post(router: &Router, token: &str, body: &Value) -> (StatusCode, String) {
    let request = common::graphql_request(Some(token), body.to_string());
    let (status, _, bytes) = common::answer(router, request).await;
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// How many queries a router answered through the compiled path (from its /metrics).
async fn compiled_count(router: &Router) -> u64 {
    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    let (_, _, bytes) = common::answer(router, request).await;
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.lines()
        .find(|l| l.starts_with("fathom_compiled_reads_total{outcome=\"compiled\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .map(|n| n.parse::<f64>().unwrap() as u64)
        .unwrap_or(0)
}

/// An answer as JSON, compared as [`common::comparable`] does; the compiled path's own key
/// order is checked by `compiled_answers_keep_the_order_of_the_selection`.
fn comparable(body: &str) -> Value {
    common::comparable(serde_json::from_str(body).unwrap_or(Value::String(body.into())))
}

/// Sends `body` to both routers and asserts the same status and answer; returns whether the
/// compiled router answered it through the compiled path.
async fn same(pair: &Pair, token: &str, body: Value) -> bool {
    let before = compiled_count(&pair.compiled).await;
    let (status_c, compiled) = post(&pair.compiled, token, &body).await;
    let (status_g, general) = post(&pair.general, token, &body).await;
    assert_eq!(
        (status_c, comparable(&compiled)),
        (status_g, comparable(&general)),
        "compiled and general answers differ for {body}:\n{compiled}\n{general}"
    );
    compiled_count(&pair.compiled).await > before
}

/// The book the queries read: accounts in two statuses, a parent with children, an archived
/// account, billed accounts with invoices, debits, services and addresses, one service
/// removed, contacts, and odd names for the text searches.
async fn book(app: &TestApp) -> String {
    let (billed, _) = billed_account(app, "Acme Fiber").await;
    billed_account(app, "Bolt_Co 100%").await;
    let mut ids = Vec::new();
    for (name, status) in [
        ("Alpha Networks", 1),
        ("beta farm", 1),
        ("Gamma \"quoted\" \\ slash", 2),
        ("Delta ünïcode ✓", 2),
        ("Epsilon", 1),
    ] {
        ids.push(create_account(app, name, status).await);
    }
    for child in &ids[1..3] {
        app.ok(
            "mutation($p: Int64Bit!, $c: Int64Bit!) { linkAccounts(id: $p, input: {child_account_id: $c}) { id } }",
            json!({"p": ids[0], "c": child}),
        )
        .await;
    }
    app.ok(
        "mutation($id: Int64Bit!) { archiveAccount(id: $id) { id } }",
        json!({"id": ids[3]}),
    )
    .await;
    // A second service on the billed account, then removed: hidden from every listing.
    let extra = app.recurring_service("Static IP", 1000, 1).await;
    let added = app
        .ok(
            "mutation($input: AddServiceToAccountMutationInput) { addServiceToAccount(input: $input) { id } }",
            json!({"input": {"account_id": billed, "service_id": extra, "quantity": 2}}),
        )
        .await;
    let removed = added["addServiceToAccount"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        "mutation($id: Int64Bit!) { deleteAccountService(id: $id) { success } }",
        json!({"id": removed}),
    )
    .await;
    removed
}

/// Queries covering what the compiler handles, each with its variables.
fn covered() -> Vec<(&'static str, Value)> {
    vec![
        ("{ accounts { entities { id name account_status { name } } } }", json!({})),
        ("{ accounts(paginator: {page: 1, records_per_page: 100}) { entities { id name account_status { id name } account_type { id name } addresses { entities { id line1 } } child_accounts { entities { id name } } } page_info { total_count } } }", json!({})),
        ("{ accounts { page_info { page records_per_page total_count total_pages __typename } __typename } }", json!({})),
        ("{ accounts(include_archived: true) { entities { id name archived_at archived_by_user_id } page_info { total_count } } }", json!({})),
        ("query($a: Boolean) { accounts(include_archived: $a) { entities { name } } }", json!({"a": false})),
        ("{ accounts(paginator: {page: 2, records_per_page: 2}, sorter: [{attribute: \"name\", direction: DESC}]) { entities { name } page_info { page records_per_page total_count total_pages } } }", json!({})),
        ("query($s: [Sorter]) { accounts(sorter: $s) { entities { name } } }", json!({"s": [{"attribute": "name", "direction": "DESC"}]})),
        ("{ accounts(general_search: \"A\") { entities { name } } }", json!({})),
        ("{ accounts(general_search: \"100%\") { entities { name } } }", json!({})),
        ("{ accounts(general_search: \"_co\") { entities { name } } }", json!({})),
        ("{ accounts(search: [{string_fields: [{attribute: \"name\", search_value: \"ta\", match: true, partial_matching: true}]}, {integer_fields: [{attribute: \"account_status_id\", search_value: 2, operator: GTE}]}]) { entities { name account_status_id } } }", json!({})),
        ("{ accounts(search: {string_fields: {attribute: \"name\", search_value: \"Epsilon\", match: false}}) { entities { name } } }", json!({})),
        ("{ accounts(search: [{unset_fields: [\"parent_account_id\"], exists: [\"name\"]}]) { entities { name parent_account_id } } }", json!({})),
        ("{ accounts(account_status_id: 2) { entities { name is_delinquent data_usage_percentage next_bill_date activation_date } } }", json!({})),
        ("query($id: Int64Bit!) { accounts(id: $id) { entities { id } } }", json!({"id": "1"})),
        ("{ a: accounts { entities { x: name y: id } } b: accounts(paginator: {page: 1, records_per_page: 1}) { page_info { total_count } } __typename }", json!({})),
        ("{ accounts { entities { name account_status { name } account_status { id } } entities { id } } }", json!({})),
        ("query($skip: Boolean!) { accounts { entities { id name @skip(if: $skip) ... on Account { account_type { name } } ...F } } } fragment F on Account { sonar_unique_id _version created_at updated_at __typename }", json!({"skip": true})),
        ("query($inc: Boolean = true) { accounts { entities { name @include(if: $inc) parent_account { name } } } }", json!({})),
        ("{ accounts { entities { name invoices { entities { id date total_debits remaining_due debits { entities { id amount description prorated_from prorated_to } page_info { total_count } } } } } } }", json!({})),
        ("{ accounts { entities { name account_services { entities { id quantity service { name amount } } page_info { total_count } } } } }", json!({})),
        ("{ accounts { entities { contacts { entities { name email_address primary } } } } }", json!({})),
        ("{ invoices { entities { id account { name account_status { name } } debits(paginator: {page: 1, records_per_page: 1}) { entities { amount } page_info { total_pages } } } } }", json!({})),
        ("{ debits(sorter: {attribute: \"amount\", direction: DESC}) { entities { id amount service_id reversed account { id } ... on TransactionInterface { type } } } }", json!({})),
        ("{ account_statuses { entities { id name activates_account color accounts { page_info { total_count } } } } }", json!({})),
        ("{ account_services { entities { id account_id removed_at } page_info { total_count } } }", json!({})),
        ("{ addresses { entities { id line1 latitude longitude serviceable } } }", json!({})),
        ("{ companies { entities { id name primary_color country } } }", json!({})),
        ("{ users { entities { id username enabled role { name } } } }", json!({})),
        ("query Named { accounts { entities { name } } } query Other { invoices { entities { id } } }", json!({})),
    ]
}

on_both!(
    compiled_reads_answer_exactly_as_the_general_resolvers,
    |app| {
        book(app).await;
        let pair = Pair::new(app);
        let mut compiled = 0;
        for (query, variables) in covered() {
            let mut body = json!({"query": query, "variables": variables});
            if query.starts_with("query Named") {
                body["operationName"] = json!("Named");
            }
            if same(&pair, &app.token, body).await {
                compiled += 1;
            }
        }
        // Every covered query but the ones naming fields the compiler leaves to the resolvers
        // (`service` of an account service has computed fields; `role` is a relation on users).
        assert!(
            compiled >= covered().len() - 3,
            "only {compiled} of {} covered queries were compiled",
            covered().len()
        );
        // A batch mixing compiled and general answers.
        same(
        &pair,
        &app.token,
        json!([
            {"query": "{ accounts { entities { name } } }"},
            {"query": "{ activations_and_disconnections_report { summary { activation_count } } }"},
            {"query": "{ accounts { entities { nam } } }"},
        ]),
    )
    .await;
    }
);

on_both!(
    later_pages_asked_twice_answer_as_the_general_resolvers_from_a_kept_plan,
    |app| {
        book(app).await;
        let pair = Pair::new(app);
        // Pages past the first find their ids before their rows; the second asking of each
        // is answered by the plan kept from the first.
        let queries = [
            "{ accounts(paginator: {page: PAGE, records_per_page: 2}) { entities { id name account_status { name } child_accounts { entities { name } } } page_info { total_count } } }",
            "{ accounts(paginator: {page: PAGE, records_per_page: 3}, sorter: [{attribute: \"name\", direction: DESC}]) { entities { name } } }",
            "{ accounts(paginator: {page: PAGE, records_per_page: 1}, include_archived: true, search: [{integer_fields: [{attribute: \"account_status_id\", search_value: 1, operator: GTE}]}]) { entities { id name archived_at } } }",
            "{ debits(paginator: {page: PAGE, records_per_page: 2}, sorter: {attribute: \"amount\", direction: ASC}) { entities { id amount invoice { id } } } }",
            "query($p: Int!) { invoices(paginator: {page: $p, records_per_page: 1}) { entities { id debits { entities { id } } } } }",
        ];
        let mut answered = 0;
        for query in queries {
            for page in 1..=5 {
                let text = query.replace("PAGE", &page.to_string());
                let body = match text.contains("$p") {
                    true => json!({"query": text, "variables": {"p": page}}),
                    false => json!({"query": text}),
                };
                for _ in 0..2 {
                    if same(&pair, &app.token, body.clone()).await {
                        answered += 1;
                    }
                }
            }
        }
        assert_eq!(
            answered, 50,
            "every asking was answered by the compiled path"
        );
    }
);

on_both!(
    requests_the_compiler_leaves_alone_get_the_general_answer,
    |app| {
        book(app).await;
        let pair = Pair::new(app);
        for (query, variables) in [
        // Invalid documents: the general path's errors, word for word.
        ("{ accounts { entities { nam } } }", json!({})),
        ("{ accounts(paginator: {page: 1}) { entities { name } } }", json!({})),
        ("{ accounts(paginator: {page: 0, records_per_page: 5}) { entities { name } } }", json!({})),
        ("{ accounts(sorter: [{attribute: \"nope\", direction: ASC}]) { entities { name } } }", json!({})),
        ("query($s: [Sorter]) { accounts(sorter: $s) { entities { name } } }", json!({"s": [{"attribute": "name", "direction": "SIDEWAYS"}]})),
        ("query($unused: Int) { accounts { entities { name } } }", json!({})),
        ("query($id: Int64Bit!) { accounts(id: $id) { entities { id } } }", json!({})),
        ("{ accounts { entities { name @deprecated } } }", json!({})),
        ("{ accounts { entities { id(x: 1) } } }", json!({})),
        // Valid, but answered by the resolvers: a computed field, introspection, a report.
        ("{ services { entities { name recurring_service_detail { billing_frequency } } } }", json!({})),
        ("{ __schema { queryType { name } } }", json!({})),
        ("{ activations_and_disconnections_report { summary { activation_count } } }", json!({})),
    ] {
        assert!(
            !same(&pair, &app.token, json!({"query": query, "variables": variables})).await,
            "the compiled path answered {query}"
        );
    }
        // The count read is the one that moves when the compiler does answer.
        assert!(
            same(
                &pair,
                &app.token,
                json!({"query": "{ accounts { entities { name } } }"})
            )
            .await,
            "a query the compiler handles is counted as compiled"
        );
    }
);

on_both!(permissions_and_hidden_rows_hold_on_both_paths, |app| {
    let removed = book(app).await;
    let pair = Pair::new(app);
    // A read-only user's token: the same answers on both paths. (Every built-in role may
    // read; that the compiler refuses a caller without the permission, leaving the
    // FORBIDDEN answer to the resolvers, is a unit test in src/graphql/compiled.rs.)
    let user = app
        .ok(
            "mutation($input: CreateUserMutationInput) { createUser(input: $input) { id role { name } } }",
            json!({"input": {"name": "Reader", "username": "reader", "public_name": "Reader", "email_address": "reader@example.com"}}),
        )
        .await;
    assert_eq!(user["createUser"]["role"]["name"], "Read Only");
    let id = user["createUser"]["id"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let (_, token) = tokens::create_token(&app.db, id, "test").await.unwrap();
    let token = token.as_str().to_owned();
    for query in [
        "{ accounts { entities { name invoices { entities { id } } } } }",
        "{ invoices { entities { id account { name } } } }",
        "{ users { entities { username } } }",
    ] {
        assert!(
            same(&pair, &token, json!({"query": query})).await,
            "{query}"
        );
    }
    // Archived accounts and removed services are left out unless asked for.
    let (_, answer) = post(
        &pair.compiled,
        &app.token,
        &json!({"query": "{ accounts { entities { name } } a: accounts(include_archived: true) { entities { name } } account_services { entities { id } } one: accounts(id: 1) { entities { account_services { entities { id } } } } }"}),
    )
    .await;
    let answer: Value = serde_json::from_str(&answer).unwrap();
    let names = |key: &str| answer["data"][key]["entities"].as_array().unwrap().len();
    assert_eq!(names("accounts") + 1, names("a"), "{answer}");
    let services = answer["data"]["account_services"]["entities"]
        .as_array()
        .unwrap();
    assert!(!services.is_empty());
    assert!(
        services.iter().all(|s| s["id"] != removed.as_str()),
        "{answer}"
    );
    let of_account = &answer["data"]["one"]["entities"][0]["account_services"]["entities"];
    assert_eq!(of_account.as_array().unwrap().len(), 1, "{answer}");
});

/// Random valid selections over the entity descriptions: a root collection with random
/// arguments, scalar fields, relations to depth 4, `page_info`, aliases, fragments and
/// directives.
struct Generator {
    rng: StdRng,
}

impl Generator {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn operation(&mut self) -> String {
        let roots: Vec<_> = fathom::graphql::schema::defs::all()
            .into_iter()
            .filter(|d| !d.plural.is_empty())
            .collect();
        let mut out = String::from("query { ");
        for i in 0..self.rng.random_range(1..=2) {
            let def = *self.pick(&roots);
            if i > 0 {
                out.push_str(&format!("r{i}: "));
            }
            out.push_str(def.plural);
            out.push_str(&self.arguments(def, def.name == "Account"));
            out.push(' ');
            out.push_str(&self.connection(def, 1));
            out.push(' ');
        }
        out.push_str("__typename @include(if: true) t: __typename @skip(if: false) }");
        out
    }

    fn arguments(
        &mut self,
        def: &fathom::graphql::schema::entity_def::EntityDef,
        root_account: bool,
    ) -> String {
        let mut args = Vec::new();
        if self.chance(0.5) {
            args.push(format!(
                "paginator: {{page: {}, records_per_page: {}}}",
                self.rng.random_range(1..=2),
                self.rng.random_range(1..=4)
            ));
        }
        let scalars: Vec<_> = def
            .fields
            .iter()
            .filter(|f| matches!(f.base_type(), "String" | "Int" | "Int64Bit" | "Boolean"))
            .collect();
        if !scalars.is_empty() && self.chance(0.4) {
            let f = *self.pick(&scalars);
            let direction = if self.chance(0.5) { "ASC" } else { "DESC" };
            args.push(format!(
                "sorter: [{{attribute: \"{}\", direction: {direction}}}]",
                f.name
            ));
        }
        if !def.general_search.is_empty() && self.chance(0.2) {
            let text = *self.pick(&["a", "E", "%", "_", "ü", "zzz"]);
            args.push(format!("general_search: \"{text}\""));
        }
        let ints: Vec<_> = def
            .fields
            .iter()
            .filter(|f| f.base_type() == "Int64Bit")
            .collect();
        if !ints.is_empty() && self.chance(0.3) {
            let f = *self.pick(&ints);
            let op = *self.pick(&["EQ", "NEQ", "GT", "GTE", "LT", "LTE"]);
            args.push(format!(
                "search: [{{integer_fields: [{{attribute: \"{}\", search_value: {}, operator: {op}}}]}}]",
                f.name,
                self.rng.random_range(0..4)
            ));
        }
        if root_account && self.chance(0.3) {
            args.push("include_archived: true".into());
        }
        if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        }
    }

    fn connection(
        &mut self,
        def: &'static fathom::graphql::schema::entity_def::EntityDef,
        depth: usize,
    ) -> String {
        let mut parts = Vec::new();
        if self.chance(0.9) {
            parts.push(format!("entities {}", self.object(def, depth)));
        }
        if self.chance(0.5) || parts.is_empty() {
            let fields = [
                "page",
                "records_per_page",
                "total_count",
                "total_pages",
                "__typename",
            ];
            let mut chosen: Vec<&str> = fields
                .iter()
                .copied()
                .filter(|_| self.rng.random_bool(0.5))
                .collect();
            if chosen.is_empty() {
                chosen.push("total_count");
            }
            parts.push(format!("page_info {{ {} }}", chosen.join(" ")));
        }
        if self.chance(0.1) {
            parts.push("__typename".into());
        }
        format!("{{ {} }}", parts.join(" "))
    }

    fn object(
        &mut self,
        def: &'static fathom::graphql::schema::entity_def::EntityDef,
        depth: usize,
    ) -> String {
        let mut fields: Vec<String> = Vec::new();
        if def.base {
            for f in [
                "id",
                "sonar_unique_id",
                "created_at",
                "updated_at",
                "_version",
            ] {
                if self.chance(0.3) {
                    fields.push(f.into());
                }
            }
        }
        for f in def.fields {
            if self.chance(0.25) {
                let alias = if self.chance(0.1) { "al_" } else { "" };
                if alias.is_empty() {
                    fields.push(f.name.into());
                } else {
                    fields.push(format!("{alias}{0}: {0}", f.name));
                }
            }
        }
        if depth < 4 {
            for rel in (def.relations)() {
                if !self.chance(0.25) {
                    continue;
                }
                if rel.many {
                    let args = self.arguments(rel.target, false);
                    fields.push(format!(
                        "{}{args} {}",
                        rel.name,
                        self.connection(rel.target, depth + 1)
                    ));
                } else {
                    fields.push(format!(
                        "{} {}",
                        rel.name,
                        self.object(rel.target, depth + 1)
                    ));
                }
            }
        }
        if self.chance(0.1) {
            fields.push("__typename".into());
        }
        if fields.is_empty() {
            fields.push(if def.base {
                "id".into()
            } else {
                "__typename".into()
            });
        }
        let mut body = fields.join(" ");
        if self.chance(0.15) {
            body = format!("... on {} {{ {body} }}", def.name);
        }
        if self.chance(0.1) {
            body.push_str(" __typename @skip(if: true)");
        }
        format!("{{ {body} }}")
    }
}

on_both!(random_selections_answer_alike_on_both_paths, |app| {
    book(app).await;
    let pair = Pair::new(app);
    let seed = std::env::var("FATHOM_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261129u64);
    let cases: usize = std::env::var("FATHOM_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let mut generator = Generator {
        rng: StdRng::seed_from_u64(seed),
    };
    let mut compiled = 0;
    for _ in 0..cases {
        let query = generator.operation();
        if same(&pair, &app.token, json!({"query": query})).await {
            compiled += 1;
        }
    }
    // Most generated selections are compiled (the rest touch computed fields).
    assert!(
        compiled * 2 > cases,
        "only {compiled} of {cases} random selections were compiled (seed {seed})"
    );
});

on_both!(
    a_page_with_four_relations_and_its_total_costs_two_statements,
    |app| {
        book(app).await;
        let (router, count) = common::counting(app).await;
        let query = json!({"query": "{ accounts(paginator: {page: 1, records_per_page: 100}) { entities { id name account_status { id name } account_type { id name } addresses { entities { id line1 } } child_accounts { entities { id name } } } page_info { total_count } } }"});
        // The first request sets the token's last-used time; measure a later one.
        let (status, _) = post(&router, &app.token, &query).await;
        assert_eq!(status, StatusCode::OK);
        count.store(0, Ordering::SeqCst);
        let (status, body) = post(&router, &app.token, &query).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("\"total_count\""), "{body}");
        let statements = count.load(Ordering::SeqCst);
        // One to authenticate (the token is now in the cache), one for the page with its
        // relations and its total.
        assert!(statements <= 2, "{statements} statements");
        // With the token's authentication cached, a read's statement confirms it too.
        count.store(0, Ordering::SeqCst);
        post(&router, &app.token, &json!({"query": "{ __typename }"})).await;
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "a cached authentication, confirmed"
        );
        count.store(0, Ordering::SeqCst);
        post(&router, &app.token, &query).await;
        assert_eq!(count.load(Ordering::SeqCst), 1, "statements for the page");
        // Anything else authenticates in full first: the report (resolvers) costs one more.
        count.store(0, Ordering::SeqCst);
        let report = json!({"query": "{ activations_and_disconnections_report { summary { activation_count } } }"});
        let (status, _) = post(&router, &app.token, &report).await;
        assert_eq!(status, StatusCode::OK);
        assert!(count.load(Ordering::SeqCst) >= 2);
    }
);

on_both!(
    a_revoked_token_or_disabled_user_is_refused_on_the_next_compiled_read,
    |app| {
        let created = app
        .ok(
            "mutation($input: CreateUserMutationInput) { createUser(input: $input) { id } }",
            json!({"input": {"name": "Reader", "username": "reader", "public_name": "Reader", "email_address": "reader@example.com"}}),
        )
        .await;
        let user: i64 = created["createUser"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let (token_row, token) = tokens::create_token(&app.db, user, "test").await.unwrap();
        let token = token.as_str().to_owned();
        let read = json!({"query": "{ accounts { entities { id } } }"});
        let (status, _) = post(&app.router, &token, &read).await;
        assert_eq!(status, StatusCode::OK);
        // The user is disabled through another server over the same database: this one refuses
        // the token on its next request although it has its authentication cached.
        let set_enabled = |enabled: bool| {
            json!({"query": "mutation($id: Int64Bit!, $e: Boolean) { updateUser(id: $id, input: {enabled: $e}) { id } }",
               "variables": {"id": user, "e": enabled}})
        };
        let (status, body) = post(&app.general, &app.token, &set_enabled(false)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = post(&app.router, &token, &read).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(body.contains("UNAUTHENTICATED"), "{body}");
        post(&app.general, &app.token, &set_enabled(true)).await;
        let (status, _) = post(&app.router, &token, &read).await;
        assert_eq!(status, StatusCode::OK);
        // The token deletes itself: refused next, for a compiled read, an invalid request or
        // `__typename` alike.
        let (status, body) = post(
        &app.router,
        &token,
        &json!({"query": "mutation($id: Int64Bit!) { deletePersonalAccessToken(id: $id) { success } }", "variables": {"id": token_row.id}}),
    )
    .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for request in [
            read.clone(),
            json!({"query": "{ nope }"}),
            json!({"query": "{ __typename }"}),
        ] {
            let (status, body) = post(&app.router, &token, &request).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{request}: {body}");
        }
    }
);

on_both!(compiled_answers_keep_the_order_of_the_selection, |app| {
    book(app).await;
    let pair = Pair::new(app);
    let body = json!({"query": "{ b: accounts(paginator: {page: 1, records_per_page: 1}) { page_info { total_count } entities { account_status { name } id name } } a: accounts(paginator: {page: 1, records_per_page: 1}) { entities { name } } __typename }"});
    let (_, answer) = post(&pair.compiled, &app.token, &body).await;
    assert_eq!(
        answer,
        "{\"data\":{\"b\":{\"page_info\":{\"total_count\":6},\"entities\":[{\"account_status\":{\"name\":\"Active\"},\"id\":\"1\",\"name\":\"Acme Fiber\"}]},\"a\":{\"entities\":[{\"name\":\"Acme Fiber\"}]},\"__typename\":\"Query\"}}"
    );
});
