//! The server refuses to serve when a runtime role could step around
//! row-level security (an operator's mis-grant, the owner's URL given as
//! the app's): `ochre serve` exits, naming the role, what it may do and the
//! REVOKE that fixes it, and serves once the grant is gone; a grant made
//! while it runs turns its health NOT_SERVING until it is revoked. (The
//! cluster-wide grants: `cluster_grants`.)

use std::process::Stdio;

use ochre_server::pg::{APP_ROLE, OWNER_ROLE};
use ochre_tests::process::health_becomes;
use ochre_tests::{ochre_against, prelude::*};
use sea_orm::ConnectionTrait as _;
use secrecy::ExposeSecret as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tonic_health::pb::health_check_response::ServingStatus;

/// How long health may take to change: the probe runs every 5 s while
/// serving.
const WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

/// What `ochre serve` on `app`'s database, with `app_role` as its app
/// role, did (see [`serve_with`]).
async fn serve(app: &TestApp, app_role: &str) -> Result<(), String> {
    let mut command = ochre_against(app);
    command.env(
        "OCHRE_APP_DATABASE_URL",
        app.cluster.url(app_role, &app.database).expose_secret(),
    );
    serve_with(command).await
}

/// What `command` (an `ochre` with its databases and secrets set) did when
/// asked to serve: `Ok(())` once it listened (then it is stopped), or its
/// standard error when it exited first.
pub(super) async fn serve_with(mut command: tokio::process::Command) -> Result<(), String> {
    command
        .env("OCHRE_LISTEN_ADDR", "127.0.0.1:0")
        .env("OCHRE_ADMIN_ADDR", "off")
        .env("OCHRE_MIGRATE_ON_START", "false")
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("run ochre serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("read stderr") {
            if line.contains("ochre listening") {
                return true;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        false
    };
    let listened = tokio::time::timeout(std::time::Duration::from_secs(60), read)
        .await
        .expect("ochre serve neither listened nor exited within 60 s");
    let _ = child.kill().await;
    if listened { Ok(()) } else { Err(seen) }
}

#[tokio::test]
async fn an_app_role_that_may_create_temporary_tables_stops_the_server_naming_the_revoke() {
    let app = spawn_app().await;
    let su = app.superuser_db().await;
    let grant = format!("ON DATABASE \"{}\" TO {APP_ROLE}", app.database);
    su.execute_unprepared(&format!("GRANT TEMPORARY {grant}"))
        .await
        .unwrap();
    let refused = serve(&app, APP_ROLE).await.expect_err("refused");
    let finding = format!(
        "{APP_ROLE} may create temporary tables (REVOKE TEMPORARY ON DATABASE {} FROM {APP_ROLE}, PUBLIC)",
        app.database
    );
    assert!(refused.contains("refusing to serve"), "{refused}");
    assert!(refused.contains(&finding), "{refused}");
    // Revoked as it says: the server serves.
    su.execute_unprepared(&format!(
        "REVOKE TEMPORARY ON DATABASE \"{}\" FROM {APP_ROLE}, PUBLIC",
        app.database
    ))
    .await
    .unwrap();
    serve(&app, APP_ROLE).await.unwrap();
}

#[tokio::test]
async fn the_owner_roles_url_given_as_the_apps_stops_the_server_without_printing_it() {
    let app = spawn_app().await;
    let refused = serve(&app, OWNER_ROLE).await.expect_err("refused");
    for finding in [
        "ochre_owner may set backtrace_functions, the parameter that holds the verified caller",
        "ochre_owner owns tables, whose policies an owner can turn off",
        "ochre_owner may create temporary tables",
    ] {
        assert!(refused.contains(finding), "{finding}: {refused}");
    }
    let url = app.cluster.url(OWNER_ROLE, &app.database);
    let password = url.expose_secret().split(['@', ':']).nth(2).unwrap_or("");
    assert!(
        password.len() > 8 && !refused.contains(password),
        "{refused}"
    );
}

#[tokio::test]
async fn an_app_role_that_can_become_a_role_with_a_risky_privilege_stops_the_server() {
    let app = spawn_app().await;
    let su = app.superuser_db().await;
    // A role of this test alone, with TEMPORARY on this test's database
    // only, that the app role is made a member of (NOINHERIT: SET ROLE).
    let helper = format!("t_{}", uuid::Uuid::now_v7().simple());
    su.execute_unprepared(&format!(
        "CREATE ROLE {helper} NOLOGIN; \
         GRANT TEMPORARY ON DATABASE \"{}\" TO {helper}; \
         GRANT {helper} TO {APP_ROLE};",
        app.database
    ))
    .await
    .unwrap();
    let refused = serve(&app, APP_ROLE).await;
    su.execute_unprepared(&format!(
        "REVOKE {helper} FROM {APP_ROLE}; \
         REVOKE TEMPORARY ON DATABASE \"{}\" FROM {helper}; DROP ROLE {helper};",
        app.database
    ))
    .await
    .unwrap();
    let refused = refused.expect_err("refused");
    let finding = format!(
        "{helper} (which {APP_ROLE} can become) may create temporary tables (REVOKE {helper} FROM {APP_ROLE})"
    );
    assert!(refused.contains(&finding), "{refused}");
}

#[tokio::test]
async fn a_risky_grant_made_while_the_server_runs_turns_its_health_not_serving_until_revoked() {
    let app = spawn_app().await;
    assert!(health_becomes(&app.channel, ServingStatus::Serving, WITHIN).await);
    let su = app.superuser_db().await;
    su.execute_unprepared(&format!(
        "GRANT TEMPORARY ON DATABASE \"{}\" TO {APP_ROLE}",
        app.database
    ))
    .await
    .unwrap();
    let caught = health_becomes(&app.channel, ServingStatus::NotServing, WITHIN).await;
    su.execute_unprepared(&format!(
        "REVOKE TEMPORARY ON DATABASE \"{}\" FROM {APP_ROLE}, PUBLIC",
        app.database
    ))
    .await
    .unwrap();
    assert!(
        caught,
        "health still SERVING with TEMPORARY granted to the app role"
    );
    assert!(
        health_becomes(&app.channel, ServingStatus::Serving, WITHIN).await,
        "health back to SERVING once revoked"
    );
}
