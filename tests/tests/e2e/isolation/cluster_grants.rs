//! Grants that reach the whole cluster, each given to a runtime role on a
//! cluster of this test's own (on the shared test cluster they would stop
//! every other test's server): SET and ALTER SYSTEM on the pinned caller's
//! parameter, SUPERUSER, BYPASSRLS, CREATEROLE, REPLICATION, membership of
//! a server-file role, CREATE on the database and on schema public, and a
//! login role that becomes the app role at login (`SET role`) with a risky
//! attribute of its own. Each stops `ochre serve` with its finding and its
//! fix; once fixed, the server serves.

use ochre_server::pg::{APP_ROLE, OWNER_ROLE, SERVICE_ROLE};
use ochre_tests::{fresh_secrets, ochre_bin};
use sea_orm::{ConnectionTrait as _, DatabaseConnection};
use secrecy::ExposeSecret as _;

use super::unsafe_roles::serve_with;
use crate::faults::OwnCluster;

/// A login role of this test that becomes the app role when it connects.
const LOGIN: &str = "ochre_login";
const LOGIN_PASSWORD: &str = "LoginRolePassword0123456789abcdef";

/// `ochre serve` on the cluster's database `ochre`, its app pool connecting
/// with `app_url`.
fn ochre_on(own: &OwnCluster, app_url: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(ochre_bin());
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", own.url(OWNER_ROLE))
        .env("OCHRE_APP_DATABASE_URL", app_url)
        .env("OCHRE_SERVICE_DATABASE_URL", own.url(SERVICE_ROLE))
        .envs(fresh_secrets());
    command
}

async fn run(su: &DatabaseConnection, sql: &str) {
    su.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The mis-grant, its fix, and the finding `ochre serve` must print.
const CASES: &[(&str, &str, &str)] = &[
    (
        "GRANT SET ON PARAMETER backtrace_functions TO ochre_app",
        "REVOKE SET ON PARAMETER backtrace_functions FROM ochre_app",
        "ochre_app may set backtrace_functions, the parameter that holds the verified caller \
         (REVOKE SET ON PARAMETER backtrace_functions FROM ochre_app, PUBLIC)",
    ),
    (
        "GRANT ALTER SYSTEM ON PARAMETER backtrace_functions TO ochre_app",
        "REVOKE ALTER SYSTEM ON PARAMETER backtrace_functions FROM ochre_app",
        "ochre_app may set backtrace_functions for the whole server with ALTER SYSTEM \
         (REVOKE ALTER SYSTEM ON PARAMETER backtrace_functions FROM ochre_app, PUBLIC)",
    ),
    (
        "ALTER ROLE ochre_app SUPERUSER",
        "ALTER ROLE ochre_app NOSUPERUSER",
        "ochre_app is a superuser, which no policy binds (ALTER ROLE ochre_app NOSUPERUSER)",
    ),
    (
        "ALTER ROLE ochre_app BYPASSRLS",
        "ALTER ROLE ochre_app NOBYPASSRLS",
        "ochre_app has BYPASSRLS, which no policy binds (ALTER ROLE ochre_app NOBYPASSRLS)",
    ),
    (
        "ALTER ROLE ochre_service BYPASSRLS",
        "ALTER ROLE ochre_service NOBYPASSRLS",
        "ochre_service has BYPASSRLS, which no policy binds (ALTER ROLE ochre_service NOBYPASSRLS)",
    ),
    (
        "ALTER ROLE ochre_app CREATEROLE",
        "ALTER ROLE ochre_app NOCREATEROLE",
        "ochre_app may create roles and grant itself others (ALTER ROLE ochre_app NOCREATEROLE)",
    ),
    (
        "ALTER ROLE ochre_app REPLICATION",
        "ALTER ROLE ochre_app NOREPLICATION",
        "ochre_app may stream every row by replication (ALTER ROLE ochre_app NOREPLICATION)",
    ),
    (
        "GRANT pg_read_server_files TO ochre_app",
        "REVOKE pg_read_server_files FROM ochre_app",
        "pg_read_server_files (which ochre_app can become) runs programs or reads and writes \
         files as the database server (REVOKE pg_read_server_files FROM ochre_app)",
    ),
    (
        "GRANT CREATE ON DATABASE ochre TO ochre_app",
        "REVOKE CREATE ON DATABASE ochre FROM ochre_app",
        "ochre_app may create schemas (REVOKE CREATE ON DATABASE ochre FROM ochre_app, PUBLIC)",
    ),
    (
        "GRANT CREATE ON SCHEMA public TO ochre_app",
        "REVOKE CREATE ON SCHEMA public FROM ochre_app",
        "ochre_app may create objects in schema public \
         (REVOKE CREATE ON SCHEMA public FROM ochre_app, PUBLIC)",
    ),
];

#[tokio::test]
async fn each_cluster_wide_grant_to_a_runtime_role_stops_the_server_until_it_is_revoked() {
    let own = OwnCluster::start().await;
    let cluster = own.cluster.as_ref().expect("the cluster is up");
    let su = sea_orm::Database::connect(cluster.superuser_url("ochre").expose_secret())
        .await
        .expect("superuser");
    let app_url = own.url(APP_ROLE);
    serve_with(ochre_on(&own, &app_url))
        .await
        .expect("the bootstrapped roles serve");
    let mut wrong = Vec::new();
    for (grant, fix, finding) in CASES {
        run(&su, grant).await;
        match serve_with(ochre_on(&own, &app_url)).await {
            Ok(()) => wrong.push(format!("{grant}: served")),
            Err(printed) if !printed.contains(finding) => {
                wrong.push(format!("{grant}: no {finding:?} in\n{printed}"));
            }
            Err(_) => {}
        }
        run(&su, fix).await;
    }
    assert!(wrong.is_empty(), "{wrong:#?}");

    // A login role that becomes ochre_app as it connects: the check reads
    // the login role too (RESET ROLE returns to it).
    run(
        &su,
        &format!(
            "CREATE ROLE {LOGIN} LOGIN NOINHERIT CREATEROLE PASSWORD '{LOGIN_PASSWORD}'; \
             GRANT CONNECT ON DATABASE ochre TO {LOGIN}; \
             GRANT {APP_ROLE} TO {LOGIN}; ALTER ROLE {LOGIN} SET role = '{APP_ROLE}'"
        ),
    )
    .await;
    let login_url = cluster.url(LOGIN, LOGIN_PASSWORD, "ochre");
    let printed = serve_with(ochre_on(&own, login_url.expose_secret()))
        .await
        .expect_err("refused");
    let finding = format!(
        "{LOGIN} (which {APP_ROLE} can become) may create roles and grant itself others \
         (log in as {APP_ROLE} itself)"
    );
    assert!(printed.contains(&finding), "{printed}");
    assert!(!printed.contains(LOGIN_PASSWORD), "{printed}");
    run(&su, &format!("ALTER ROLE {LOGIN} NOCREATEROLE")).await;
    serve_with(ochre_on(&own, login_url.expose_secret()))
        .await
        .expect("the login role without CREATEROLE serves as ochre_app");
    serve_with(ochre_on(&own, &app_url))
        .await
        .expect("every grant revoked, the server serves");
}
