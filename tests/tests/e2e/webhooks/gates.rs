//! The ingress's database gates refuse everyone they are not for, at the
//! SQL level: the app role cannot call the service gates, the service role
//! reads signing-secret fields only and cannot rotate, and only owners and
//! admins retire a signing secret.

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
    let gates = [
        format!("SELECT * FROM webhook_signing_secrets({id}, 'github', 'webhook_signing_secret')"),
        format!(
            "SELECT record_webhook_event({id}, 'github', gen_random_uuid(), 'forged', '', NULL, '', \
             '\\x7b7d'::bytea)"
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
        let sql = format!("SELECT * FROM webhook_signing_secrets({id}, 'github', '{field}')");
        let (err, _) = run(&service, &sql).await;
        c.that(
            err.contains("not a signing secret field"),
            &format!("the service role reads {field}: {err:?}"),
        );
    }
    let (err, rows) = run(
        &service,
        &format!("SELECT * FROM webhook_signing_secrets({id}, 'stripe', 'webhook_signing_secret')"),
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
