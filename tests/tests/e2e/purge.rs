//! The `purge-expired` job, through `POST /cron/purge-expired` and through
//! `ochre purge`: what has expired for good goes, everything else stays.

use ochre_tests::{identity::superuser_execute, ochre_against, prelude::*};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use uuid::Uuid;

/// Rows that must go (`old`) and rows that must stay (`fresh`), per kind.
async fn seed_expired_and_fresh(app: &TestApp) -> Uuid {
    let session = signup_and_login(app, &unique_email()).await;
    let org = create_org(app, &session, "Purge").await;
    let user: Uuid = session.user_id.parse().unwrap();
    let integration = Uuid::now_v7();
    let mut sql = format!(
        "INSERT INTO integrations (org_id, id, provider) VALUES ('{org}', '{integration}', 'github'); \
         INSERT INTO integration_secrets (org_id, integration_id, field, ciphertext, updated_at) VALUES \
           ('{org}', '{integration}', 'webhook_signing_secret', decode(repeat('ab', 60), 'hex'), now() - interval '30 days'), \
           ('{org}', '{integration}', 'webhook_signing_secret.previous', decode(repeat('ab', 60), 'hex'), now() - interval '25 hours'); \
         INSERT INTO login_throttle (key, failures, window_start) VALUES \
           ('old-{integration}', 3, now() - interval '2 days'), ('fresh-{integration}', 3, now()); "
    );
    for (age, tag) in [("2 days", "old"), ("-10 minutes", "fresh")] {
        sql += &format!(
            "INSERT INTO oauth_states (org_id, id, nonce, user_id, provider, pkce_verifier, expires_at) \
               VALUES ('{org}', '{}', 'nonce-{tag}-{integration}', '{user}', 'github', \
                       decode(repeat('cd', 60), 'hex'), now() - interval '{age}'); ",
            Uuid::now_v7()
        );
    }
    sql += &format!(
        "INSERT INTO sessions (id, user_id, expires_at, proof_hash) VALUES \
           ('{}', '{user}', now() - interval '8 days', sha256('a')), \
           ('{}', '{user}', now() + interval '1 day', sha256('b')); \
         INSERT INTO login_tickets (token_hash, user_id, expires_at) VALUES \
           (sha256('old-{integration}'::bytea), '{user}', now() - interval '2 days'), \
           (sha256('fresh-{integration}'::bytea), '{user}', now() + interval '5 minutes');",
        Uuid::now_v7(),
        Uuid::now_v7()
    );
    superuser_execute(app, &sql).await;
    integration
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let db = app.superuser_db().await;
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index(0).unwrap()
}

async fn assert_only_fresh_rows_remain(app: &TestApp, integration: Uuid) {
    let n = |table: &str, filter: String| format!("SELECT count(*) FROM {table} WHERE {filter}");
    let i = integration;
    assert_eq!(
        count(app, &n("oauth_states", format!("nonce LIKE '%-{i}'"))).await,
        1,
        "the unexpired state stays"
    );
    assert_eq!(
        count(
            app,
            &n("integration_secrets", format!("integration_id = '{i}'"))
        )
        .await,
        1,
        "the current secret stays however old; the retired one goes"
    );
    assert_eq!(
        count(app, &n("login_throttle", format!("key LIKE '%-{i}'"))).await,
        1
    );
    assert_eq!(
        count(app, "SELECT count(*) FROM login_tickets").await,
        1,
        "the ticket a day past expiry goes, the live one stays"
    );
    assert_eq!(
        count(
            app,
            "SELECT count(*) FROM sessions WHERE expires_at < now()"
        )
        .await,
        0,
        "the session a week past expiry goes"
    );
    assert!(
        count(
            app,
            "SELECT count(*) FROM sessions WHERE expires_at > now()"
        )
        .await
            >= 1
    );
}

#[tokio::test]
async fn the_cron_job_deletes_what_expired_for_good_and_keeps_the_rest() {
    let app = spawn_app().await;
    let integration = seed_expired_and_fresh(&app).await;
    let answer = reqwest::Client::new()
        .post(format!("http://{}/cron/purge-expired", app.addr))
        .bearer_auth(&app.cron_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["job"], "purge-expired");
    let deleted = &body["deleted"];
    assert_eq!(deleted["oauth_states"], 1, "{body}");
    assert_eq!(deleted["previous_signing_secrets"], 1, "{body}");
    assert_eq!(deleted["login_throttle"], 1, "{body}");
    assert!(deleted["sessions"].as_u64().unwrap() >= 1, "{body}");
    assert_eq!(deleted["login_tickets"], 1, "{body}");
    assert_only_fresh_rows_remain(&app, integration).await;

    // Running it again finds nothing more.
    let again: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/cron/purge-expired", app.addr))
        .bearer_auth(&app.cron_secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["deleted"]["oauth_states"], 0, "{again}");
    assert_eq!(again["deleted"]["previous_signing_secrets"], 0, "{again}");
}

#[tokio::test]
async fn ochre_purge_runs_the_same_job_from_the_command_line() {
    let app = spawn_app().await;
    let integration = seed_expired_and_fresh(&app).await;
    let output = ochre_against(&app)
        .arg("purge")
        .output()
        .await
        .expect("run ochre purge");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ochre purge failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.starts_with("ochre purge: {"), "{stdout}");
    assert!(stdout.contains("\"oauth_states\":1"), "{stdout}");
    assert_only_fresh_rows_remain(&app, integration).await;
}
