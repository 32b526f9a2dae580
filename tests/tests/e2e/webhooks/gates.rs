//! The ingress's database gates refuse everyone they are not for, at the
//! SQL level: the app role cannot call the service gates, the service role
//! reads signing-secret fields only and cannot rotate, the service gates
//! find an integration only under its own org, and only owners and admins
//! retire a signing secret.

use ochre_server::pg;
use ochre_tests::prelude::*;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait as _};

use super::{
    providers::P,
    rpc::{connect_hook, new_org},
};

/// The error text of `sql` on `db` ("" when it succeeded), and its rows.
async fn run(db: &impl ConnectionTrait, sql: &str) -> (String, usize) {
    match db
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
    {
        Ok(rows) => (String::new(), rows.len()),
        Err(e) => (e.to_string(), 0),
    }
}

async fn service_db(app: &TestApp) -> DatabaseConnection {
    app.cluster.connect(pg::SERVICE_ROLE, &app.database).await
}

#[tokio::test]
async fn only_the_service_role_reaches_the_ingress_gates_and_only_for_signing_fields() {
    let app = spawn_app().await;
    let org = new_org(&app, "Gates").await;
    let integration = connect_hook(&app, &org, P::GitHub, &P::GitHub.new_secret()).await;
    let id = format!("'{integration}'::uuid");
    let pair = format!("'{}'::uuid, {id}", org.id);
    let gates = [
        format!(
            "SELECT * FROM webhook_signing_secrets({pair}, 'github', 'webhook_signing_secret')"
        ),
        format!(
            "SELECT record_webhook_event({pair}, 'github', gen_random_uuid(), 'forged', '', NULL, \
             '', '\\x7b7d'::bytea)"
        ),
        "SELECT purge_expired()".to_owned(),
    ];
    let mut c = Checks::default();
    let app_db = app.app_db().await;
    for sql in &gates {
        let (err, _) = run(&app_db, sql).await;
        c.that(
            err.contains("permission denied"),
            &format!("ochre_app runs {sql}: {err:?}"),
        );
    }
    let service = service_db(&app).await;
    let (err, rows) = run(&service, &gates[0]).await;
    c.that(
        err.is_empty() && rows == 1,
        &format!("the gate reads the signing secret: {err:?} {rows}"),
    );
    for field in [
        "access_token",
        "refresh_token",
        "api_key",
        "webhook_signing_secret.previous",
    ] {
        let sql = format!("SELECT * FROM webhook_signing_secrets({pair}, 'github', '{field}')");
        let (err, _) = run(&service, &sql).await;
        c.that(
            err.contains("not a signing secret field"),
            &format!("the service role reads {field}: {err:?}"),
        );
    }
    let (err, rows) = run(
        &service,
        &format!(
            "SELECT * FROM webhook_signing_secrets({pair}, 'stripe', 'webhook_signing_secret')"
        ),
    )
    .await;
    c.that(
        err.is_empty() && rows == 0,
        "another provider's path finds nothing",
    );
    let (err, _) = run(
        &service,
        &format!("SELECT retire_signing_secret({id}, 'webhook_signing_secret')"),
    )
    .await;
    c.that(
        err.contains("permission denied"),
        &format!("the service role rotates a secret: {err:?}"),
    );
    c.verify();
}

#[tokio::test]
async fn only_owners_and_admins_retire_a_signing_secret_and_only_in_their_org() {
    let app = spawn_app().await;
    let org = new_org(&app, "Retire").await;
    let other = new_org(&app, "Other").await;
    let integration = connect_hook(&app, &org, P::GitHub, &P::GitHub.new_secret()).await;
    let agent = add_member(&app, &org.owner, &org.id, Role::Agent).await;
    let admin = add_member(&app, &org.owner, &org.id, Role::Admin).await;
    let app_db = app.app_db().await;
    let retire = format!("SELECT retire_signing_secret('{integration}', 'webhook_signing_secret')");
    let previous = |db: DatabaseConnection| async move {
        run(
            &db,
            "SELECT 1 FROM integration_secrets WHERE field = 'webhook_signing_secret.previous'",
        )
        .await
        .1
    };
    let mut c = Checks::default();
    // (caller, org, must succeed)
    for (who, user, org_id, allowed) in [
        ("agent", &agent, &org.id, false),
        ("owner of another org", &other.owner, &org.id, false),
        (
            "other org's owner in their own org",
            &other.owner,
            &other.id,
            true,
        ),
        ("admin", &admin, &org.id, true),
    ] {
        // The caller presents their own session; the database decides.
        let tx = app_db.begin().await.unwrap();
        let cred = Credential::of_access_token(&user.access_token);
        verify(&tx, &cred, org_of(org_id), "").await;
        let (err, _) = run(&tx, &retire).await;
        tx.commit().await.unwrap();
        if allowed {
            c.that(err.is_empty(), &format!("{who}: {err:?}"));
        } else {
            c.that(
                err.contains("only owners and admins"),
                &format!("{who} retires a signing secret: {err:?}"),
            );
        }
    }
    // The other org's owner, in their own org, touched nothing of this one;
    // the admin's call did retire it.
    c.eq("retired rows", previous(app.superuser_db().await).await, 1);
    c.verify();
}

#[tokio::test]
async fn the_gates_find_an_integration_only_under_its_own_org() {
    let app = spawn_app().await;
    let org = new_org(&app, "Own").await;
    let other = new_org(&app, "Other").await;
    let integration = connect_hook(&app, &org, P::GitHub, &P::GitHub.new_secret()).await;
    connect_hook(&app, &other, P::GitHub, &P::GitHub.new_secret()).await;
    let service = service_db(&app).await;
    let mut c = Checks::default();
    for (what, org_id, found, outcome) in [
        ("its own org", &org.id, 1, "stored"),
        (
            "another org with a GitHub integration",
            &other.id,
            0,
            "gone",
        ),
    ] {
        let pair = format!("'{org_id}'::uuid, '{integration}'::uuid");
        let secrets = format!(
            "SELECT * FROM webhook_signing_secrets({pair}, 'github', 'webhook_signing_secret')"
        );
        let (err, rows) = run(&service, &secrets).await;
        c.that(
            err.is_empty() && rows == found,
            &format!("{what}: signing secrets {err:?} {rows}"),
        );
        let record = format!(
            "SELECT record_webhook_event({pair}, 'github', gen_random_uuid(), 'd-{org_id}', '', \
             NULL, '', '\\x7b7d'::bytea)"
        );
        let answer = service
            .query_one_raw(Statement::from_string(DbBackend::Postgres, record))
            .await
            .unwrap()
            .and_then(|r| r.try_get_by_index::<String>(0).ok());
        c.eq(
            &format!("{what}: recorded"),
            answer.as_deref(),
            Some(outcome),
        );
    }
    let su = app.superuser_db().await;
    let stored = su
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT org_id::text FROM webhook_events",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect::<Vec<_>>();
    c.eq("stored in", stored, vec![org.id.clone()]);
    c.verify();
}
