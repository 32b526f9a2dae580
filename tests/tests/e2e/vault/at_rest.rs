//! Secrets at rest: a pg_dump with the database credentials holds no token
//! in clear, and `ochre keys rotate` re-encrypts every row under the new key.

use base64::Engine as _;
use ochre_tests::prelude::*;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};

use super::{canary, connect, owner_and_org};

#[tokio::test]
async fn a_pg_dump_with_the_database_credentials_contains_no_token_in_clear() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    let secret = canary();
    connect(&app, &owner, &org, "stripe", &[("access_token", &secret)]).await;
    let bin = ochre_server::pg::find_bin_dir().unwrap();
    use secrecy::ExposeSecret as _;
    let url = app.cluster.superuser_url_for(&app.database);
    let out = std::process::Command::new(bin.join("pg_dump"))
        .arg("--dbname")
        .arg(url.expose_secret())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = String::from_utf8_lossy(&out.stdout);
    assert!(
        dump.contains("integration_secrets"),
        "the dump has the table"
    );
    assert!(!dump.contains(&secret), "the token is in the dump in clear");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&secret);
    assert!(!dump.contains(&b64));
}

#[tokio::test]
async fn key_rotation_reencrypts_every_secret_and_the_old_key_is_then_unneeded() {
    let app = spawn_app().await;
    let (owner, org) = owner_and_org(&app).await;
    let a = canary();
    let id = connect(
        &app,
        &owner,
        &org,
        "github",
        &[("access_token", &a), ("webhook_signing_secret", &canary())],
    )
    .await;
    let old: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(&app.byok_key)
        .unwrap()
        .try_into()
        .unwrap();
    let new: [u8; 32] = rand::random();
    // An OAuth connect in flight: its PKCE verifier is vault ciphertext too.
    let old_vault = ochre_server::crypto::vault::Vault::new(&old, None);
    let (org_uuid, state_row) = (uuid::Uuid::parse_str(&org).unwrap(), uuid::Uuid::now_v7());
    let ctx = ochre_server::crypto::contexts::verifier_context(org_uuid.into(), state_row.into());
    let verifier = old_vault.encrypt(&ctx, b"pkce-verifier-in-flight").unwrap();
    let su = app.superuser_db().await;
    su.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO oauth_states (org_id, id, nonce, user_id, provider, pkce_verifier, expires_at) \
         VALUES ($1, $2, 'nonce-in-flight-0001', $3, 'github', $4, now() + interval '10 minutes')",
        [org_uuid.into(), state_row.into(), uuid::Uuid::parse_str(&owner.user_id).unwrap().into(), verifier.into()],
    ))
    .await
    .unwrap();
    // An idempotent create's kept answer (sealed: it holds the key's secret).
    let key_request = ochre_sdk::v1::CreateApiKeyRequest {
        name: "rotated".into(),
        role: Role::Agent.into(),
        request_id: "rotate-me".into(),
    };
    let secret = app
        .client::<ApiKeyClient>()
        .create_api_key(with_auth(key_request, &owner.access_token, Some(&org)))
        .await
        .unwrap()
        .into_inner()
        .secret;
    let vault = ochre_server::crypto::vault::Vault::new(&new, Some(&old));
    let owner_url = app.cluster.url(ochre_server::pg::OWNER_ROLE, &app.database);
    let report = ochre_server::db::key_rotation::rotate(&owner_url, &vault, 1)
        .await
        .unwrap();
    assert_eq!(
        (report.scanned, report.reencrypted, report.failed),
        (4, 4, 0),
        "{report}"
    );
    let again = ochre_server::db::key_rotation::rotate(&owner_url, &vault, 1)
        .await
        .unwrap();
    assert_eq!(
        (again.reencrypted, again.current),
        (0, 4),
        "resuming skips rotated rows"
    );
    // The org's audit chain records each batch that rotated its secrets
    // (batches of one: two events), and still verifies.
    let rotations: Vec<String> = crate::audit::events(&app, &org)
        .await
        .into_iter()
        .filter(|(_, action, ..)| action == "integration.secrets_rotated")
        .map(|(_, _, detail, request_id)| format!("{detail} {request_id}"))
        .collect();
    assert_eq!(
        rotations,
        [
            r#"{"secrets": 1} ochre keys rotate"#,
            r#"{"secrets": 1} ochre keys rotate"#
        ]
    );
    assert!(crate::audit::verify_here(&app, &org).await.is_ok());
    // Every row now names the new key and opens without the old one.
    let only_new = ochre_server::crypto::vault::Vault::new(&new, None);
    let org_id = uuid::Uuid::parse_str(&org).unwrap();
    let integration = uuid::Uuid::parse_str(&id).unwrap();
    let su = app.superuser_db().await;
    let row = su
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT ciphertext FROM integration_secrets WHERE field = 'access_token'",
        ))
        .await
        .unwrap()
        .unwrap();
    let blob: Vec<u8> = row.try_get("", "ciphertext").unwrap();
    assert_eq!(&blob[1..5], &only_new.current_key_id());
    let kept = su
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT response FROM request_ids WHERE request_id = 'rotate-me'",
        ))
        .await
        .unwrap()
        .unwrap();
    let kept: Vec<u8> = kept.try_get("", "response").unwrap();
    let caller = uuid::Uuid::parse_str(&owner.user_id).unwrap();
    let ctx = ochre_server::crypto::contexts::request_context(org_id, caller, "CreateApiKey");
    let answer = only_new
        .decrypt(&ctx, &kept)
        .expect("the kept answer opens with the new key");
    assert!(answer.windows(secret.len()).any(|w| w == secret.as_bytes()));
    let ctx = ochre_server::crypto::contexts::secret_context(
        org_id.into(),
        integration.into(),
        "access_token",
    );
    assert_eq!(
        only_new.decrypt(&ctx, &blob).unwrap().as_slice(),
        a.as_bytes()
    );
}
