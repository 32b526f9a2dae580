//! The parameter that holds a transaction's verified caller
//! (`backtrace_functions`, 0001_foundation) under attack. Only the owner
//! role may set it; connected as `ochre_app` or `ochre_service` with the
//! password, no route sets or edits it (a genuine owner's value replayed,
//! a verified agent's value edited to say owner; RESET ALL only unpins),
//! the caller a credential pinned ends with its transaction, one statement
//! or cursor never reads two callers (the security review's mix of one
//! pin's org with another's role). The protocol-level attacks are in
//! `portals`, temporary tables in `temporary`.

use super::text;
use ochre_server::pg::{APP_ROLE, OWNER_ROLE, PINNED_CALLER_PARAMETER, SERVICE_ROLE};
use ochre_tests::{
    cluster::cluster,
    prelude::{Credential, become_caller},
    sqlmatrix::{SeedOrg, seed_org},
};
use sea_orm::{
    ConnectOptions, ConnectionTrait as _, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, Statement, TransactionTrait as _,
};
use secrecy::ExposeSecret as _;

/// The pinned caller of `tx`, as the parameter holds it.
async fn pinned(tx: &impl sea_orm::ConnectionTrait) -> String {
    text(
        tx,
        &format!("SELECT current_setting('{PINNED_CALLER_PARAMETER}') AS v"),
    )
    .await
    .unwrap()
}

/// A transaction on `app` in which `role` of `org` is the verified caller.
async fn verified(app: &DatabaseConnection, org: &SeedOrg, role: &str) -> DatabaseTransaction {
    let tx = app.begin().await.unwrap();
    become_caller(&tx, &Credential::seeded_user(org.user(role)), Some(org.id)).await;
    tx
}

/// The refusal of a parameter the role has no right to set.
const NO_RIGHT_TO_SET: &str = "permission denied to set parameter \"backtrace_functions\"";

/// Every way a connected role might set `value` as the pinned caller, each
/// with the refusal it must meet.
fn routes(role: &str, db: &str, value: &str) -> Vec<(String, &'static str)> {
    let p = PINNED_CALLER_PARAMETER;
    vec![
        (
            format!("SELECT set_config('{p}', '{value}', true)"),
            NO_RIGHT_TO_SET,
        ),
        (
            format!("SELECT set_config('{p}', '{value}', false)"),
            NO_RIGHT_TO_SET,
        ),
        (format!("SET LOCAL {p} = '{value}'"), NO_RIGHT_TO_SET),
        (format!("SET {p} = '{value}'"), NO_RIGHT_TO_SET),
        (format!("RESET {p}"), NO_RIGHT_TO_SET),
        (
            format!("UPDATE pg_settings SET setting = '{value}' WHERE name = '{p}'"),
            NO_RIGHT_TO_SET,
        ),
        (
            format!("DO $$ BEGIN PERFORM set_config('{p}', '{value}', true); END $$"),
            NO_RIGHT_TO_SET,
        ),
        (
            format!("ALTER ROLE {role} SET {p} = '{value}'"),
            NO_RIGHT_TO_SET,
        ),
        (
            format!("ALTER ROLE {role} IN DATABASE \"{db}\" SET {p} = '{value}'"),
            NO_RIGHT_TO_SET,
        ),
        (
            format!("ALTER DATABASE \"{db}\" SET {p} = '{value}'"),
            "must be owner of database",
        ),
        (
            "SELECT pin_caller(ROW(NULL, NULL, NULL, NULL, 'owner')::caller)".to_owned(),
            "permission denied for function pin_caller",
        ),
    ]
}

/// Runs `sql` in `tx` inside a savepoint (rolled back after): `Ok` when it
/// failed with an error that says `expected`.
async fn refused_in(tx: &DatabaseTransaction, sql: &str, expected: &str) -> Result<(), String> {
    tx.execute_unprepared("SAVEPOINT probe").await.unwrap();
    let got = tx.execute_unprepared(sql).await;
    tx.execute_unprepared("ROLLBACK TO SAVEPOINT probe")
        .await
        .unwrap();
    match got {
        Err(e) if e.to_string().contains(expected) => Ok(()),
        Err(e) => Err(format!("{sql}: {e} (expected: {expected})")),
        Ok(_) => Err(format!("{sql}: accepted")),
    }
}

/// Every route of `routes` that was not refused as it must be.
async fn unrefused(tx: &DatabaseTransaction, routes: &[(String, &str)]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (sql, expected) in routes {
        if let Err(e) = refused_in(tx, sql, expected).await {
            wrong.push(e);
        }
    }
    wrong
}

/// Of the roles that may connect to the database, superusers aside.
#[tokio::test]
async fn only_the_owner_role_may_set_the_parameter_that_holds_the_pinned_caller() {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let rows = su
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT rolname::text AS v FROM pg_roles \
                  WHERE NOT rolsuper AND has_database_privilege(oid, current_database(), 'CONNECT') \
                    AND has_parameter_privilege(oid, '{PINNED_CALLER_PARAMETER}', 'SET') \
                  ORDER BY 1"
            ),
        ))
        .await
        .unwrap();
    let allowed: Vec<String> = rows.iter().map(|r| r.try_get("", "v").unwrap()).collect();
    assert_eq!(allowed, [OWNER_ROLE]);
}

#[tokio::test]
async fn no_route_lets_the_app_role_replay_or_edit_a_pinned_caller() {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let victim = seed_org(&su, "victim").await;
    let app = c.connect(APP_ROLE, &name).await;
    // A genuine owner's value, copied out of the transaction it was made in.
    let tx = verified(&app, &victim, "owner").await;
    let owners = pinned(&tx).await;
    tx.commit().await.unwrap();
    assert!(owners.ends_with(",owner"), "{owners}");

    // Nobody pinned: replaying the owner's value is refused.
    let tx = app.begin().await.unwrap();
    let wrong = unrefused(&tx, &routes(APP_ROLE, &name, &owners)).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    let nobody = text(&tx, "SELECT app_org()::text AS v").await;
    assert_eq!(nobody, None);
    tx.rollback().await.unwrap();

    // A verified agent: editing its own value to say owner is refused, and
    // it stays exactly the agent it was.
    let tx = verified(&app, &victim, "agent").await;
    let agents = pinned(&tx).await;
    assert!(agents.ends_with(",agent"), "{agents}");
    let edited = format!("{},owner", agents.trim_end_matches(",agent"));
    let wrong = unrefused(&tx, &routes(APP_ROLE, &name, &edited)).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(pinned(&tx).await, agents);
    let role = text(&tx, "SELECT app_role() AS v").await;
    assert_eq!(role.as_deref(), Some("agent"));
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn no_route_lets_the_service_role_pin_a_caller() {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let victim = seed_org(&su, "victim").await;
    let owner = victim.user("owner").simple().to_string();
    let value = format!("ochre_v1,{},{owner},,,owner", victim.id.simple());
    let service = c.connect(SERVICE_ROLE, &name).await;
    let tx = service.begin().await.unwrap();
    let wrong = unrefused(&tx, &routes(SERVICE_ROLE, &name, &value)).await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(pinned(&tx).await, "");
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_connection_option_cannot_pin_a_caller_for_a_whole_session() {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let victim = seed_org(&su, "victim").await;
    let value = format!("ochre_v1,{},,,,owner", victim.id.simple());
    for role in [APP_ROLE, SERVICE_ROLE] {
        let url = format!(
            "{}?options=-c%20{PINNED_CALLER_PARAMETER}%3D{value}",
            c.url(role, &name).expose_secret()
        );
        let refused = Database::connect(url).await.err().map(|e| e.to_string());
        assert!(
            refused
                .as_deref()
                .is_some_and(|e| e.contains("permission denied to set parameter")),
            "{role}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn a_pinned_caller_ends_with_its_transaction_or_savepoint() {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let victim = seed_org(&su, "victim").await;
    // One connection, so every transaction below is on the same backend.
    let mut one = ConnectOptions::new(c.url(APP_ROLE, &name).expose_secret().to_owned());
    one.max_connections(1).min_connections(1);
    let app = Database::connect(one).await.unwrap();
    let (org, pid) = (
        "SELECT app_org()::text AS v",
        "SELECT pg_backend_pid()::text AS v",
    );
    let customers = "SELECT count(*)::text AS v FROM customers";
    let tx = verified(&app, &victim, "owner").await;
    let backend = text(&tx, pid).await;
    assert_eq!(text(&tx, org).await, Some(victim.id.to_string()));
    assert_ne!(text(&tx, customers).await.as_deref(), Some("0"));
    tx.commit().await.unwrap();
    // Committed: the next transaction on the same backend is nobody.
    let tx = app.begin().await.unwrap();
    assert_eq!(text(&tx, pid).await, backend);
    assert_eq!(text(&tx, org).await, None);
    assert_eq!(text(&tx, customers).await.as_deref(), Some("0"));
    // Pinned after a savepoint, rolled back to it: nobody again.
    tx.execute_unprepared("SAVEPOINT before").await.unwrap();
    let owner = Credential::seeded_user(victim.user("owner"));
    become_caller(&tx, &owner, Some(victim.id)).await;
    assert_eq!(text(&tx, org).await, Some(victim.id.to_string()));
    tx.execute_unprepared("ROLLBACK TO SAVEPOINT before")
        .await
        .unwrap();
    assert_eq!(text(&tx, org).await, None);
    assert_eq!(text(&tx, customers).await.as_deref(), Some("0"));
    tx.rollback().await.unwrap();
}

/// The victim org and the attacker of [`super::agent_who_owns_another_org`]:
/// the app pool, the victim, the attacker's org and the attacker's
/// credential.
async fn agent_who_owns_another_org() -> (DatabaseConnection, SeedOrg, uuid::Uuid, Credential) {
    let (name, victim, own) = super::agent_who_owns_another_org().await;
    let app = cluster().await.connect(APP_ROLE, &name).await;
    let agent = Credential::seeded_user(victim.user("agent"));
    (app, victim, own, agent)
}

/// The identity call of `cred` in `org` as SQL text (seeded sessions only).
fn verify_sql(cred: &Credential, org: &str) -> String {
    let Credential::Session { session, proof } = cred else {
        panic!("a session")
    };
    let hex: String = proof.iter().map(|b| format!("{b:02x}")).collect();
    format!("verify_session('{session}', '\\x{hex}'::bytea, {org}, '')")
}

/// The refusal of a second caller.
const SECOND_CALLER: &str = "one identity call per transaction, before any cursor";

/// The security review's mix: in one statement, the org of the agent's
/// pin in the victim org fixes a policy's first InitPlan, then a second
/// identity call pins the same person as owner of its own org and the
/// role InitPlan reads "owner". The second call is refused outright.
#[tokio::test]
async fn a_second_identity_call_in_the_same_statement_is_refused() {
    let (app, victim, own, agent) = agent_who_owns_another_org().await;
    let (a, b) = (format!("'{}'::uuid", victim.id), format!("'{own}'::uuid"));
    let mix = format!(
        "SELECT k.id FROM (VALUES (1, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid), \
                                  (2, '00000000-0000-0000-0000-000000000000'::uuid)) v(n, lo) \
         CROSS JOIN LATERAL {} vs \
         CROSS JOIN LATERAL (SELECT a.id FROM api_keys a \
              WHERE a.id >= CASE WHEN vs.verdict = 'ok' THEN v.lo END OFFSET 0) k",
        verify_sql(&agent, &format!("CASE v.n WHEN 1 THEN {a} ELSE {b} END"))
    );
    let tx = app.begin().await.unwrap();
    for plan in ["enable_seqscan", "enable_bitmapscan"] {
        tx.execute_unprepared(&format!("SET LOCAL {plan} = off"))
            .await
            .unwrap();
    }
    refused_in(&tx, &mix, SECOND_CALLER).await.unwrap();
    // One statement after the other: the second is refused too.
    tx.execute_unprepared(&format!("SELECT * FROM {}", verify_sql(&agent, &a)))
        .await
        .unwrap();
    refused_in(
        &tx,
        &format!("SELECT * FROM {}", verify_sql(&agent, &b)),
        SECOND_CALLER,
    )
    .await
    .unwrap();
    // The agent alone sees none of the admin-only keys.
    let keys = text(&tx, "SELECT count(*)::text AS v FROM api_keys").await;
    assert_eq!(keys.as_deref(), Some("0"));
    tx.rollback().await.unwrap();
}

/// A cursor keeps its InitPlans between fetches: unpinning (RESET ALL, or
/// a rollback to a savepoint) and pinning another caller while one is open
/// is refused, so no fetch reads two callers.
#[tokio::test]
async fn no_second_caller_is_pinned_while_a_cursor_is_open() {
    let (app, victim, own, agent) = agent_who_owns_another_org().await;
    let (a, b) = (format!("'{}'::uuid", victim.id), format!("'{own}'::uuid"));
    let second = format!("SELECT * FROM {}", verify_sql(&agent, &b));
    let cursor = "DECLARE c CURSOR FOR SELECT v.n, k.id FROM (VALUES (1), (2)) v(n) \
                  LEFT JOIN LATERAL (SELECT a.id FROM api_keys a WHERE v.n = 2) k ON true";

    // Pinned, a cursor opened and fetched, unpinned with RESET ALL.
    let tx = app.begin().await.unwrap();
    tx.execute_unprepared(&format!("SELECT * FROM {}", verify_sql(&agent, &a)))
        .await
        .unwrap();
    tx.execute_unprepared(cursor).await.unwrap();
    tx.execute_unprepared("FETCH 1 FROM c").await.unwrap();
    tx.execute_unprepared("RESET ALL").await.unwrap();
    assert_eq!(pinned(&tx).await, "", "RESET ALL unpins: nobody");
    refused_in(&tx, &second, SECOND_CALLER).await.unwrap();
    tx.rollback().await.unwrap();

    // A cursor opened first, the caller pinned under a savepoint, rolled
    // back: the cursor is still open, so no second caller.
    let tx = app.begin().await.unwrap();
    tx.execute_unprepared(cursor).await.unwrap();
    tx.execute_unprepared("SAVEPOINT s").await.unwrap();
    refused_in(
        &tx,
        &format!("SELECT * FROM {}", verify_sql(&agent, &a)),
        SECOND_CALLER,
    )
    .await
    .unwrap();
    tx.execute_unprepared("ROLLBACK TO SAVEPOINT s")
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    // Without a cursor, unpinning and pinning again is allowed: every
    // statement reads one caller.
    let tx = app.begin().await.unwrap();
    tx.execute_unprepared(&format!("SELECT * FROM {}", verify_sql(&agent, &a)))
        .await
        .unwrap();
    tx.execute_unprepared("RESET ALL").await.unwrap();
    tx.execute_unprepared(&second).await.unwrap();
    let org = text(&tx, "SELECT app_org()::text AS v").await;
    assert_eq!(org, Some(own.to_string()));
    tx.rollback().await.unwrap();
}
