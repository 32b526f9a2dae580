//! Who may export: owners and admins (an admin API key too, without a
//! second factor); agents and light agents are refused before any read;
//! an owner enrolled in TOTP needs a current code. Each export is audited
//! with table counts only, and the SDK saves it to a file.

use ochre_tests::{
    identity::{enable_totp, sleep_until_next_totp_step, totp_code},
    prelude::*,
};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};

use super::{export, unzip};

#[tokio::test]
async fn agents_are_refused_and_an_enrolled_owner_needs_a_current_code() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme").await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let light = add_member(&app, &owner, &org, Role::LightAgent).await;
    for who in [&agent, &light] {
        let refused = export(&app, &who.access_token, &org, "").await;
        assert_eq!(code_of(&refused), Code::PermissionDenied);
    }

    let totp = enable_totp(&app, &owner).await;
    let missing = export(&app, &owner.access_token, &org, "").await;
    assert_eq!(code_of(&missing), Code::Unauthenticated);
    assert!(missing.unwrap_err().message().contains("code is required"));
    let wrong = export(&app, &owner.access_token, &org, "abcdef").await;
    assert_eq!(code_of(&wrong), Code::Unauthenticated);

    sleep_until_next_totp_step().await;
    let code = totp_code(&totp.secret_base32, unix_now());
    let archive = unzip(
        &export(&app, &owner.access_token, &org, &code)
            .await
            .unwrap(),
    );
    archive.assert_consistent(&org);
    // The code is spent: the same one again is refused.
    let replayed = export(&app, &owner.access_token, &org, &code).await;
    assert_eq!(code_of(&replayed), Code::Unauthenticated);

    // Only the successful export is audited, with counts and no personal data.
    let su = app.superuser_db().await;
    let rows = su
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT detail::text AS detail FROM audit_log \
                  WHERE org_id = '{org}' AND action = 'workspace.exported'"
            ),
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let detail: String = rows[0].try_get_by("detail").unwrap();
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["tables"]["memberships"], 3);
    assert!(!detail.to_string().contains(&owner.email));
}

#[tokio::test]
async fn an_admin_api_key_exports_and_the_sdk_saves_the_archive_to_a_file() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme").await;
    let key = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap()
        .secret;
    let agent_key = create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .unwrap()
        .secret;
    let refused = export(&app, &agent_key, &org, "").await;
    assert_eq!(code_of(&refused), Code::PermissionDenied);

    let request = ochre_sdk::v1::ExportWorkspaceRequest::default();
    let stream = app
        .client::<ExportClient>()
        .export_workspace(with_auth(request, &key, Some(&org)))
        .await
        .unwrap()
        .into_inner();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("workspace.zip");
    let saved = ochre_sdk::save_export(stream, &path).await.unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(saved.size, bytes.len() as u64);
    assert!(!dir.path().join("workspace.zip.partial").exists());
    let archive = unzip(&bytes);
    archive.assert_consistent(&org);
    assert_eq!(archive.rows("api_keys").len(), 2);
}
