//! Temporary tables against the identity calls: even a role given TEMP on
//! the database cannot shadow what a SECURITY DEFINER function reads,
//! because every definer lists `pg_temp` last in its search_path (the
//! schema lint requires it; see
//! `schema::the_lint_fails_on_a_security_definer_function_without_a_search_path_ending_in_pg_temp`).

use super::text;
use ochre_server::pg::APP_ROLE;
use ochre_tests::{cluster::cluster, prelude::Credential, sqlmatrix::seed_org};
use sea_orm::{ConnectionTrait as _, TransactionTrait as _};

#[tokio::test]
async fn temporary_tables_do_not_shadow_what_an_identity_call_reads() {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let victim = seed_org(&su, "victim").await;
    su.execute_unprepared(&format!("GRANT TEMP ON DATABASE \"{name}\" TO {APP_ROLE}"))
        .await
        .unwrap();
    let app = c.connect(APP_ROLE, &name).await;
    let (owner, session) = (victim.user("owner"), uuid::Uuid::now_v7());
    let tx = app.begin().await.unwrap();
    tx.execute_unprepared(&format!(
        "CREATE TEMP TABLE sessions (id uuid, user_id uuid, revoked_at timestamptz, \
           expires_at timestamptz, proof_hash bytea, prev_proof_hash bytea, proof_rotated_at timestamptz); \
         CREATE TEMP TABLE memberships (org_id uuid, user_id uuid, role text); \
         CREATE TEMP TABLE orgs (id uuid, ip_allowlist cidr[], purge_after timestamptz, \
           purge_started_at timestamptz); \
         GRANT SELECT ON pg_temp.sessions, pg_temp.memberships, pg_temp.orgs TO PUBLIC; \
         INSERT INTO sessions VALUES ('{session}', '{owner}', NULL, 'infinity', sha256('x'::bytea)); \
         INSERT INTO memberships VALUES ('{}', '{owner}', 'owner'); \
         INSERT INTO orgs VALUES ('{}', '{{}}', NULL, NULL);",
        victim.id, victim.id
    ))
    .await
    .unwrap();
    let forged = Credential::Session {
        session,
        proof: b"x".to_vec(),
    };
    let verdict = ochre_tests::prelude::verify(&tx, &forged, Some(victim.id), "").await;
    assert_eq!(verdict, "no_credential");
    assert_eq!(text(&tx, "SELECT app_org()::text AS v").await, None);
    let users = text(&tx, "SELECT count(*)::text AS v FROM public.users").await;
    assert_eq!(users.as_deref(), Some("0"));
    tx.rollback().await.unwrap();
}
