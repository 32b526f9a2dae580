//! Configuration fails fast at start: a bad, duplicated or missing secret
//! stops `ochre serve` within seconds, naming the variable, never the value.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use ochre_tests::{ochre_bin, prelude::*};

fn run_with_env(vars: &[(&str, String)]) -> (i32, String, Duration) {
    let bin = ochre_bin();
    let started = Instant::now();
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OCHRE_ADMIN_ADDR", "127.0.0.1:0");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run ochre");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr, started.elapsed())
}

fn secrets() -> Vec<(&'static str, String)> {
    vec![
        ("OCHRE_BYOK_ENC_KEY", random_key()),
        ("OCHRE_SURVEY_TOKEN_SECRET", random_secret(32)),
        ("OCHRE_SESSION_SECRET", random_secret(32)),
        ("OCHRE_OAUTH_STATE_SECRET", random_secret(32)),
        ("OCHRE_CRON_SECRET", random_secret(32)),
        ("OCHRE_AUDIT_SIGNING_KEY", random_key()),
    ]
}

#[test]
fn a_short_vault_key_stops_the_start_within_seconds_naming_the_variable() {
    let mut vars = secrets();
    vars[0].1 = "short".to_owned();
    let (code, stderr, took) = run_with_env(&vars);
    assert_ne!(code, 0);
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(stderr.contains("OCHRE_BYOK_ENC_KEY"), "{stderr}");
    assert!(
        !stderr.contains("short\n") && !stderr.contains("\"short\""),
        "{stderr}"
    );
}

#[test]
fn a_duplicated_secret_stops_the_start_without_printing_it() {
    let mut vars = secrets();
    let same = random_secret(40);
    vars[2].1 = same.clone();
    vars[3].1 = same.clone();
    let (code, stderr, _) = run_with_env(&vars);
    assert_ne!(code, 0);
    assert!(stderr.contains("OCHRE_SESSION_SECRET") && stderr.contains("OCHRE_OAUTH_STATE_SECRET"));
    assert!(
        !stderr.contains(&same),
        "a secret leaked into the error: {stderr}"
    );
}

#[test]
fn a_missing_secret_with_database_url_stops_the_start() {
    let mut vars = secrets();
    vars.remove(1);
    vars.push(("DATABASE_URL", "postgres://o:p@127.0.0.1:1/x".to_owned()));
    vars.push((
        "OCHRE_APP_DATABASE_URL",
        "postgres://a:p@127.0.0.1:1/x".to_owned(),
    ));
    vars.push((
        "OCHRE_SERVICE_DATABASE_URL",
        "postgres://s:p@127.0.0.1:1/x".to_owned(),
    ));
    let (code, stderr, _) = run_with_env(&vars);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("OCHRE_SURVEY_TOKEN_SECRET is required"),
        "{stderr}"
    );
}
