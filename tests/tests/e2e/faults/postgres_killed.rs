//! The postmaster SIGKILLed in the middle of a write load (AddMessage and
//! webhook deliveries): every message and delivery the clients saw
//! acknowledged is stored, none twice after their retries (each create
//! carries a `request_id`, each delivery its id), the clients were told
//! UNAVAILABLE or 503 (never INTERNAL or another refusal) while the
//! database was down, and the server serves again soon after the database
//! is back, without a restart of `ochre`.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use ochre_sdk::v1::{AddMessageRequest, MessageKind};
use ochre_tests::{
    process::{ServerProcess, free_port},
    support::Caller,
};
use tonic::Code;

use super::OwnCluster;
use crate::webhooks::{providers::P, remote, signing::Hook};

/// Webhook deliveries sent one after the other during the load.
const DELIVERIES: usize = 60;

/// Writers, and the messages each adds one after the other.
const WRITERS: usize = 4;
const PER_WRITER: usize = 40;

/// What the writers saw.
#[derive(Default)]
struct Seen {
    /// Acknowledged bodies, with the message id and when.
    acked: BTreeMap<String, (String, Instant)>,
    /// Every refusal, by code.
    codes: BTreeMap<String, usize>,
    /// Refusals other than UNAVAILABLE (and the clients' own deadline).
    wrong: Vec<String>,
}

async fn writer(caller: Caller, conversation: String, w: usize, seen: Arc<Mutex<Seen>>) {
    for i in 0..PER_WRITER {
        let body = format!("writer {w} message {i}");
        let request = AddMessageRequest {
            conversation_id: conversation.clone(),
            kind: MessageKind::OutboundReply.into(),
            body: body.clone(),
            request_id: format!("fault-{w}-{i}"),
            ..Default::default()
        };
        let give_up = Instant::now() + Duration::from_secs(90);
        loop {
            assert!(Instant::now() < give_up, "{body} never acknowledged");
            let answer = tokio::time::timeout(Duration::from_secs(8), caller.add(request.clone()));
            let code = match answer.await {
                Ok(Ok(message)) => {
                    let mut s = seen.lock().unwrap();
                    s.acked.insert(body.clone(), (message.id, Instant::now()));
                    break;
                }
                Ok(Err(status)) => {
                    if status.code() != Code::Unavailable {
                        seen.lock().unwrap().wrong.push(format!(
                            "{body}: {:?} {}",
                            status.code(),
                            status.message()
                        ));
                    }
                    format!("{:?}", status.code())
                }
                Err(_) => "client deadline".to_owned(),
            };
            *seen.lock().unwrap().codes.entry(code).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A provider delivering one webhook after the other to `integration` of
/// `org`, each retried until it is answered 2xx: the acknowledged delivery
/// ids.
async fn provider(
    port: u16,
    secret: String,
    org: String,
    integration: String,
    seen: Arc<Mutex<Seen>>,
) -> Vec<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut acked = Vec::new();
    for _ in 0..DELIVERIES {
        let d = Hook::new(P::GitHub, &secret).build(&org, &integration);
        let give_up = Instant::now() + Duration::from_secs(90);
        loop {
            assert!(
                Instant::now() < give_up,
                "{} never acknowledged",
                d.delivery_id
            );
            let what = match remote::post(&client, port, &d).await {
                Ok(status) if (200..300).contains(&status) => {
                    acked.push(d.delivery_id.clone());
                    // Paced, so the deliveries span the outage.
                    tokio::time::sleep(Duration::from_millis(40)).await;
                    break;
                }
                Ok(status) => {
                    if status != 503 {
                        seen.lock()
                            .unwrap()
                            .wrong
                            .push(format!("delivery {}: HTTP {status}", d.delivery_id));
                    }
                    format!("HTTP {status}")
                }
                Err(_) => "no HTTP answer".to_owned(),
            };
            *seen.lock().unwrap().codes.entry(what).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_a_killed_postgres_once_each_and_service_resumes() {
    let mut db = OwnCluster::start().await;
    let server = ServerProcess::start_with(
        db.urls(),
        "ochre".to_owned(),
        free_port(),
        &[("OCHRE_DB_MAX_CONNECTIONS", "4")],
    )
    .await;
    let (token, org) = server.owner_with_org("faults").await;
    let caller = Caller::on(server.channel.clone(), &token, &org);
    let customer = caller.customer("fault.customer@example.com").await;
    let conversation = caller.conversation(&customer.id, "under fire").await.id;
    let (integration, secret) = remote::connect_github(&server, &token, &org).await;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            tokio::spawn(writer(
                caller.clone(),
                conversation.clone(),
                w,
                seen.clone(),
            ))
        })
        .collect();
    let deliveries = tokio::spawn(provider(
        server.port,
        secret,
        org.clone(),
        integration.clone(),
        seen.clone(),
    ));
    // Kill once the load is well under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().acked.len() < 20 {
        assert!(Instant::now() < deadline, "no load before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    db.kill_postmaster().await;
    let acked_before = seen.lock().unwrap().acked.len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    db.restart().await;
    let back = Instant::now();
    for w in writers {
        w.await.expect("a writer panicked");
    }
    let delivered = deliveries.await.expect("the provider panicked");

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(
        seen.wrong,
        Vec::<String>::new(),
        "refusals: {:?}",
        seen.codes
    );
    assert!(
        seen.codes.get("Unavailable").copied().unwrap_or(0) > 0,
        "the outage was seen as UNAVAILABLE: {:?}",
        seen.codes
    );
    assert!(
        acked_before < WRITERS * PER_WRITER,
        "the kill came mid-load"
    );
    let first_after = seen
        .acked
        .values()
        .map(|(_, at)| *at)
        .filter(|at| *at > back)
        .min()
        .expect("writes acknowledged after the restart");
    let resumed = first_after.duration_since(back);
    assert!(
        resumed <= Duration::from_secs(10),
        "served again {resumed:?} after the database was back"
    );

    // What the database holds: each acknowledged message once, by its id.
    let stored = caller.all_messages(&conversation, 100).await;
    let mut by_body: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for m in &stored {
        by_body.entry(&m.body).or_default().push(&m.id);
    }
    assert_eq!(seen.acked.len(), WRITERS * PER_WRITER);
    for (body, (id, _)) in &seen.acked {
        assert_eq!(
            by_body.get(body.as_str()),
            Some(&vec![id.as_str()]),
            "{body} is stored exactly once, as acknowledged"
        );
    }
    assert_eq!(stored.len(), WRITERS * PER_WRITER, "nothing stored twice");

    // Each acknowledged delivery once.
    let mut events = remote::stored_ids(&server, &token, &org, &integration).await;
    events.sort();
    let mut expected = delivered;
    expected.sort();
    assert_eq!(events, expected, "each acknowledged delivery stored once");
    eprintln!(
        "postgres killed: {acked_before} acknowledged before, served again {resumed:?} after \
         the restart; refusals {:?}",
        seen.codes
    );
    drop(server);
}
