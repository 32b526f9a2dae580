//! The HTTP routes' per-address limits: webhook deliveries and the operator
//! routes answer 429 with `Retry-After` past their limit, each counted on
//! its own.

use std::time::Duration;

use ochre_tests::webhook_path;

use super::app_with;

async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    request.send().await.expect("an answer")
}

#[tokio::test]
async fn webhook_deliveries_and_operator_routes_past_their_limit_get_429_with_retry_after() {
    let app = app_with(&[("webhook.address", "2/m:2"), ("operator.address", "2/m:2")]).await;
    let base = format!("http://{}", app.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client");
    let (org, integration) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let hook = format!(
        "{base}{}",
        webhook_path("github", &org.to_string(), &integration.to_string())
    );
    for i in 0..2 {
        let r = send(client.post(&hook).body("{}")).await;
        assert_ne!(r.status().as_u16(), 429, "delivery {i} is within the limit");
    }
    let refused = send(client.post(&hook).body(vec![b'x'; 100_000])).await;
    assert_eq!(refused.status().as_u16(), 429);
    let retry: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!((1..=30).contains(&retry), "{retry}");
    let body: serde_json::Value = refused.json().await.expect("a JSON answer");
    assert_eq!(body["error"], "too many requests from this address");

    // The operator routes count apart from deliveries.
    let unknown_job = format!("{base}/cron/no-such-job");
    for _ in 0..2 {
        let r = send(client.post(&unknown_job).bearer_auth(&app.cron_secret)).await;
        assert_eq!(r.status().as_u16(), 404);
    }
    let r = send(client.post(&unknown_job).bearer_auth(&app.cron_secret)).await;
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let cron = send(
        client
            .post(format!("{base}/cron/purge-expired"))
            .bearer_auth(&app.cron_secret),
    )
    .await;
    assert_eq!(
        cron.status().as_u16(),
        429,
        "one limit for every operator route"
    );
}
