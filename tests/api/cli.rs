//! The `fathom` binary's commands.

use std::process::Command;

use axum::http::StatusCode;

use crate::common;
use fathom::service::base::clock;

fn fathom(args: &[&str], database_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("FATHOM_LOG", "warn")
        .output()
        .expect("run fathom")
}

#[test]
fn fathom_schema_prints_the_committed_schema() {
    let out = fathom(&["schema"], "sqlite::memory:");
    assert!(out.status.success());
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql"),
    )
    .unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == committed,
        "run `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn fathom_migrate_creates_a_new_sqlite_database() {
    let path = std::env::temp_dir().join(format!("fathom_migrate_{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let out = fathom(&["migrate"], &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(path.exists());
    // Migrating again is a no-op.
    assert!(fathom(&["migrate"], &url).status.success());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

on_both!(token_create_prints_a_working_token_alone_on_stdout, |app| {
    let out = fathom(&["token", "create", "--name", "ci"], &app.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "the token alone: {stdout:?}");
    assert!(lines[0].starts_with("fathom_"));
    let (status, body) = app
        .post_raw(Some(lines[0]), r#"{"query":"{ me { username } }"}"#)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["me"]["username"], "admin");

    let out = fathom(
        &["token", "create", "--name", "x", "--user", "nobody"],
        &app.url,
    );
    assert!(!out.status.success(), "an unknown user is refused");
    assert!(out.stdout.is_empty());
});

on_both!(
    run_scheduled_once_carries_out_what_is_due_and_exits,
    |app| {
        let account = common::create_account(app, "Scheduled", 1).await;
        // Scheduled in the future, then made due by moving the clock of the database: an event
        // whose datetime has passed (written directly: the API refuses a past datetime).
        let created = app
        .ok(
            "mutation($a: Int64Bit!) { createScheduledEvent(input: {account_id: $a, event: CHANGE_STATUS, primary_event_object_id: \"2\", datetime: \"2099-01-01T00:00:00Z\"}) { id } }",
            serde_json::json!({"a": account}),
        )
        .await;
        let id: i64 = created["createScheduledEvent"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let event = fathom::entity::scheduled_event::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut am: fathom::entity::scheduled_event::ActiveModel = event.into();
        am.datetime = Set(clock::now() - chrono::Duration::minutes(1));
        am.update(&app.db).await.unwrap();

        let out = fathom(&["run-scheduled", "--once"], &app.url);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 completed"));
        let row = app
            .ok(
                "query($id: Int64Bit!) { accounts(id: $id) { entities { account_status_id } } }",
                serde_json::json!({"id": account}),
            )
            .await;
        assert_eq!(row["accounts"]["entities"][0]["account_status_id"], "2");
    }
);

on_both!(
    user_create_prints_the_new_users_id_and_token_create_gives_them_a_token,
    |app| {
        let out = fathom(
            &[
                "user",
                "create",
                "--username",
                "carol",
                "--role",
                "Billing",
                "--name",
                "Carol Jones",
                "--email",
                "carol@example.com",
            ],
            &app.url,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let id: i64 = stdout
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the id alone: {stdout:?}"));

        let out = fathom(
            &[
                "token",
                "create",
                "--name",
                "carol's script",
                "--user",
                "carol",
            ],
            &app.url,
        );
        assert!(out.status.success());
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let (status, body) = app
            .post_raw(
                Some(&token),
                r#"{"query":"{ me { id username name email_address } }"}"#,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["data"]["me"]["id"], id.to_string());
        assert_eq!(body["data"]["me"]["username"], "carol");
        assert_eq!(body["data"]["me"]["name"], "Carol Jones");
        assert_eq!(body["data"]["me"]["email_address"], "carol@example.com");
        let data = app
            .ok(
                "query($id: Int64Bit) { users(id: $id) { entities { role { name } public_name } } logs(loggable_type: \"User\", loggable_id: $id) { entities { type user_id } } }",
                serde_json::json!({"id": id}),
            )
            .await;
        assert_eq!(data["users"]["entities"][0]["role"]["name"], "Billing");
        assert_eq!(data["users"]["entities"][0]["public_name"], "Carol Jones");
        assert_eq!(
            data["logs"]["entities"],
            serde_json::json!([{"type": "CREATED", "user_id": null}]),
            "audited as a change from the command line"
        );

        // An unknown role, or a taken username: a clear error, and nothing written.
        let before = app.fingerprint().await;
        let out = fathom(
            &[
                "user",
                "create",
                "--username",
                "dave",
                "--role",
                "Superuser",
            ],
            &app.url,
        );
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("no role named \"Superuser\"")
                && stderr.contains("Administrator, Billing, Read Only"),
            "{stderr}"
        );
        let out = fathom(
            &[
                "user",
                "create",
                "--username",
                "carol",
                "--role",
                "Read Only",
            ],
            &app.url,
        );
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("the username carol is taken"));
        assert_eq!(app.fingerprint().await, before);

        // Without --name and --email: the username, and an address that can never be real.
        let out = fathom(
            &[
                "user",
                "create",
                "--username",
                "erin",
                "--role",
                "Read Only",
            ],
            &app.url,
        );
        assert!(out.status.success());
        let data = app
            .ok(
                "{ users(username: \"erin\") { entities { name email_address role { name } } } }",
                serde_json::json!({}),
            )
            .await;
        assert_eq!(
            data["users"]["entities"][0],
            serde_json::json!({"name": "erin", "email_address": "erin@fathom.invalid", "role": {"name": "Read Only"}})
        );
    }
);
