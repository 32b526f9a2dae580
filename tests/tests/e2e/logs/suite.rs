//! The suite-wide capture: the in-process apps write through the server's
//! redaction stage into the run's log directory, and the scan finds each
//! canary in every encoding it looks for.

use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use ochre_tests::{
    logs::{CANARIES, run_dir, scan, test_name},
    prelude::*,
};

#[test]
fn the_scan_finds_each_canary_raw_hex_and_base64_at_every_alignment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("clean.log"),
        "INFO signed in user_id=0193a5c4-7e2b-7c3d-8e4f-5a6b7c8d9e0f e:1a2b3c4d\n",
    )
    .unwrap();
    assert!(scan(dir.path()).is_empty(), "a clean log has no finding");
    for (i, (what, marker)) in CANARIES.iter().enumerate() {
        for prefix in ["", "x", "xy"] {
            let value = format!("{prefix}{marker}tail");
            let lines = [
                value.clone(),
                hex::encode(&value),
                STANDARD.encode(&value),
                URL_SAFE_NO_PAD.encode(&value),
            ];
            for (j, line) in lines.iter().enumerate() {
                let case = tempfile::tempdir().unwrap();
                std::fs::write(
                    case.path().join(format!("{i}-{j}.log")),
                    format!("a {line} b\n"),
                )
                .unwrap();
                let found = scan(case.path());
                assert!(
                    found.iter().any(|f| f.what == *what),
                    "{what} not found in form {j} with prefix `{prefix}`: {line}"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_in_process_apps_log_is_captured_redacted_for_the_scan() {
    let dir = run_dir().expect("capture is on: run under nextest or set OCHRE_TEST_LOG_DIR");
    let app = spawn_app().await;
    let email = unique_email();
    let session = signup_and_login(&app, &email).await;
    // A line that holds an address and a token: it is redacted like the
    // server's own (a password has no shape: only not logging it keeps it
    // out, which the scan checks).
    tracing::warn!(
        note = %format!("{email} {}", session.access_token),
        "planted by the capture test"
    );
    let app_secret = app.session_secret.clone();
    app.shutdown().await.unwrap();
    let file = dir.join(format!("{}.log", test_name()));
    let log = std::fs::read_to_string(&file).expect("this process's captured log");
    assert!(
        log.contains("account created") && log.contains("signed in"),
        "{log}"
    );
    let planted = log
        .lines()
        .find(|l| l.contains("planted by the capture test"))
        .expect("the planted line");
    assert!(
        planted.contains("e:") && planted.contains("[redacted:ochre-access-token]"),
        "{planted}"
    );
    assert!(!planted.contains(&session.password), "{planted}");
    // The tag is keyed by the server's session secret.
    let key = ochre_server::crypto::log_tag::LogTagKey::derive(&secrecy::SecretString::from(
        app_secret.clone(),
    ));
    let tag = format!("e:{}", key.tag_hex(email.to_ascii_lowercase().as_bytes()));
    assert!(planted.contains(&tag), "{tag} in {planted}");
    let mine = tempfile::tempdir().unwrap();
    std::fs::copy(&file, mine.path().join("mine.log")).unwrap();
    assert_eq!(scan(mine.path()), vec![], "no canary in the captured log");
}

#[test]
fn the_logs_this_run_has_captured_so_far_hold_no_canary() {
    let dir = run_dir().expect("capture is on: run under nextest or set OCHRE_TEST_LOG_DIR");
    let findings = scan(&dir);
    assert!(
        findings.is_empty(),
        "canaries in captured logs: {findings:#?}"
    );
}
