//! The security review's impersonation chain, replayed against a running
//! server's database with only the `ochre_app` (then `ochre_service`)
//! password and settings forged for the victim: read another org's
//! customers, read password hashes, take a token's ciphertext, forge and
//! accept an owner invitation, remove the real owner, overwrite a password
//! hash. Every step fails and leaves no trace; the victim still signs in and
//! still owns the org.

use ochre_tests::{identity::login, prelude::*};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};
use uuid::Uuid;

/// What the victim's org looks like from the superuser's side.
async fn footprint(su: &DatabaseConnection, org: &str, victim: &str) -> String {
    let row = su
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT (SELECT password_hash FROM users WHERE id = '{victim}') || '/' || \
                   (SELECT count(*) FROM invitations WHERE org_id = '{org}') || '/' || \
                   (SELECT count(*) FROM audit_log WHERE org_id = '{org}') || '/' || \
                   (SELECT string_agg(user_id::text || role, ',' ORDER BY user_id) \
                      FROM memberships WHERE org_id = '{org}') AS f"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "f").unwrap()
}

/// Runs `sql` on `db` in a transaction with settings forged for `user` in
/// `org`, committed (so anything written would stay); the rows it returned
/// or the error it raised.
async fn forged(
    db: &DatabaseConnection,
    org: &str,
    user: &str,
    sql: &str,
) -> Result<usize, String> {
    use sea_orm::TransactionTrait as _;
    let tx = db.begin().await.unwrap();
    let id = |s: &str| Uuid::parse_str(s).ok();
    forge_settings(&tx, id(org), id(user), None).await;
    let result = tx
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .map(|rows| rows.len())
        .map_err(|e| e.to_string());
    let _ = tx.commit().await;
    result
}

#[tokio::test]
async fn the_review_impersonation_chain_fails_at_every_step_with_the_app_or_service_password() {
    let app = spawn_app().await;
    let victim = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &victim, "Victim").await;
    let caller = Caller::user(&app, &victim, &org);
    caller.customer("vip@example.com").await;
    let request = ochre_sdk::v1::ConnectIntegrationRequest {
        provider: "github".into(),
        external_account: "victim".into(),
        secrets: [("webhook_signing_secret".to_owned(), random_secret(32))].into(),
        ..Default::default()
    };
    let integration = app
        .client::<IntegrationClient>()
        .connect_integration(with_auth(request, &victim.access_token, Some(&org)))
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap()
        .id;
    let attacker = signup_and_login(&app, &unique_email()).await;
    let su = app.superuser_db().await;
    let before = footprint(&su, &org, &victim.user_id).await;

    // An owner invitation for the attacker, planted as if the forged INSERT
    // had worked, so the accept step is tried on its own.
    let planted = "ochre_inv_planted-by-the-review";
    superuser_execute_sql(
        &su,
        &format!(
            "INSERT INTO invitations (org_id, id, email, role, token_hash, invited_by, expires_at) \
             VALUES ('{org}', gen_random_uuid(), '{}', 'owner', \
                     sha256(convert_to('{planted}', 'UTF8')), '{}', now() + interval '1 day')",
            attacker.email, victim.user_id
        ),
    )
    .await;
    let before_planted = footprint(&su, &org, &victim.user_id).await;
    assert_ne!(before, before_planted, "the planted invitation is counted");

    let v = &victim.user_id;
    let steps = [
        (
            "read the victim org's customers",
            "SELECT * FROM customers".to_owned(),
        ),
        (
            "read the victim's password hash",
            format!("SELECT password_hash FROM users WHERE id = '{v}'"),
        ),
        (
            "read a token's ciphertext",
            format!(
                "SELECT * FROM read_integration_secret('{integration}', \
                 'webhook_signing_secret', gen_random_uuid(), '')"
            ),
        ),
        (
            "forge an owner invitation",
            format!(
                "INSERT INTO invitations (org_id, id, email, role, token_hash, invited_by, expires_at) \
                 VALUES ('{org}', gen_random_uuid(), '{}', 'owner', sha256('x'), '{v}', \
                         now() + interval '1 day') RETURNING id",
                attacker.email
            ),
        ),
        (
            "remove the real owner",
            format!("SELECT remove_member('{v}')"),
        ),
        (
            "overwrite the victim's password hash",
            format!("UPDATE users SET password_hash = 'attacker' WHERE id = '{v}' RETURNING id"),
        ),
    ];
    let mut c = Checks::default();
    for (role, db) in [
        ("ochre_app", app.app_db().await),
        ("ochre_service", app.service_db().await),
    ] {
        for (step, sql) in &steps {
            let got = forged(&db, &org, v, sql).await;
            c.that(
                matches!(got, Ok(0) | Err(_)),
                &format!("{role}: {step}: {got:?}"),
            );
            if let Err(e) = &got {
                c.that(
                    !e.contains(&victim.password),
                    &format!("{role}: {step}: leak"),
                );
            }
        }
        // The attacker, forged as itself, accepts the planted invitation.
        // (The call has the function's real signature: the refusal is the
        // identity check's, not a missing function's.)
        let accept = format!(
            "SELECT accept_invitation('{org}', sha256(convert_to('{planted}', 'UTF8')), '', '')"
        );
        let got = forged(&db, &org, &attacker.user_id, &accept).await;
        c.that(
            got.as_ref()
                .is_err_and(|e| !e.contains("does not exist") && !e.contains("no function")),
            &format!("{role}: accept the planted invitation: {got:?}"),
        );
    }
    c.eq(
        "the victim's org, account and audit trail",
        footprint(&su, &org, &victim.user_id).await,
        before_planted,
    );
    c.verify();

    // The legitimate path still works: the victim signs in and still owns
    // the org; the attacker is no member of it.
    let tokens = login(&app, &victim.email, &victim.password)
        .await
        .unwrap()
        .tokens
        .unwrap();
    let members = app
        .client::<MemberClient>()
        .list_members(with_auth(
            ochre_sdk::v1::ListMembersRequest::default(),
            &tokens.access_token,
            Some(&org),
        ))
        .await
        .unwrap()
        .into_inner()
        .members;
    assert!(
        members
            .iter()
            .any(|m| m.user_id == *v && m.role == Role::Owner as i32),
        "{members:?}"
    );
    assert!(!members.iter().any(|m| m.user_id == attacker.user_id));
}

async fn superuser_execute_sql(su: &DatabaseConnection, sql: &str) {
    su.execute_unprepared(sql).await.expect("superuser setup");
}
