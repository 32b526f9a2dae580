//! The SDK's examples (`sdk/examples/`), built and run as a partner would
//! run them, against the real server.

use std::{path::PathBuf, process::Command, sync::OnceLock};

use ochre_tests::{prelude::*, support::Caller};

use super::{org_with_key, url};

/// The example binary `name`: in `OCHRE_SDK_EXAMPLES` (set by `make test`,
/// which builds them first), else built once per test process.
fn example(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("OCHRE_SDK_EXAMPLES") {
        return PathBuf::from(dir).join(name);
    }
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut command = Command::new(cargo);
        command
            .args(["build", "--quiet", "-p", "ochre-sdk", "--examples"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        // What the test runner sets for this crate would make build
        // scripts that track it (ring's) rebuild everything once more.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if [
                "CARGO_MANIFEST_",
                "CARGO_PKG_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "NEXTEST",
            ]
            .iter()
            .any(|p| key.starts_with(p))
                || key == "CARGO_PRIMARY_PACKAGE"
                || key == "CARGO_TARGET_TMPDIR"
            {
                command.env_remove(key);
            }
        }
        let status = command.status().expect("run cargo build");
        assert!(status.success(), "building the SDK's examples failed");
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/examples").join(name)
}

fn run(name: &str, env: &[(&str, &str)]) -> String {
    let output = Command::new(example(name))
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_api_key_example_lists_the_orgs_conversations() {
    let app = spawn_app().await;
    let (owner, org, key) = org_with_key(&app).await;
    let agent = Caller::user(&app, &owner, &org);
    let customer = agent.customer("partner@example.com").await;
    let first = agent.conversation(&customer.id, "Where is my order?").await;
    let second = agent.conversation(&customer.id, "Refund").await;

    let stdout = tokio::task::spawn_blocking({
        let url = url(&app);
        move || {
            run(
                "api_key_partner",
                &[
                    ("OCHRE_URL", &url),
                    ("OCHRE_API_KEY", &key),
                    ("OCHRE_ORG", &org),
                ],
            )
        }
    })
    .await
    .expect("the example");
    assert!(stdout.contains("conversations: 2"), "{stdout}");
    for c in [&first, &second] {
        assert!(
            stdout.contains(&c.id) && stdout.contains(&c.subject),
            "{stdout}"
        );
    }
}

#[tokio::test]
async fn the_session_example_signs_in_and_refreshes_while_its_tasks_keep_calling() {
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("tokens.bin").display().to_string();
    let stdout = tokio::task::spawn_blocking({
        let (url, user, path) = (url(&app), user.clone(), path.clone());
        move || {
            run(
                "session_refresh",
                &[
                    ("OCHRE_URL", &url),
                    ("OCHRE_EMAIL", &user.email),
                    ("OCHRE_PASSWORD", &user.password),
                    ("OCHRE_TOKENS_FILE", &path),
                    // An access token lives 900 s: refresh 3 s after sign-in.
                    ("OCHRE_REFRESH_MARGIN_SECS", "897"),
                    ("OCHRE_SECONDS", "5"),
                ],
            )
        }
    })
    .await
    .expect("the example");
    assert!(
        stdout.contains(&format!("signed in as {}", user.email)),
        "{stdout}"
    );
    let refreshes: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("refreshes: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a refresh count: {stdout}"));
    assert!(refreshes >= 1, "{stdout}");
    assert_eq!(
        i64::from(refreshes),
        super::refreshes_of(&app, &user.email).await,
        "each refresh the example saw is one the server made"
    );
    // The persisted pair resumes the session without signing in again.
    let again = tokio::task::spawn_blocking({
        let url = url(&app);
        move || {
            run(
                "session_refresh",
                &[
                    ("OCHRE_URL", &url),
                    ("OCHRE_TOKENS_FILE", &path),
                    ("OCHRE_SECONDS", "1"),
                ],
            )
        }
    })
    .await
    .expect("the example again");
    assert!(again.contains("refreshes: 0"), "{again}");
}
