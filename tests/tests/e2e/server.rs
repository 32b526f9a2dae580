//! The server end to end: real Postgres, the real server on port 0, real
//! gRPC, gRPC-web and health/reflection clients.

use std::time::Duration;

use ochre_sdk::v1::{GetServerInfoRequest, GetServerInfoResponse, ListAccessRulesRequest};
use ochre_tests::prelude::*;
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_stream::StreamExt as _;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

async fn health_status(app: &TestApp, service: &str) -> ServingStatus {
    let mut client = app.client::<HealthClient>();
    let resp = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health check answers");
    resp.into_inner().status()
}

async fn wait_for(app: &TestApp, want: ServingStatus) -> ServingStatus {
    let mut last = ServingStatus::Unknown;
    for _ in 0..50 {
        last = health_status(app, "").await;
        if last == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test]
async fn health_is_serving_once_the_database_answers_with_current_migrations() {
    let app = spawn_app().await;
    assert_eq!(
        wait_for(&app, ServingStatus::Serving).await,
        ServingStatus::Serving
    );
    assert_eq!(
        health_status(&app, "ochre.v1.SystemService").await,
        ServingStatus::Serving
    );
}

#[tokio::test]
async fn health_is_not_serving_when_the_database_has_no_migrations() {
    let app = spawn_app_with(AppOptions {
        migrated: false,
        ..Default::default()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(health_status(&app, "").await, ServingStatus::NotServing);
}

#[tokio::test]
async fn health_turns_not_serving_while_draining() {
    let mut app = spawn_app().await;
    assert_eq!(
        wait_for(&app, ServingStatus::Serving).await,
        ServingStatus::Serving
    );
    let mut client = app.client::<HealthClient>();
    let mut watch = client
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.next().await.expect("first status").expect("ok");
    assert_eq!(first.status(), ServingStatus::Serving);
    app.begin_shutdown();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("a status change while draining")
        .expect("stream item")
        .expect("ok");
    assert_eq!(next.status(), ServingStatus::NotServing);
}

#[tokio::test]
async fn an_unknown_health_service_is_not_found() {
    let app = spawn_app().await;
    let mut client = app.client::<HealthClient>();
    let err = client
        .check(HealthCheckRequest {
            service: "ochre.v1.NoSuchService".to_owned(),
        })
        .await
        .expect_err("unknown service");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn reflection_lists_the_ochre_services_health_and_reflection() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_request::MessageRequest,
        server_reflection_response::MessageResponse,
    };
    let app = spawn_app().await;
    let mut client = app.client::<ReflectionClient>();
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let response = stream.next().await.expect("one response").expect("ok");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection response");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["ochre.v1.SystemService", "grpc.health.v1.Health"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
}

#[tokio::test]
async fn server_info_is_public_and_names_the_contract() {
    let app = spawn_app().await;
    let mut client = app.client::<SystemClient>();
    let info = client
        .get_server_info(GetServerInfoRequest {})
        .await
        .expect("public rpc");
    let info = info.into_inner();
    assert_eq!(info.name, "ochre");
    assert_eq!(info.api_version, "ochre.v1");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn the_access_rules_served_are_the_generated_table() {
    let app = spawn_app().await;
    let mut client = app.client::<SystemClient>();
    let rules = client
        .list_access_rules(ListAccessRulesRequest::default())
        .await
        .expect("public rpc")
        .into_inner()
        .rules;
    assert_eq!(rules.len(), ochre_sdk::access::ACCESS_RULES.len());
    for (served, generated) in rules.iter().zip(ochre_sdk::access::ACCESS_RULES) {
        assert_eq!(served.method, generated.method);
        assert_eq!(served.rule.as_ref(), Some(&generated.to_message()));
    }
}

#[tokio::test]
async fn a_method_outside_the_contract_is_unimplemented() {
    let app = spawn_app().await;
    let mut grpc = tonic::client::Grpc::new(app.channel.clone());
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static("/ochre.v1.SystemService/DropAllTables");
    let codec = tonic_prost::ProstCodec::<GetServerInfoRequest, GetServerInfoResponse>::default();
    let err = grpc
        .unary(tonic::Request::new(GetServerInfoRequest {}), path, codec)
        .await
        .expect_err("not an RPC of the contract");
    assert_eq!(err.code(), Code::Unimplemented);
}

/// One gRPC-web call over a plain HTTP/1.1 connection, as a browser makes it.
async fn grpc_web_call(addr: std::net::SocketAddr, path: &str, origin: &str) -> (String, Vec<u8>) {
    let message = GetServerInfoRequest {}.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&(message.len() as u32).to_be_bytes());
    body.extend_from_slice(&message);
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\n\
         Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write head");
    stream.write_all(&body).await.expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end")
        + 4;
    (
        String::from_utf8_lossy(&raw[..split]).to_lowercase(),
        raw[split..].to_vec(),
    )
}

#[tokio::test]
async fn grpc_web_over_http1_answers_an_allowed_origin() {
    let app = spawn_app().await;
    let (head, body) = grpc_web_call(
        app.addr,
        "/ochre.v1.SystemService/GetServerInfo",
        "https://app.ochre.test",
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("access-control-allow-origin: https://app.ochre.test"),
        "{head}"
    );
    assert!(
        head.contains("content-type: application/grpc-web"),
        "{head}"
    );
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("ochre.v1"),
        "the message frame carries the reply"
    );
    assert!(
        text.contains("grpc-status:0"),
        "the trailer frame says OK: {text}"
    );
}

#[tokio::test]
async fn grpc_web_gives_no_cors_grant_to_an_unlisted_origin() {
    let app = spawn_app().await;
    let (head, _) = grpc_web_call(
        app.addr,
        "/ochre.v1.SystemService/GetServerInfo",
        "https://evil.test",
    )
    .await;
    assert!(!head.contains("access-control-allow-origin"), "{head}");
}

#[tokio::test]
async fn a_cors_preflight_from_an_allowed_origin_is_granted_with_the_grpc_headers() {
    let app = spawn_app().await;
    let request = format!(
        "OPTIONS /ochre.v1.SystemService/GetServerInfo HTTP/1.1\r\nHost: {}\r\n\
         Origin: https://app.ochre.test\r\nAccess-Control-Request-Method: POST\r\n\
         Access-Control-Request-Headers: content-type,x-grpc-web,authorization,x-ochre-org\r\n\
         Connection: close\r\n\r\n",
        app.addr
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("read");
    let head = raw.to_lowercase();
    assert!(
        head.contains("access-control-allow-origin: https://app.ochre.test"),
        "{head}"
    );
    assert!(head.contains("x-ochre-org"), "{head}");
}

#[tokio::test]
async fn grpc_web_refusals_keep_a_grpc_status() {
    let app = spawn_app().await;
    let (head, body) = grpc_web_call(
        app.addr,
        "/ochre.v1.SystemService/Nope",
        "https://app.ochre.test",
    )
    .await;
    let all = format!("{head}{}", String::from_utf8_lossy(&body));
    assert!(
        all.contains("grpc-status: 12") || all.contains("grpc-status:12"),
        "{all}"
    );
}
