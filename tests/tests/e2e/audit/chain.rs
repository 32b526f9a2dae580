//! The hash chain under load and under attack: concurrent privileged
//! actions leave every org's chain gapless and verifiable; the table
//! refuses edits even to the superuser; edits made around the trigger are
//! named at their exact sequence number, in Rust, by `VerifyAuditChain`
//! and by `ochre audit verify`; an event that cannot be written fails its
//! action.

use ochre_sdk::v1::GetIntegrationTokenRequest;
use ochre_tests::{
    concurrent::{join_all, retry_unavailable},
    prelude::*,
};
use sea_orm::{ConnectionTrait as _, DatabaseConnection};

use super::{checkpoints::verify_rpc, events, verify_cli, verify_here};

async fn su(db: &DatabaseConnection, sql: &str) -> Result<(), String> {
    db.execute_unprepared(sql)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_thousand_concurrent_privileged_actions_in_four_orgs_leave_gapless_chains() {
    let app = spawn_app_with(AppOptions {
        db_max_connections: 16,
        ..AppOptions::default()
    })
    .await;
    let mut orgs = Vec::new();
    for i in 0..4 {
        let owner = signup_and_login(&app, &unique_email()).await;
        let org = create_org(&app, &owner, &format!("Busy {i}")).await;
        orgs.push((owner, org));
    }
    let calls = (0..1000).map(|i| {
        let app = &app;
        let (owner, org) = &orgs[i % 4];
        // A burst of a thousand on a pool of 16: a call that finds no
        // connection within the pool's wait answers UNAVAILABLE, and the
        // client retries it.
        retry_unavailable(move || create_api_key(app, owner, org, Role::Agent))
    });
    let created = join_all(calls).await;
    assert!(created.iter().all(Result::is_ok), "every action succeeded");
    for (_, org) in &orgs {
        let log = events(&app, org).await;
        assert_eq!(log.len(), 250, "one event per action");
        let seqs: Vec<i64> = log.iter().map(|(s, ..)| *s).collect();
        assert_eq!(seqs, (1..=250).collect::<Vec<_>>(), "gapless");
        assert_eq!(verify_here(&app, org).await, Ok(250));
        let (ok, line) = verify_cli(&app, org).await;
        assert!(ok && line.contains("ok, 250 events"), "{line}");
    }
}

#[tokio::test]
async fn tampering_is_named_at_its_sequence_number_and_the_table_refuses_edits() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Tampered").await;
    for _ in 0..6 {
        create_api_key(&app, &owner, &org, Role::Agent)
            .await
            .unwrap();
    }
    let db = app.superuser_db().await;
    let at = |seq: i64| format!("org_id = '{org}' AND seq = {seq}");
    // Even the superuser is refused while the trigger stands.
    for sql in [
        format!("UPDATE audit_log SET detail = '{{}}' WHERE {}", at(3)),
        format!("DELETE FROM audit_log WHERE {}", at(4)),
        "TRUNCATE audit_log".to_owned(),
    ] {
        let refused = su(&db, &sql).await.expect_err(&sql);
        assert!(refused.contains("append-only"), "{sql}: {refused}");
    }
    // Around the trigger (session_replication_role = replica), as an
    // attacker with the superuser's password would: each edit is named.
    let around = |sql: String| {
        format!(
            "SET session_replication_role = replica; {sql}; SET session_replication_role = origin"
        )
    };
    let swap = format!(
        "UPDATE audit_log SET seq = 100000 WHERE {}; UPDATE audit_log SET seq = 2 WHERE {}; \
         UPDATE audit_log SET seq = 5 WHERE {}",
        at(2),
        at(5),
        at(100000)
    );
    let cases: [(&str, String, String, i64); 3] = [
        (
            "a changed detail",
            format!(
                "UPDATE audit_log SET detail = '{{\"role\": \"owner\"}}' WHERE {}",
                at(3)
            ),
            format!(
                "UPDATE audit_log SET detail = (SELECT detail FROM audit_saved) WHERE {}",
                at(3)
            ),
            3,
        ),
        (
            "a deleted event",
            format!("DELETE FROM audit_log WHERE {}", at(4)),
            "INSERT INTO audit_log \
             SELECT (jsonb_populate_record(NULL::audit_log, row)).* FROM audit_saved"
                .to_owned(),
            4,
        ),
        ("two swapped events", swap.clone(), swap, 2),
    ];
    for (what, tamper, restore, seq) in cases {
        su(
            &db,
            &format!(
                "CREATE TABLE audit_saved AS SELECT detail, to_jsonb(a) AS row \
                   FROM audit_log a WHERE {}",
                at(seq)
            ),
        )
        .await
        .unwrap();
        su(&db, &around(tamper)).await.unwrap();
        assert_eq!(verify_here(&app, &org).await, Err(seq), "{what}");
        let rpc = verify_rpc(&app, &owner, &org).await;
        assert!(!rpc.ok && rpc.first_bad_seq == seq, "{what}: {rpc:?}");
        let (ok, line) = verify_cli(&app, &org).await;
        assert!(!ok, "{what}: {line}");
        assert!(
            line.contains(&format!("broken at seq {seq}")),
            "{what}: {line}"
        );
        su(&db, &around(restore)).await.unwrap();
        su(&db, "DROP TABLE audit_saved").await.unwrap();
        assert_eq!(verify_here(&app, &org).await, Ok(6), "{what} restored");
    }
    let (ok, line) = verify_cli(&app, &org).await;
    assert!(ok && line.contains("ok, 6 events"), "{line}");
}

#[tokio::test]
async fn a_token_read_whose_event_cannot_be_written_returns_no_token() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Strict").await;
    let integration = crate::vault::connect(
        &app,
        &owner,
        &org,
        "github",
        &[("webhook_signing_secret", "s3cret-value")],
    )
    .await;
    let read = || {
        let request = GetIntegrationTokenRequest {
            integration_id: integration.clone(),
            field: "webhook_signing_secret".into(),
        };
        let mut client = app.client::<IntegrationClient>();
        let request = with_auth(request, &owner.access_token, Some(&org));
        async move { client.get_integration_token(request).await }
    };
    let db = app.superuser_db().await;
    su(
        &db,
        "ALTER TABLE audit_log ADD CONSTRAINT no_reads \
         CHECK (action <> 'integration.token.read') NOT VALID",
    )
    .await
    .unwrap();
    let refused = read().await;
    assert!(refused.is_err(), "a token came back without its event");
    assert!(!format!("{refused:?}").contains("s3cret-value"));
    let reads = |log: Vec<(i64, String, String, String)>| {
        log.iter()
            .filter(|(_, a, ..)| a == "integration.token.read")
            .count()
    };
    assert_eq!(reads(events(&app, &org).await), 0);
    su(&db, "ALTER TABLE audit_log DROP CONSTRAINT no_reads")
        .await
        .unwrap();
    let value = read().await.unwrap().into_inner().value;
    assert_eq!(value, "s3cret-value");
    assert_eq!(reads(events(&app, &org).await), 1);
}
