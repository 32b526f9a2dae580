//! The `ochre` binary as an operator runs it: fail-fast configuration, the
//! embedded default Postgres, data surviving a restart, recovery from a crash.

use std::{
    net::TcpListener,
    os::unix::fs::PermissionsExt as _,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use ochre_tests::{ochre_bin, prelude::*};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A data directory under /tmp, which the cluster's OS user can traverse.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ochre-cli-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    dir
}

fn serve(data: &Path, port: u16) -> Child {
    Command::new(ochre_bin())
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OCHRE_DATA_DIR", data)
        .env("OCHRE_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ochre serve")
}

async fn wait_serving(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read as _;
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            panic!("ochre exited early with {status}: {err}");
        }
        if let Ok(ch) = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
        {
            let resp = HealthClient::on(ch)
                .check(HealthCheckRequest::default())
                .await;
            if resp.is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "ochre did not become SERVING within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "ochre did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run_with_env(vars: &[(&str, String)]) -> (i32, String, Duration) {
    let bin = ochre_bin();
    let started = Instant::now();
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
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

#[tokio::test]
async fn the_embedded_default_serves_keeps_its_data_across_restarts_and_survives_a_crash() {
    let data = data_dir();
    let port = free_port();

    // First start: development secrets are generated (0600) and the embedded
    // cluster is initialised, migrated and served.
    let mut child = serve(data.path(), port);
    wait_serving(port, &mut child).await;
    let secrets_file = data.path().join("secrets/dev-secrets.toml");
    let mode = std::fs::metadata(&secrets_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "generated secrets must be private");
    let first_secrets = std::fs::read_to_string(&secrets_file).unwrap();
    assert!(data.path().join("postgres/data/PG_VERSION").exists());

    // Write something through the cluster's superuser so a restart can be checked.
    let marker = uuid::Uuid::now_v7();
    psql(
        data.path(),
        &format!(
            "CREATE TABLE restart_probe (v uuid); INSERT INTO restart_probe VALUES ('{marker}')"
        ),
    )
    .await;

    // SIGTERM: drains, stops the cluster, exits 0.
    assert!(terminate(&mut child).success());
    assert!(!ochre_server::pg::Cluster::is_running(
        &data.path().join("postgres")
    ));

    // Second start: same secrets, same data.
    let mut child = serve(data.path(), port);
    wait_serving(port, &mut child).await;
    assert_eq!(
        std::fs::read_to_string(&secrets_file).unwrap(),
        first_secrets
    );
    let rows = psql(data.path(), "SELECT v::text AS v FROM restart_probe").await;
    assert_eq!(rows, vec![marker.to_string()]);

    // A crash (SIGKILL) leaves the cluster running; the next start copes.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = serve(data.path(), port);
    wait_serving(port, &mut child).await;
    assert!(terminate(&mut child).success());
    assert!(!ochre_server::pg::Cluster::is_running(
        &data.path().join("postgres")
    ));
}

/// Runs SQL in the embedded cluster as its superuser (over loopback).
async fn psql(data: &Path, sql: &str) -> Vec<String> {
    use sea_orm::ConnectionTrait as _;
    use secrecy::ExposeSecret as _;
    let cluster = ochre_server::pg::Cluster::attach(&data.join("postgres"))
        .unwrap()
        .expect("cluster running");
    let db = sea_orm::Database::connect(cluster.superuser_url("ochre").expose_secret().to_owned())
        .await
        .unwrap();
    let mut out = Vec::new();
    if sql.trim_start().starts_with("SELECT") {
        for row in db
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                sql,
            ))
            .await
            .unwrap()
        {
            out.push(row.try_get::<String>("", "v").unwrap());
        }
    } else {
        db.execute_unprepared(sql).await.unwrap();
    }
    db.close().await.ok();
    out
}

#[tokio::test]
async fn the_server_log_never_contains_a_password_token_or_secret() {
    use ochre_sdk::v1::{
        ConnectIntegrationRequest, CreateApiKeyRequest, CreateOrgRequest, LoginRequest,
        SignUpRequest,
    };
    let data = data_dir();
    let port = free_port();
    let mut child = serve(data.path(), port);
    wait_serving(port, &mut child).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let password = format!(
        "Leak-canary {} horse battery",
        uuid::Uuid::new_v4().simple()
    );
    let email = format!("canary-{}@example.com", uuid::Uuid::new_v4().simple());
    let mut auth = AuthClient::on(channel.clone());
    auth.sign_up(SignUpRequest {
        email: email.clone(),
        password: password.clone(),
        display_name: String::new(),
    })
    .await
    .unwrap();
    // A failed login too: refusals must not log what was tried.
    let wrong = format!("{password}-wrong");
    assert!(
        auth.login(LoginRequest {
            email: email.clone(),
            password: wrong.clone()
        })
        .await
        .is_err()
    );
    let tokens = auth
        .login(LoginRequest {
            email: email.clone(),
            password: password.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let org = OrgClient::on(channel.clone())
        .create_org(with_auth(
            CreateOrgRequest {
                name: "Canary".into(),
            },
            &tokens.access_token,
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .org
        .unwrap()
        .id;
    // A webhook signing secret, one delivery signed with it and one with a
    // wrong secret: neither the secret nor the body may reach the log.
    let signing_secret = format!("whsec-canary-{}", uuid::Uuid::new_v4().simple());
    let integration = IntegrationClient::on(channel.clone())
        .connect_integration(with_auth(
            ConnectIntegrationRequest {
                provider: "github".into(),
                external_account: "acme".into(),
                secrets: [("webhook_signing_secret".to_owned(), signing_secret.clone())].into(),
                ..Default::default()
            },
            &tokens.access_token,
            Some(&org),
        ))
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap()
        .id;
    let body_marker = format!("body-canary-{}", uuid::Uuid::new_v4().simple());
    let body = format!(r#"{{"note":"{body_marker}"}}"#);
    let http = reqwest::Client::new();
    for (secret, expected) in [(signing_secret.as_str(), 200), ("not-the-secret", 401)] {
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        let answer = http
            .post(format!(
                "http://127.0.0.1:{port}/webhooks/github/{integration}"
            ))
            .header("x-hub-signature-256", format!("sha256={sig}"))
            .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
            .header("x-github-event", "issues")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), expected);
    }
    let key = ApiKeyClient::on(channel)
        .create_api_key(with_auth(
            CreateApiKeyRequest {
                name: "k".into(),
                role: Role::Agent as i32,
            },
            &tokens.access_token,
            Some(&org),
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    assert!(terminate(&mut child).success());
    let mut log = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("signed in"), "the log is captured: {log}");
    assert!(
        log.contains("webhook accepted") && log.contains("webhook refused"),
        "webhook outcomes are logged: {log}"
    );

    let dev_secrets =
        std::fs::read_to_string(data.path().join("secrets/dev-secrets.toml")).unwrap();
    let mut canaries: Vec<(&str, String)> = vec![
        ("password", password),
        ("wrong password", wrong),
        ("email", email),
        ("access token", tokens.access_token),
        ("refresh token", tokens.refresh_token),
        ("api key", key),
        ("webhook signing secret", signing_secret),
        ("webhook body", body_marker),
    ];
    for line in dev_secrets.lines().filter(|l| l.contains('=')) {
        let value = line.split('"').nth(1).unwrap_or_default().to_owned();
        canaries.push(("configured secret", value));
    }
    for (what, value) in canaries {
        assert!(!value.is_empty());
        assert!(
            !log.contains(&value),
            "the {what} leaked into the server log"
        );
    }
}
