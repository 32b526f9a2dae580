//! Trace export: the real binary with `OCHRE_OTLP_ENDPOINT` pointing at a
//! collector inside the test (an OTLP/HTTP listener on port 0 that keeps
//! every `POST /v1/traces`, decoded with `opentelemetry-proto`). A call
//! carrying a W3C `traceparent` yields spans of that trace: the request
//! span (child of the caller's span), the gate and a database transaction.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, extract::State, routing::post};
use ochre_sdk::v1::GetOrgRequest;
use ochre_tests::{identity::with_auth, process::ServerProcess};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

use ochre_tests::prelude::*;

type Received = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

/// Starts the collector; its base URL and what it received.
async fn collector() -> (String, Received) {
    let received: Received = Arc::default();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(
                |State(store): State<Received>, body: bytes::Bytes| async move {
                    if let Ok(request) = ExportTraceServiceRequest::decode(body) {
                        store.lock().expect("the store").push(request);
                    }
                    ""
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the collector");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), received)
}

/// The spans received so far of `trace_id`: (name, span id, parent span id).
fn spans_of(received: &Received, trace_id: &[u8]) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    received
        .lock()
        .expect("the store")
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .filter(|s| s.trace_id == trace_id)
        .map(|s| (s.name.clone(), s.span_id.clone(), s.parent_span_id.clone()))
        .collect()
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).expect("hex")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_a_traceparent_exports_its_request_gate_and_transaction_spans_in_that_trace() {
    let (endpoint, received) = collector().await;
    let server = ServerProcess::start(&[("OCHRE_OTLP_ENDPOINT", endpoint.as_str())]).await;
    let (token, org) = server.owner_with_org("Traced").await;

    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let parent_id = &uuid::Uuid::new_v4().simple().to_string()[..16];
    let mut request = with_auth(GetOrgRequest {}, &token, Some(&org));
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{parent_id}-01")
            .parse()
            .expect("ascii"),
    );
    OrgClient::on(server.channel.clone())
        .get_org(request)
        .await
        .expect("get org");

    let want = ["request", "gate", "db.transaction"];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut spans = Vec::new();
    while Instant::now() < deadline {
        spans = spans_of(&received, &unhex(&trace_id));
        if want
            .iter()
            .all(|w| spans.iter().any(|(name, _, _)| name == w))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let log = server.stop();
    let names: Vec<&str> = spans.iter().map(|(n, _, _)| n.as_str()).collect();
    for w in want {
        assert!(
            names.contains(&w),
            "a {w} span in the trace, got {names:?}; server log:\n{log}"
        );
    }
    let find = |name: &str| {
        spans
            .iter()
            .find(|(n, _, _)| n == name)
            .expect("the span")
            .clone()
    };
    let (_, request_id, request_parent) = find("request");
    assert_eq!(
        request_parent,
        unhex(parent_id),
        "the request span continues the caller's span"
    );
    let (_, gate_id, gate_parent) = find("gate");
    assert_eq!(gate_parent, request_id, "the gate runs inside the request");
    let (_, _, tx_parent) = find("db.transaction");
    assert_eq!(tx_parent, gate_id, "the transaction opens in the gate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_traceparent_a_sample_ratio_of_zero_exports_nothing() {
    let (endpoint, received) = collector().await;
    let server = ServerProcess::start(&[
        ("OCHRE_OTLP_ENDPOINT", endpoint.as_str()),
        ("OCHRE_OTLP_SAMPLE_RATIO", "0"),
    ])
    .await;
    let _ = server.owner_with_org("Unsampled").await;
    // The batch goes out every 2 s and at shutdown.
    let _ = server.stop();
    let count: usize = received
        .lock()
        .expect("the store")
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    assert_eq!(count, 0);
}
