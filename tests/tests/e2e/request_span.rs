//! One span per request: every log line written while serving an RPC
//! carries the request's id (the caller's `x-request-id`, or a generated
//! one), the method, and once the gate has verified the caller, the
//! principal and the org; the response carries the id back, on success and
//! on refusal. Checked on the real binary's JSON log.

use ochre_sdk::v1::{ConnectIntegrationRequest, CreateOrgRequest, LoginRequest, SignUpRequest};
use ochre_tests::{prelude::*, process::ServerProcess};
use serde_json::Value;
use tonic::Request;

fn with_id<T>(mut request: Request<T>, id: &str) -> Request<T> {
    request
        .metadata_mut()
        .insert("x-request-id", id.parse().unwrap());
    request
}

fn returned_id(metadata: &tonic::metadata::MetadataMap) -> String {
    metadata
        .get("x-request-id")
        .expect("the response carries x-request-id")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The JSON log lines that carry `message`.
fn lines_with<'a>(log: &'a [Value], message: &str) -> Vec<&'a Value> {
    log.iter()
        .filter(|l| l["message"].as_str() == Some(message))
        .collect()
}

fn span_field<'a>(line: &'a Value, field: &str) -> Option<&'a str> {
    line["span"][field].as_str()
}

#[tokio::test]
async fn every_log_line_of_an_rpc_carries_its_request_id_and_the_response_returns_it() {
    let server = ServerProcess::start(&[("OCHRE_LOG_FORMAT", "json")]).await;
    let mut auth = AuthClient::on(server.channel.clone());
    let email = format!("span-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "Correct horse battery staple 42".to_owned();

    let signed_up = auth
        .sign_up(with_id(
            Request::new(SignUpRequest {
                email: email.clone(),
                password: password.clone(),
                display_name: String::new(),
            }),
            "rid-signup-1",
        ))
        .await
        .unwrap();
    assert_eq!(returned_id(signed_up.metadata()), "rid-signup-1");

    let refused = auth
        .login(with_id(
            Request::new(LoginRequest {
                email: email.clone(),
                password: format!("{password}-wrong"),
            }),
            "rid-login-refused",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(returned_id(refused.metadata()), "rid-login-refused");

    // No id sent: the server makes one (a UUID) and returns it.
    let login = auth
        .login(LoginRequest {
            email: email.clone(),
            password,
        })
        .await
        .unwrap();
    let generated = returned_id(login.metadata());
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    let token = login.into_inner().tokens.unwrap().access_token;

    // An unsafe id (a space) is replaced, not echoed.
    let org = OrgClient::on(server.channel.clone())
        .create_org(with_id(
            with_auth(
                CreateOrgRequest {
                    name: "Spans".into(),
                    ..Default::default()
                },
                &token,
                None,
            ),
            "rid org",
        ))
        .await
        .unwrap();
    assert_ne!(returned_id(org.metadata()), "rid org");
    let org_id = org.into_inner().org.unwrap().id;

    IntegrationClient::on(server.channel.clone())
        .connect_integration(with_id(
            with_auth(
                ConnectIntegrationRequest {
                    provider: "github".into(),
                    external_account: "acme".into(),
                    secrets: [(
                        "webhook_signing_secret".to_owned(),
                        "s3cret-value".to_owned(),
                    )]
                    .into(),
                    ..Default::default()
                },
                &token,
                Some(&org_id),
            ),
            "rid-connect",
        ))
        .await
        .unwrap();

    let log: Vec<Value> = server
        .stop()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();

    let created = lines_with(&log, "account created");
    assert_eq!(created.len(), 1, "{log:?}");
    assert_eq!(span_field(created[0], "request_id"), Some("rid-signup-1"));
    assert_eq!(
        span_field(created[0], "method"),
        Some("/ochre.v1.AuthService/SignUp")
    );
    let signed_in = lines_with(&log, "signed in");
    assert_eq!(signed_in.len(), 1, "{log:?}");
    assert_eq!(
        span_field(signed_in[0], "request_id"),
        Some(generated.as_str())
    );
    let connected = lines_with(&log, "integration connected");
    assert_eq!(connected.len(), 1, "{log:?}");
    assert_eq!(span_field(connected[0], "request_id"), Some("rid-connect"));
    assert_eq!(span_field(connected[0], "org_id"), Some(org_id.as_str()));
    assert_eq!(span_field(connected[0], "principal"), Some("user"));

    // Every line the request path writes (handlers, the gate, the error
    // conversion, storage) is inside a request span with an id.
    let request_path = [
        "ochre_server::rpc",
        "ochre_server::gate",
        "ochre_server::error",
        "ochre_server::db",
    ];
    let mut checked = 0;
    for line in &log {
        let target = line["target"].as_str().unwrap_or_default();
        if request_path.iter().any(|p| target.starts_with(p)) {
            assert!(
                span_field(line, "request_id").is_some_and(|id| !id.is_empty()),
                "a request-path line without a request id: {line}"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 4,
        "the request path logged {checked} lines: {log:?}"
    );
}
