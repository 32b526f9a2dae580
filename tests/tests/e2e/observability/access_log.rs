//! The access log of the real binary (`OCHRE_LOG_FORMAT=json`): one
//! `ochre::access` line per call, gRPC and plain HTTP, with the method or
//! route template, the code, the latency, the org, the principal, the client
//! address and the request id, and nothing a caller sent; the whole stream
//! passes the log canary scan. `OCHRE_ACCESS_LOG=off` writes none.

use ochre_sdk::v1::{GetOrgRequest, LoginRequest, SignUpRequest};
use ochre_tests::{
    identity::{strong_password, unique_email, with_auth},
    logs::{CANARIES, forms},
    process::ServerProcess,
    webhook_path,
};
use serde_json::Value;
use tonic::{Request, transport::Channel};

use ochre_tests::prelude::*;

const LOGIN: &str = "/ochre.v1.AuthService/Login";
const SIGN_UP: &str = "/ochre.v1.AuthService/SignUp";
const GET_ORG: &str = "/ochre.v1.OrgService/GetOrg";
const CREATE_ORG: &str = "/ochre.v1.OrgService/CreateOrg";
const WEBHOOK: &str = "/webhooks/{provider}/{org_id}/{integration_id}";

/// What the workload sent: the secrets that must not be logged, and the
/// ids the lines must carry.
struct Workload {
    email: String,
    password: String,
    wrong_password: String,
    token: String,
    org: String,
    webhook_status: String,
}

async fn workload(server: &ServerProcess) -> Workload {
    let channel: Channel = server.channel.clone();
    let mut auth = AuthClient::on(channel.clone());
    let (email, password) = (unique_email(), strong_password());
    let wrong_password = format!("{password}-wrong");
    auth.sign_up(SignUpRequest {
        email: email.clone(),
        password: password.clone(),
        display_name: String::new(),
    })
    .await
    .expect("sign up");
    let refused = auth
        .login(LoginRequest {
            email: email.clone(),
            password: wrong_password.clone(),
        })
        .await
        .expect_err("a wrong password");
    assert_eq!(refused.code(), Code::Unauthenticated);
    let (token, org) = server.owner_with_org("Access log").await;
    let mut orgs = OrgClient::on(channel.clone());
    let mut request = with_auth(GetOrgRequest {}, &token, Some(&org));
    request
        .metadata_mut()
        .insert("x-request-id", "rid-access-log-1".parse().expect("ascii"));
    orgs.get_org(request).await.expect("get org");
    // No credentials: refused by the gate.
    let unauthenticated = orgs
        .get_org(Request::new(GetOrgRequest {}))
        .await
        .expect_err("no credentials");
    assert_eq!(unauthenticated.code(), Code::Unauthenticated);
    // A plain-HTTP route: a delivery to an integration of the org that does
    // not exist, with a caller-chosen path the log must not repeat.
    let status = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}{}",
            server.port,
            webhook_path("github", &org, &uuid::Uuid::new_v4().to_string())
        ))
        .header("x-hub-signature-256", "sha256=00")
        .body("{}")
        .send()
        .await
        .expect("an answer")
        .status()
        .as_u16();
    assert!((400..500).contains(&status), "a refused delivery: {status}");
    Workload {
        webhook_status: status.to_string(),
        email,
        password,
        wrong_password,
        token,
        org,
    }
}

fn access_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "ochre::access")
        .collect()
}

fn with<'a>(lines: &'a [Value], method: &str, code: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["method"] == method && l["code"] == code)
        .collect()
}

#[tokio::test]
async fn each_call_writes_one_access_line_with_its_fields_and_the_stream_passes_the_canary_scan() {
    let server = ServerProcess::start(&[("OCHRE_LOG_FORMAT", "json")]).await;
    let sent = workload(&server).await;
    let log = server.stop();
    let lines = access_lines(&log);
    let mut c = Checks::default();

    for (method, code, count) in [
        (SIGN_UP, "OK", 2),
        (LOGIN, "UNAUTHENTICATED", 1),
        (LOGIN, "OK", 1),
        (CREATE_ORG, "OK", 1),
        (GET_ORG, "OK", 1),
        (GET_ORG, "UNAUTHENTICATED", 1),
        (WEBHOOK, sent.webhook_status.as_str(), 1),
    ] {
        c.eq(
            &format!("lines for {method} {code}"),
            with(&lines, method, code).len(),
            count,
        );
    }
    for line in &lines {
        c.that(line["level"] == "INFO", &format!("at INFO: {line}"));
        c.that(
            line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
            &format!("a latency: {line}"),
        );
        c.that(
            line["request_id"].as_str().is_some_and(|id| !id.is_empty()),
            &format!("a request id: {line}"),
        );
        c.that(
            line["client"] == "127.0.0.1",
            &format!("the client address: {line}"),
        );
        c.that(
            line["method"].as_str().is_some_and(|m| {
                m.starts_with("/ochre.v1.") || m.starts_with("/grpc.") || m == WEBHOOK
            }),
            &format!("a declared method or route template: {line}"),
        );
    }
    let get_org = with(&lines, GET_ORG, "OK");
    if let Some(line) = get_org.first() {
        c.eq("the org", line["org_id"].as_str(), Some(sent.org.as_str()));
        c.eq(
            "the principal kind",
            line["principal"].as_str(),
            Some("user"),
        );
        c.that(
            line["principal_id"]
                .as_str()
                .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()),
            "the principal id is the user's id",
        );
        c.eq(
            "the caller's request id",
            line["request_id"].as_str(),
            Some("rid-access-log-1"),
        );
    }
    for line in with(&lines, GET_ORG, "UNAUTHENTICATED") {
        c.that(
            line.get("principal").is_none() && line.get("org_id").is_none(),
            "a refused call has no principal",
        );
    }

    // Nothing the callers sent, in any form.
    let access_text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    for (what, value) in [
        ("the email", sent.email.as_str()),
        ("the password", sent.password.as_str()),
        ("the wrong password", sent.wrong_password.as_str()),
        ("the access token", sent.token.as_str()),
    ] {
        c.that(
            !access_text.contains(value) && !log.contains(value),
            &format!("{what} is not logged"),
        );
    }
    for (what, marker) in CANARIES {
        for form in forms(marker) {
            c.that(
                !access_text.contains(&form) && !log.contains(&form),
                &format!("canary {what} ({form}) is not logged"),
            );
        }
    }
    c.that(!lines.is_empty(), "the access log is written");
    c.verify();
}

#[tokio::test]
async fn with_the_access_log_off_no_access_line_is_written() {
    let server =
        ServerProcess::start(&[("OCHRE_LOG_FORMAT", "json"), ("OCHRE_ACCESS_LOG", "off")]).await;
    let _ = server.owner_with_org("Quiet").await;
    let log = server.stop();
    assert!(
        log.lines().any(|l| l.contains("ochre listening")),
        "the server logged: {log}"
    );
    assert_eq!(access_lines(&log).len(), 0, "{log}");
}
