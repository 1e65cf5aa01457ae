//! The harness's own checks: what the tests lean on must see what they claim to.

use sea_orm::{ConnectionTrait, Statement};

use crate::common::{self, create_account};

on_both!(
    the_fingerprint_sees_a_change_that_leaves_counts_and_versions_alone,
    |app| {
        let account = create_account(app, "Fingerprinted", 1).await;
        let before = app.fingerprint().await;
        assert_eq!(app.fingerprint().await, before, "reading changes nothing");
        // A value changed without `version`, and a row replaced by another with the same
        // count: both show.
        let backend = app.db.get_database_backend();
        let run = |sql: String| async move {
            app.db
                .execute_raw(Statement::from_string(backend, sql))
                .await
                .unwrap();
        };
        run(format!(
            "UPDATE accounts SET name = 'Renamed' WHERE id = {account}"
        ))
        .await;
        let renamed = app.fingerprint().await;
        assert_ne!(renamed, before);
        let changed: Vec<&str> = before
            .iter()
            .zip(&renamed)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.0.as_str())
            .collect();
        assert_eq!(changed, ["accounts"]);
        run(format!(
            "UPDATE accounts SET name = 'Fingerprinted' WHERE id = {account}"
        ))
        .await;
        assert_eq!(app.fingerprint().await, before, "changed back");
        // NULL and an empty text are told apart.
        run(
            "UPDATE contacts SET email_address = NULL WHERE name = 'Fingerprinted contact'"
                .to_string(),
        )
        .await;
        let null = app.fingerprint().await;
        run(
            "UPDATE contacts SET email_address = '' WHERE name = 'Fingerprinted contact'"
                .to_string(),
        )
        .await;
        assert_ne!(app.fingerprint().await, null);
        assert_ne!(null, before);
    }
);
