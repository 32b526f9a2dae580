//! A server process SIGKILLed while webhook deliveries are in flight: some
//! were answered, some cut. The provider retries every delivery against the
//! restarted server (same database, same secrets): each is stored exactly
//! once, whatever happened to its first attempt, and a second retry is a
//! duplicate.

use std::{collections::BTreeMap, time::Duration};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use ochre_sdk::v1::{ConnectIntegrationRequest, ListWebhookEventsRequest};
use ochre_tests::{
    clients::{GrpcClient as _, IntegrationClient, WebhookClient},
    identity::with_auth,
    process::{ServerProcess, free_port},
    random_key, random_secret,
};

use crate::webhooks::{providers::P, signing::Hook};

/// Distinct deliveries in flight when the server is killed.
const DELIVERIES: usize = 40;

async fn post(
    client: &reqwest::Client,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<u16, reqwest::Error> {
    let mut request = client
        .post(format!("http://127.0.0.1:{port}{path}"))
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    Ok(request.send().await?.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_cut_by_a_killed_server_are_stored_once_when_the_provider_retries() {
    // Fixed secrets, so the restarted server opens the signing secret.
    let secrets = [
        ("OCHRE_BYOK_ENC_KEY", random_key()),
        ("OCHRE_SURVEY_TOKEN_SECRET", random_secret(32)),
        ("OCHRE_SESSION_SECRET", random_secret(32)),
        ("OCHRE_OAUTH_STATE_SECRET", random_secret(32)),
        ("OCHRE_CRON_SECRET", random_secret(32)),
        ("OCHRE_AUDIT_SIGNING_KEY", random_key()),
    ];
    let extra: Vec<(&str, &str)> = secrets.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let port = free_port();
    let first = ServerProcess::start_on_port(
        ochre_tests::cluster::cluster()
            .await
            .fresh_database(true)
            .await,
        port,
        &extra,
    )
    .await;
    let database = first.database.clone();
    let (token, org) = first.owner_with_org("Killed mid-delivery").await;
    let secret = P::GitHub.new_secret();
    let request = ConnectIntegrationRequest {
        provider: P::GitHub.id().to_owned(),
        external_account: "acct_1".to_owned(),
        secrets: [(P::GitHub.field().to_owned(), secret.clone())].into(),
        ..Default::default()
    };
    let integration = IntegrationClient::on(first.channel.clone())
        .connect_integration(with_auth(request, &token, Some(&org)))
        .await
        .expect("connect GitHub")
        .into_inner()
        .integration
        .expect("the integration")
        .id;

    let deliveries: Vec<_> = (0..DELIVERIES)
        .map(|_| Hook::new(P::GitHub, &secret).build(&integration))
        .collect();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    // One delivery is surely cut: its headers and half its body are sent
    // on a raw connection that the kill then breaks.
    let partial = &deliveries[0];
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut head = format!(
        "POST {} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\n",
        partial.path,
        partial.body.len()
    );
    for (name, value) in &partial.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    raw.write_all(head.as_bytes()).await.unwrap();
    raw.write_all(&partial.body[..partial.body.len() / 2])
        .await
        .unwrap();
    let mut inflight = tokio::task::JoinSet::new();
    for d in &deliveries[1..] {
        let (client, path, headers, body) = (
            client.clone(),
            d.path.clone(),
            d.headers.clone(),
            d.body.clone(),
        );
        inflight.spawn(async move { post(&client, port, &path, &headers, &body).await });
    }
    // Let some be answered, then kill the server under the rest.
    tokio::time::sleep(Duration::from_millis(150)).await;
    first.kill();
    let mut rest = Vec::new();
    let cut = raw
        .read_to_end(&mut rest)
        .await
        .map_or(true, |_| rest.is_empty());
    assert!(cut, "the half-sent delivery got no answer");
    let answered = inflight
        .join_all()
        .await
        .iter()
        .filter(|r| matches!(r, Ok(s) if (200..300).contains(s)))
        .count();

    let second = ServerProcess::start_on_port(database, port, &extra).await;
    for round in ["retry", "second retry"] {
        for d in &deliveries {
            let status = post(&client, port, &d.path, &d.headers, &d.body)
                .await
                .unwrap_or_else(|e| panic!("{round}: {e}"));
            assert!(
                (200..300).contains(&status),
                "{round} of {}: {status}",
                d.delivery_id
            );
        }
    }

    let mut stored: BTreeMap<String, usize> = BTreeMap::new();
    let mut page_token = String::new();
    loop {
        let request = ListWebhookEventsRequest {
            provider: P::GitHub.id().to_owned(),
            integration_id: integration.clone(),
            page_size: 100,
            page_token: page_token.clone(),
        };
        let page = WebhookClient::on(second.channel.clone())
            .list_webhook_events(with_auth(request, &token, Some(&org)))
            .await
            .expect("list events")
            .into_inner();
        for e in page.events {
            *stored.entry(e.delivery_id).or_default() += 1;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let expected: BTreeMap<String, usize> = deliveries
        .iter()
        .map(|d| (d.delivery_id.clone(), 1))
        .collect();
    assert_eq!(stored, expected, "each delivery stored once");
    eprintln!(
        "server killed mid-delivery: {answered} of {} sent whole were answered before the kill",
        DELIVERIES - 1
    );
    drop(second);
}
