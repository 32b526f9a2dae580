//! A server process SIGKILLed while webhook deliveries are in flight: some
//! were answered, some cut. The provider retries every delivery against the
//! restarted server (same database, same secrets): each is stored exactly
//! once, whatever happened to its first attempt, and a second retry is a
//! duplicate.

use std::{collections::BTreeMap, time::Duration};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use ochre_tests::process::{ServerProcess, free_port};

use crate::webhooks::{providers::P, remote, signing::Hook};

/// Distinct deliveries in flight when the server is killed.
const DELIVERIES: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_cut_by_a_killed_server_are_stored_once_when_the_provider_retries() {
    // Fixed secrets, so the restarted server opens the signing secret.
    let secrets = ochre_tests::shared_secrets();
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
    let (integration, secret) = remote::connect_github(&first, &token, &org).await;

    let deliveries: Vec<_> = (0..DELIVERIES)
        .map(|_| Hook::new(P::GitHub, &secret).build(&org, &integration))
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
        let (client, d) = (client.clone(), d.clone());
        inflight.spawn(async move { remote::post(&client, port, &d).await });
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
            let status = remote::post(&client, port, d)
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
    for id in remote::stored_ids(&second, &token, &org, &integration).await {
        *stored.entry(id).or_default() += 1;
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
