//! Native TLS: with `OCHRE_TLS_CERT` and `OCHRE_TLS_KEY` the one port
//! speaks TLS only, gRPC over h2, gRPC-web and the webhook routes over
//! HTTP/1.1; a plain-text client is refused and the server goes on; a
//! SIGHUP swaps the certificate for new connections without dropping the
//! listener or the connections already open, and a bad file is not taken.

use std::time::{Duration, Instant};

use ochre_sdk::v1::GetServerInfoRequest;
use ochre_tests::{prelude::*, process::ServerProcess};
use prost::Message as _;
use tonic::transport::{ClientTlsConfig, Endpoint};

use super::pki::Pki;
use crate::webhooks::{
    providers::P,
    rpc::{connect_hook, new_org, stored},
    signing::Hook,
};

/// A reqwest client (HTTP/1.1 only) that trusts `pki` and reaches the
/// server at `addr` as `localhost`.
fn https_client(pki: &Pki, addr: std::net::SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap())
        .resolve("localhost", addr)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Whether a new TLS connection with `tls` to `port` gets an answer.
async fn new_connection_answers(port: u16, tls: ClientTlsConfig) -> bool {
    let Ok(endpoint) = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
        .unwrap()
        .tls_config(tls)
    else {
        return false;
    };
    match endpoint.connect().await {
        Ok(channel) => SystemClient::on(channel)
            .get_server_info(GetServerInfoRequest {})
            .await
            .is_ok(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn over_tls_one_port_serves_grpc_grpc_web_and_webhooks_and_refuses_plain_text() {
    let pki = Pki::new("one-port");
    let app = spawn_app_with(AppOptions {
        vars: pki.issue("server").vars(),
        ..Default::default()
    })
    .await;
    // gRPC over h2 (the harness's channel is TLS with this CA).
    let info = app
        .client::<SystemClient>()
        .get_server_info(GetServerInfoRequest {})
        .await
        .expect("gRPC over TLS")
        .into_inner();
    assert!(!info.version.is_empty());

    // gRPC-web over HTTP/1.1, as a browser sends it.
    let https = https_client(&pki, app.addr);
    let port = app.addr.port();
    let message = GetServerInfoRequest {}.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&message);
    let web = https
        .post(format!(
            "https://localhost:{port}/ochre.v1.SystemService/GetServerInfo"
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", "https://app.ochre.test")
        .body(frame)
        .send()
        .await
        .expect("gRPC-web over TLS");
    assert_eq!(web.version(), reqwest::Version::HTTP_11);
    assert_eq!(web.status(), 200);
    let body = web.bytes().await.unwrap();
    assert!(
        String::from_utf8_lossy(&body).contains("grpc-status:0"),
        "the trailer frame says OK"
    );

    // A signed webhook delivery, accepted and stored.
    let org = new_org(&app, "Hooks over TLS").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
    let mut request = https
        .post(format!("https://localhost:{port}{}", delivery.path))
        .body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let answer = request.send().await.expect("a webhook over TLS");
    assert_eq!(answer.status(), 200);
    let answer: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(answer["status"], "accepted", "{answer}");
    assert_eq!(stored(&app, &org, &integration).await.len(), 1);

    // Plain text on the TLS port: no answer, and the server goes on.
    let plain_answered = match Endpoint::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
    {
        Ok(channel) => SystemClient::on(channel)
            .get_server_info(GetServerInfoRequest {})
            .await
            .is_ok(),
        Err(_) => false,
    };
    assert!(!plain_answered, "plain text must not be served");
    let http = reqwest::Client::new()
        .get(format!("http://{}/metrics", app.addr))
        .send()
        .await;
    assert!(http.is_err(), "plain HTTP must not be served either");
    assert!(new_connection_answers(port, pki.client()).await);
}

/// Waits (10 s at most) until `check` holds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_sighup_reloads_the_certificate_for_new_connections_and_keeps_it_when_the_files_are_bad()
{
    use nix::sys::signal::Signal::SIGHUP;
    let (old_ca, new_ca) = (Pki::new("before"), Pki::new("after"));
    let files = old_ca.issue("server");
    let vars = files.vars();
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = ServerProcess::start_tls(&env, old_ca.client()).await;
    let port = server.port;
    let open = server.channel.clone();
    SystemClient::on(open.clone())
        .get_server_info(GetServerInfoRequest {})
        .await
        .expect("served over TLS");

    // A broken certificate file: the reload fails, the old pair stays.
    let original = std::fs::read(&files.cert).unwrap();
    std::fs::write(&files.cert, b"not a certificate (FAKE)\n").unwrap();
    server.send_signal(SIGHUP);
    eventually("the failed reload is logged", async || {
        server.read_log().contains("reload failed")
    })
    .await;
    assert!(new_connection_answers(port, old_ca.client()).await);
    assert!(!new_connection_answers(port, new_ca.client()).await);
    std::fs::write(&files.cert, original).unwrap();

    // A new pair in the same files: new connections see it.
    let next = new_ca.issue("next");
    std::fs::copy(&next.cert, &files.cert).unwrap();
    std::fs::copy(&next.key, &files.key).unwrap();
    server.send_signal(SIGHUP);
    eventually("new connections get the new certificate", async || {
        new_connection_answers(port, new_ca.client()).await
    })
    .await;
    assert!(
        !new_connection_answers(port, old_ca.client()).await,
        "the old certificate is no longer served"
    );
    // The connection opened before the reload was not dropped.
    SystemClient::on(open)
        .get_server_info(GetServerInfoRequest {})
        .await
        .expect("an open connection survives the reload");
    let log = server.stop();
    assert!(log.contains("TLS certificate reloaded"), "{log}");
    assert!(!log.contains("FAKE"), "the file's content is never logged");
}

#[tokio::test]
async fn a_stalled_or_broken_handshake_holds_up_nobody_and_is_cut_after_ten_seconds() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let pki = Pki::new("stalled");
    let app = spawn_app_with(AppOptions {
        vars: pki.issue("server").vars(),
        ..Default::default()
    })
    .await;
    let port = app.addr.port();
    // Connected, never saying a word.
    let mut silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // Not TLS at all: cut at once.
    let mut broken = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    broken
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    // Closed within 5 s (an end of stream or a reset, either is fine).
    let _closed = tokio::time::timeout(Duration::from_secs(5), broken.read_to_end(&mut answer))
        .await
        .expect("a broken handshake is cut at once");
    // At most a TLS alert record (content type 21), never an HTTP answer.
    assert!(
        answer.is_empty() || answer[0] == 21,
        "no HTTP answer: {:?}",
        String::from_utf8_lossy(&answer)
    );
    // Meanwhile other clients are served.
    assert!(new_connection_answers(port, pki.client()).await);
    // The silent one is cut after the 10 s handshake limit.
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(15), silent.read(&mut buf))
        .await
        .expect("a stalled handshake is cut");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(
        started.elapsed() > Duration::from_secs(5),
        "not before the limit"
    );
    assert!(new_connection_answers(port, pki.client()).await);
}

#[tokio::test]
async fn the_typescript_client_calls_over_tls_with_both_grpc_web_transports() {
    use std::{path::Path, process::Command};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("clients/ts/dist/gen/ochre/v1/system_pb.js")
            .exists(),
        "the TypeScript package is not built: run `make build-ts` (make test does)"
    );
    let pki = Pki::new("node");
    let app = spawn_app_with(AppOptions {
        vars: pki.issue("server").vars(),
        ..Default::default()
    })
    .await;
    let ca = pki.path("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let url = format!("https://127.0.0.1:{}", app.addr.port());
    // The package's own Node tests of the system service (the survey one
    // needs a scene of its own and is left to `grpc_web_ts`).
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args([
                "--test",
                "--test-name-pattern",
                "GetServerInfo|ListAccessRules",
                "clients/ts/test/",
            ])
            .current_dir(root)
            .env("OCHRE_TEST_URL", url)
            .env("NODE_EXTRA_CA_CERTS", ca)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("# pass 4"), "{stdout}");
    assert!(stdout.contains("# fail 0"), "{stdout}");
}

#[tokio::test]
async fn without_tls_a_sighup_is_logged_and_does_not_stop_the_server() {
    let server = ServerProcess::start(&[]).await;
    server.send_signal(nix::sys::signal::Signal::SIGHUP);
    eventually("the SIGHUP is logged", async || {
        server.read_log().contains("nothing to reload")
    })
    .await;
    SystemClient::on(server.channel.clone())
        .get_server_info(GetServerInfoRequest {})
        .await
        .expect("still serving after SIGHUP");
    server.stop();
}
