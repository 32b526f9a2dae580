//! The admin listener: `/live`, `/ready` (503 on an unmigrated database),
//! 404 elsewhere, the bearer token when `OCHRE_ADMIN_TOKEN` is set, and the
//! start refused when it is bound off loopback without one.

use std::{process::Command, time::Duration};

use ochre_tests::{admin::admin_get, fresh_secrets, ochre_bin, prelude::*};

/// Polls `/ready` until it answers `want` (10 s at most); the last status.
async fn ready_status(addr: std::net::SocketAddr, want: u16) -> u16 {
    let mut status = 0;
    for _ in 0..50 {
        status = admin_get(addr, "/ready", None).await.status;
        if status == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    status
}

#[tokio::test]
async fn the_admin_port_answers_live_and_ready_and_404_for_anything_else() {
    let app = spawn_app().await;
    let admin = app.admin();
    let mut c = Checks::default();
    c.eq("/live", admin_get(admin, "/live", None).await.status, 200);
    c.eq("/ready", ready_status(admin, 200).await, 200);
    c.eq("/nope", admin_get(admin, "/nope", None).await.status, 404);
    c.that(
        admin_get(admin, "/metrics", None)
            .await
            .text
            .contains("ochre_build_info"),
        "/metrics renders the families",
    );
    c.that(admin != app.addr, "the admin port is not the public port");
    c.verify();
}

#[tokio::test]
async fn ready_is_503_while_the_schema_is_not_migrated_and_live_stays_200() {
    let app = spawn_app_with(AppOptions {
        migrated: false,
        ..AppOptions::default()
    })
    .await;
    let admin = app.admin();
    // Give the health loop its first rounds.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(admin_get(admin, "/ready", None).await.status, 503);
    assert_eq!(admin_get(admin, "/live", None).await.status, 200);
}

#[tokio::test]
async fn with_an_admin_token_every_admin_route_needs_it_as_bearer() {
    let token = format!("FAKE-admin-token-{}", random_secret(24));
    let app = spawn_app_with(AppOptions {
        vars: vec![("OCHRE_ADMIN_TOKEN", token.clone())],
        ..AppOptions::default()
    })
    .await;
    let admin = app.admin();
    // The token with its last character changed (to one it is not: a
    // random token ending in `x` once made this "near miss" the token).
    let swap = if token.ends_with('x') { 'y' } else { 'x' };
    let near_miss = format!("{}{swap}", &token[..token.len() - 1]);
    let mut c = Checks::default();
    for path in ["/metrics", "/live", "/ready"] {
        for (what, bearer) in [
            ("no bearer", None),
            ("the cron secret", Some(app.cron_secret.as_str())),
            ("same length, wrong", Some(near_miss.as_str())),
        ] {
            let answer = admin_get(admin, path, bearer).await;
            c.eq(&format!("{path}, {what}"), answer.status, 401);
            c.that(
                !answer.text.contains("ochre_"),
                &format!("{path}, {what}: nothing in the refusal"),
            );
        }
    }
    let answer = admin_get(admin, "/metrics", Some(&token)).await;
    c.eq("/metrics with the token", answer.status, 200);
    c.that(
        answer.text.contains("ochre_build_info"),
        "the metrics with the token",
    );
    c.eq(
        "/live with the token",
        admin_get(admin, "/live", Some(&token)).await.status,
        200,
    );
    c.verify();
}

fn serve_with(vars: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(ochre_bin());
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", "postgres://FAKE@127.0.0.1:1/nothing")
        .env(
            "OCHRE_APP_DATABASE_URL",
            "postgres://FAKE@127.0.0.1:1/nothing",
        )
        .env(
            "OCHRE_SERVICE_DATABASE_URL",
            "postgres://FAKE@127.0.0.1:1/nothing",
        )
        .envs(fresh_secrets());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run ochre");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_admin_address_off_loopback_without_a_token_stops_the_start_naming_the_variable() {
    let (code, stderr) = serve_with(&[("OCHRE_ADMIN_ADDR", "0.0.0.0:0")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("OCHRE_ADMIN_TOKEN"), "{stderr}");

    let (code, stderr) = serve_with(&[
        ("OCHRE_ADMIN_ADDR", "0.0.0.0:0"),
        ("OCHRE_ADMIN_TOKEN", "FAKE-too-short"),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("OCHRE_ADMIN_TOKEN"), "{stderr}");
    assert!(!stderr.contains("FAKE-too-short"), "{stderr}");

    let (code, stderr) = serve_with(&[("OCHRE_ADMIN_ADDR", "not an address")]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("OCHRE_ADMIN_ADDR"), "{stderr}");
}
