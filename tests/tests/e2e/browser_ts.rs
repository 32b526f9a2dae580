//! The TypeScript package `@ochre/client` in a real browser: Debian's
//! Chromium, headless, driven by playwright-core
//! (`clients/ts/test-browser/browser.test.mjs`), loads the package's browser
//! bundle from a page on an allowed origin and, against a real `ochre`
//! process, signs up, logs in, creates an org, a customer and a
//! conversation, lists them, reads refusals with their decoded details,
//! refreshes an expired session once for sixteen concurrent calls, is signed
//! out by a reused refresh token, saves an export and reads a rate limit's
//! `retryAfter`. A page on another origin gets nothing through, and the
//! server's log shows none of its calls got past CORS. Without the CORS
//! allowlist the same browser test fails.

mod bounded;

use std::{path::PathBuf, process::Command};

use bounded::{RUN_LIMIT, TEST_LIMIT, bounded};

use ochre_sdk::v1::{CreateOrgRequest, ListCustomersRequest};
use ochre_tests::{
    clients::{AuthClient, CustomerClient, GrpcClient as _, OrgClient},
    identity::{strong_password, with_auth},
    process::{ServerProcess, free_port},
};
use serde_json::json;
use tonic::{Code, transport::Channel};

/// The repository root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Fails with what to run when the package, its bundles or the browser are missing.
fn require_built() {
    let root = root();
    for file in [
        "clients/ts/dist/index.d.ts",
        "clients/ts/dist/browser/ochre-client.js",
        "clients/ts/test-browser/build/scenario.js",
        "node_modules/playwright-core/package.json",
    ] {
        assert!(
            root.join(file).exists(),
            "{file} is missing: run `make build-ts` (make test does)"
        );
    }
    let chromium = std::env::var("OCHRE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run `make deps` (apt-get install chromium)"
    );
}

/// An email the harness's log scan knows (`@example.com`), tagged for this test.
fn email(tag: &str) -> String {
    format!(
        "browser-{tag}-{}@example.com",
        uuid::Uuid::new_v4().simple()
    )
}

/// The access token `token`, re-signed with `secret` as issued 20 minutes
/// ago (expired 5 minutes ago), same session and proof.
fn expired(secret: &str, token: &str) -> String {
    use base64::Engine as _;
    use ochre_server::crypto::tokens::{AccessTokenSigner, Claims};
    let payload = token
        .strip_prefix("ochre_at_v1.")
        .and_then(|rest| rest.split('.').next())
        .expect("an access token");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url claims");
    let claims: Claims = serde_json::from_slice(&json).expect("claims");
    let signer = AccessTokenSigner::new(&secrecy::SecretString::from(secret.to_owned()))
        .expect("the test secret is long enough");
    let issued = ochre_tests::clock::unix_now().saturating_sub(20 * 60);
    signer.sign(&Claims::new(claims.sub, claims.sid, claims.prf, issued))
}

/// A signed-up account's sessions: (access token, refresh token) per login.
async fn sessions(
    channel: &Channel,
    email: &str,
    password: &str,
    n: usize,
) -> Vec<(String, String)> {
    use ochre_sdk::v1::{LoginRequest, SignUpRequest};
    let mut auth = AuthClient::on(channel.clone());
    auth.sign_up(SignUpRequest {
        email: email.to_owned(),
        password: password.to_owned(),
        display_name: String::new(),
    })
    .await
    .expect("sign up");
    let mut out = Vec::new();
    for _ in 0..n {
        let tokens = auth
            .login(LoginRequest {
                email: email.to_owned(),
                password: password.to_owned(),
            })
            .await
            .expect("log in")
            .into_inner()
            .tokens
            .expect("tokens");
        out.push((tokens.access_token, tokens.refresh_token));
    }
    out
}

/// Whether `email` can sign in with `password` (the account exists).
async fn can_sign_in(channel: &Channel, email: &str, password: &str) -> bool {
    let answer = AuthClient::on(channel.clone())
        .login(ochre_sdk::v1::LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        })
        .await;
    match answer {
        Ok(_) => true,
        Err(status) => {
            assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
            false
        }
    }
}

/// What the browser test needs from the Rust side.
struct Run {
    allowed: u16,
    other: u16,
    env: Vec<(String, String)>,
}

/// Runs the browser test (only the tests matching `pattern`, if given).
async fn run_browser(server: &ServerProcess, run: &Run, pattern: Option<&str>) -> (bool, String) {
    let mut command = Command::new("node");
    command
        .arg("--test")
        .arg("--test-reporter=tap")
        .arg(format!("--test-timeout={}", TEST_LIMIT.as_millis()))
        .current_dir(root())
        .env(
            "OCHRE_TEST_URL",
            format!("http://127.0.0.1:{}", server.port),
        )
        .env("OCHRE_BROWSER_ALLOWED_PORT", run.allowed.to_string())
        .env("OCHRE_BROWSER_OTHER_PORT", run.other.to_string())
        .envs(run.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Some(pattern) = pattern {
        command.arg(format!("--test-name-pattern={pattern}"));
    }
    command.arg("clients/ts/test-browser/browser.test.mjs");
    bounded(command, RUN_LIMIT).await
}

/// A server, the browser test's settings, and what the Rust side checks afterwards.
struct Prepared {
    server: ServerProcess,
    run: Run,
    /// The account the allowed page signs up.
    page_account: (String, String),
    /// The account the disallowed page tries to sign up.
    other_account: (String, String),
    /// The Rust side's org and a valid access token of its owner.
    org: String,
    owner_token: String,
}

/// Starts an `ochre` process whose CORS allowlist is `origins` (`ALLOWED`
/// stands for the allowed page's origin), with one rate limit on (public
/// calls: a burst of 12, then 1 a minute), and prepares the accounts and
/// sessions the browser test uses.
async fn prepare(origins: &str) -> Prepared {
    let (allowed, other) = (free_port(), free_port());
    let secret = ochre_tests::random_secret(32);
    let origins = origins.replace("ALLOWED", &format!("http://127.0.0.1:{allowed}"));
    let limits = crate::limits::only(&[("public.address", "1/m:12")]);
    let server = ServerProcess::start(&[
        ("OCHRE_CORS_ORIGINS", origins.as_str()),
        ("OCHRE_SESSION_SECRET", secret.as_str()),
        ("OCHRE_RATE_LIMITS", limits.as_str()),
        ("OCHRE_LOG", "info,ochre_server::gate=debug"),
    ])
    .await;
    // An account of the Rust side: three sessions, the first two expired.
    let (owner, password) = (email("owner"), strong_password());
    let s = sessions(&server.channel, &owner, &password, 3).await;
    let owner_token = s[2].0.clone();
    let org = OrgClient::on(server.channel.clone())
        .create_org(with_auth(
            CreateOrgRequest {
                name: "Browser FAKE Backend".into(),
                ..Default::default()
            },
            &owner_token,
            None,
        ))
        .await
        .expect("create org")
        .into_inner()
        .org
        .expect("org")
        .id;
    let expired_at = (ochre_tests::clock::unix_now() - 5 * 60) * 1000;
    let browser_sessions = json!([
        {"accessToken": expired(&secret, &s[0].0), "refreshToken": s[0].1, "expiredAt": expired_at},
        {"accessToken": expired(&secret, &s[1].0), "refreshToken": s[1].1, "expiredAt": expired_at},
        {"accessToken": owner_token, "orgId": org},
    ]);
    let page_account = (email("page"), strong_password());
    let other_account = (email("other-origin"), strong_password());
    let account = |(e, p): &(String, String)| json!({"email": e, "password": p}).to_string();
    let run = Run {
        allowed,
        other,
        env: vec![
            ("OCHRE_BROWSER_ACCOUNT".into(), account(&page_account)),
            (
                "OCHRE_BROWSER_OTHER_ACCOUNT".into(),
                account(&other_account),
            ),
            (
                "OCHRE_BROWSER_SESSIONS".into(),
                browser_sessions.to_string(),
            ),
        ],
    };
    Prepared {
        server,
        run,
        page_account,
        other_account,
        org,
        owner_token,
    }
}

/// The emails of the customers of `org`.
async fn customer_emails(channel: &Channel, token: &str, org: &str) -> Vec<String> {
    CustomerClient::on(channel.clone())
        .list_customers(with_auth(ListCustomersRequest::default(), token, Some(org)))
        .await
        .expect("list customers")
        .into_inner()
        .customers
        .into_iter()
        .map(|c| c.email)
        .collect()
}

/// The methods of the gRPC calls the server's gate saw (log lines
/// `request{method=…}: … call received`).
fn calls_received(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("call received"))
        .filter_map(|l| l.split("method=").nth(1))
        .filter_map(|rest| rest.split([' ', '}']).next())
        .map(|m| m.trim_matches('"').to_owned())
        .collect()
}

#[tokio::test]
async fn the_typescript_client_works_in_chromium_from_an_allowed_origin_and_nothing_gets_through_from_another()
 {
    require_built();
    let p = prepare("ALLOWED").await;
    let (ok, out) = run_browser(&p.server, &p.run, None).await;
    assert!(ok, "the browser test failed:\n{out}");
    assert!(
        out.contains("# pass 9"),
        "nine browser tests passed:\n{out}"
    );
    assert!(out.contains("# fail 0"), "{out}");
    let channel = p.server.channel.clone();
    // The allowed page's account exists; the other page's does not.
    assert!(can_sign_in(&channel, &p.page_account.0, &p.page_account.1).await);
    assert!(!can_sign_in(&channel, &p.other_account.0, &p.other_account.1).await);
    // The other page's UpsertCustomer (with a valid token) stored nothing.
    assert_eq!(
        customer_emails(&channel, &p.owner_token, &p.org).await,
        Vec::<String>::new()
    );
    let log = p.server.stop();
    let calls = calls_received(&log);
    // What the allowed page sent reached the gate ...
    for method in [
        "/ochre.v1.AuthService/SignUp",
        "/ochre.v1.OrgService/CreateOrg",
        "/ochre.v1.CustomerService/UpsertCustomer",
        "/ochre.v1.ConversationService/CreateConversation",
        "/ochre.v1.ExportService/ExportWorkspace",
    ] {
        assert!(calls.iter().any(|c| c == method), "{method} in {calls:?}");
    }
    let refreshes = calls
        .iter()
        .filter(|c| *c == "/ochre.v1.AuthService/Refresh")
        .count();
    assert_eq!(
        refreshes, 3,
        "one Refresh per session (two refreshed, one reused)"
    );
    // ... and what only the other page sent did not: its preflight was
    // answered by CORS, no call got further.
    assert!(
        !calls
            .iter()
            .any(|c| c == "/ochre.v1.SystemService/ListAccessRules"),
        "{calls:?}"
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| *c == "/ochre.v1.AuthService/SignUp")
            .count(),
        2,
        "the Rust side's sign-up and the allowed page's, not the other page's: {calls:?}"
    );
    let upserts = calls
        .iter()
        .filter(|c| *c == "/ochre.v1.CustomerService/UpsertCustomer")
        .count();
    assert_eq!(upserts, 1, "only the allowed page's: {calls:?}");
}

/// The control: the same browser test against a server with no CORS
/// allowlist fails at its first call, and nothing of it reaches the server.
#[tokio::test]
async fn without_the_cors_allowlist_the_browser_test_fails() {
    require_built();
    let p = prepare("").await;
    let first = "a page from the allowed origin signs up";
    let (ok, out) = run_browser(&p.server, &p.run, Some(first)).await;
    assert!(
        !ok,
        "the browser test passed without a CORS allowlist:\n{out}"
    );
    assert!(out.contains("# fail 1"), "{out}");
    assert!(out.contains("# pass 0"), "{out}");
    assert!(out.contains("Failed to fetch"), "a CORS failure:\n{out}");
    let channel = p.server.channel.clone();
    assert!(!can_sign_in(&channel, &p.page_account.0, &p.page_account.1).await);
    let calls = calls_received(&p.server.stop());
    assert!(
        calls
            .iter()
            .all(|c| !c.starts_with("/ochre.v1.SystemService/")),
        "the page's GetServerInfo never got past CORS: {calls:?}"
    );
}
