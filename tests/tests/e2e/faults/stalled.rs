//! A database that stalls: a transaction of the operator's holds an
//! exclusive lock on the hot tables (`conversations`, `messages`) for longer
//! than any client waits. Calls that need them end within their deadline
//! with the server's DEADLINE_EXCEEDED or UNAVAILABLE (never a hang, never
//! INTERNAL, never the client's own timer), and once the lock is gone the
//! server serves them again at once: the pools recovered on their own
//! (a tenant transaction waits at most 5 s for a lock). The health check
//! reports the stall while it lasts.

use std::time::{Duration, Instant};

use ochre_sdk::v1::{AddMessageRequest, GetConversationRequest, MessageKind};
use ochre_tests::{
    clients::{ConversationClient, GrpcClient as _},
    cluster::cluster,
    identity::with_auth,
    process::{ServerProcess, health, health_becomes},
    support::Caller,
};
use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;

/// How long a client waits.
const DEADLINE: Duration = Duration::from_secs(2);

/// The operator's transaction that takes the hot tables (rolled back or
/// dropped to end the stall).
async fn lock_hot_tables(server: &ServerProcess) -> sea_orm::DatabaseTransaction {
    let su = cluster().await.connect_superuser(&server.database).await;
    let stall = su.begin().await.unwrap();
    stall
        .execute_unprepared("LOCK TABLE conversations, messages IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    stall
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_on_a_stalled_table_end_within_their_deadline_and_service_resumes_when_it_clears() {
    let server = ServerProcess::start(&[("OCHRE_DB_MAX_CONNECTIONS", "4")]).await;
    let (token, org) = server.owner_with_org("stalls").await;
    let caller = Caller::on(server.channel.clone(), &token, &org);
    let customer = caller.customer("stall.customer@example.com").await;
    let conversation = caller.conversation(&customer.id, "stuck").await.id;

    let add = |i: usize| {
        let mut request = with_auth(
            AddMessageRequest {
                conversation_id: conversation.clone(),
                kind: MessageKind::OutboundReply.into(),
                body: format!("during the stall {i}"),
                ..Default::default()
            },
            &token,
            Some(&org),
        );
        request.set_timeout(DEADLINE);
        let mut client = ConversationClient::on(server.channel.clone());
        async move { client.add_message(request).await.map(|_| ()) }
    };
    let get = || {
        let mut request = with_auth(
            GetConversationRequest {
                conversation_id: conversation.clone(),
            },
            &token,
            Some(&org),
        );
        request.set_timeout(DEADLINE);
        let mut client = ConversationClient::on(server.channel.clone());
        async move { client.get_conversation(request).await.map(|_| ()) }
    };

    // The operator's transaction takes the hot tables.
    let stall = lock_hot_tables(&server).await;

    // Twice the pool's size in flight, twice over.
    for round in 0..2 {
        let started = Instant::now();
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..8 {
            if i % 2 == 0 {
                calls.spawn(add(round * 8 + i));
            } else {
                calls.spawn(get());
            }
        }
        let answers: Vec<Result<(), Status>> = calls.join_all().await;
        let took = started.elapsed();
        assert!(
            took < DEADLINE + Duration::from_millis(1500),
            "round {round}: the calls ended {took:?} after they began"
        );
        for answer in &answers {
            let code = answer.as_ref().err().map(Status::code);
            assert!(
                matches!(code, Some(Code::DeadlineExceeded | Code::Unavailable)),
                "round {round}: a stalled call answered {answer:?}"
            );
        }
    }

    stall.rollback().await.unwrap();
    // Served again at once (a connection broken by the stall is replaced).
    let cleared = Instant::now();
    let mut last = None;
    while cleared.elapsed() < Duration::from_secs(5) {
        match (add(100).await, get().await) {
            (Ok(()), Ok(())) => {
                last = None;
                break;
            }
            other => last = Some(other),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last.is_none(), "not served again after the stall: {last:?}");
    let stored = caller.all_messages(&conversation, 100).await;
    assert!(
        stored.iter().any(|m| m.body == "during the stall 100"),
        "the write after the stall is stored"
    );
    drop(server);
}

/// GetConversation by a client that would wait 20 s for the answer.
async fn patient_read(
    server: &ServerProcess,
    token: &str,
    org: &str,
    conversation: &str,
) -> Result<tonic::Response<ochre_sdk::v1::GetConversationResponse>, Status> {
    let mut request = with_auth(
        GetConversationRequest {
            conversation_id: conversation.to_owned(),
        },
        token,
        Some(org),
    );
    request.set_timeout(Duration::from_secs(20));
    ConversationClient::on(server.channel.clone())
        .get_conversation(request)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_waiting_on_a_lock_gets_unavailable_after_five_seconds_and_health_reports_the_stall()
{
    let server = ServerProcess::start(&[]).await;
    let (token, org) = server.owner_with_org("stall health").await;
    let caller = Caller::on(server.channel.clone(), &token, &org);
    let customer = caller.customer("stall.health@example.com").await;
    let conversation = caller.conversation(&customer.id, "locked").await.id;
    assert_eq!(health(&server.channel).await, Some(ServingStatus::Serving));

    let stall = lock_hot_tables(&server).await;

    // A client that would wait 20 s: the transaction's own lock wait (5 s)
    // ends the call first, as a retryable UNAVAILABLE.
    let started = Instant::now();
    let answer = patient_read(&server, &token, &org, &conversation).await;
    let took = started.elapsed();
    let status = answer.expect_err("a call on a locked table cannot succeed");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        took >= Duration::from_millis(4500) && took < Duration::from_secs(9),
        "answered after {took:?}: the lock wait is 5 s"
    );
    assert!(
        !status.message().contains("lock"),
        "no internal text: {status:?}"
    );

    // Health: NOT_SERVING while the tables stay locked (the probe waits a
    // second for them; it runs every 5 s while serving) …
    assert!(
        health_becomes(
            &server.channel,
            ServingStatus::NotServing,
            Duration::from_secs(10)
        )
        .await,
        "health still SERVING while the request path's tables are locked"
    );
    stall.rollback().await.unwrap();
    // … and SERVING again soon after they are free.
    assert!(
        health_becomes(
            &server.channel,
            ServingStatus::Serving,
            Duration::from_secs(5)
        )
        .await,
        "health not SERVING again after the lock was released"
    );
    let log = server.stop();
    assert!(
        log.contains("a table of the request path is locked"),
        "the stall is logged"
    );
}

/// The same stall met by a GetConversation whose query is already prepared
/// on the server's one app connection: `BEGIN`, the identity call and the
/// query leave in one write, and the query waits for its lock only as long
/// as the identity call allows (it runs after it, in the same transaction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_sent_in_one_write_with_its_identity_call_waits_five_seconds_for_a_lock() {
    let server = ServerProcess::start(&[("OCHRE_DB_MAX_CONNECTIONS", "1")]).await;
    let (token, org) = server.owner_with_org("stall one write").await;
    let caller = Caller::on(server.channel.clone(), &token, &org);
    let customer = caller.customer("stall.one@example.com").await;
    let conversation = caller.conversation(&customer.id, "locked").await.id;
    let read = || patient_read(&server, &token, &org, &conversation);
    // Prepared on the one connection: the next read is one write.
    read().await.expect("a read before the stall");

    let stall = lock_hot_tables(&server).await;
    let started = Instant::now();
    let status = read().await.expect_err("a read on a locked table");
    let took = started.elapsed();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        took >= Duration::from_millis(4500) && took < Duration::from_secs(9),
        "answered after {took:?}: the lock wait is 5 s"
    );
    stall.rollback().await.unwrap();
    let read_again = read().await.expect("served again after the stall");
    assert_eq!(
        read_again.into_inner().conversation.map(|c| c.id),
        Some(conversation.clone())
    );
    drop(server);
}
