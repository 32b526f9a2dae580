//! Retries: reads ride out a killed and restarted server; an UNAVAILABLE
//! write is returned at once, never sent twice; a read through a flaky
//! connection is retried.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use ochre_sdk::{
    client::{OchreClient, Retry, rpc},
    v1::{
        Channel as Chan, ConversationStatus as St, CreateApiKeyRequest, ListConversationsRequest,
        ListCustomersRequest, UpdateConversationRequest,
        api_key_service_client::ApiKeyServiceClient,
    },
};
use ochre_tests::{
    identity::with_auth,
    prelude::*,
    process::ServerProcess,
    proxy::FlakyProxy,
    support::{Caller, open_request},
};

use super::{key_client, org_with_key, quick_backoff};

#[tokio::test]
async fn a_read_loop_rides_out_a_killed_and_restarted_server() {
    // Fixed secrets, so the restarted server accepts what the first issued.
    let secrets = ochre_tests::shared_secrets();
    let extra: Vec<(&str, &str)> = secrets.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = ServerProcess::start(&extra).await;
    let (port, database) = (server.port, server.database.clone());
    let (token, org) = server.owner_with_org("Restarts").await;
    // Creates are gaining a `request_id` (left empty here).
    #[allow(clippy::needless_update)]
    let request = CreateApiKeyRequest {
        name: "worker".to_owned(),
        role: Role::Agent.into(),
        ..Default::default()
    };
    let key = ApiKeyServiceClient::new(server.channel.clone())
        .create_api_key(with_auth(request, &token, Some(&org)))
        .await
        .expect("an API key")
        .into_inner()
        .secret;
    let client = OchreClient::builder(format!("http://127.0.0.1:{port}"))
        .api_key(&key)
        .org(&org)
        .retries(40)
        .backoff(quick_backoff())
        .build()
        .await
        .expect("a client");

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (client, stop, done) = (client.clone(), stop.clone(), done.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                client
                    .conversations()
                    .list_conversations(ListConversationsRequest::default())
                    .await?;
                done.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok::<_, ochre_sdk::client::OchreError>(())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(done.load(Ordering::SeqCst) > 0, "reads before the kill");
    server.kill();
    let at_kill = done.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let while_down = done.load(Ordering::SeqCst);
    let restarted = ServerProcess::start_on_port(database, port, &extra).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    reader
        .await
        .expect("the reader")
        .expect("no read failed: every one was retried until the server came back");
    let after = done.load(Ordering::SeqCst);
    assert!(after > while_down, "reads went on after the restart");
    // At most the one read in flight when it died completes afterwards.
    assert!(while_down <= at_kill + 1, "nothing was read while down");
    drop(restarted);
}

#[tokio::test]
async fn an_unavailable_write_is_not_retried_and_a_read_is() {
    let app = spawn_app().await;
    let (_, org, key) = org_with_key(&app).await;
    // The first two connections are cut before any answer.
    let proxy = FlakyProxy::start(app.addr, 2).await;
    let client = key_client(proxy.url(), &key, &org).await;
    assert_eq!(
        rpc("/ochre.v1.ConversationService/UpdateConversation").map(|r| r.retry),
        Some(Retry::Never),
        "a write without a request_id"
    );

    let write = client
        .conversations()
        .update_conversation(UpdateConversationRequest::default())
        .await
        .expect_err("the connection is cut");
    assert_eq!(write.code(), Code::Unavailable, "{write:?}");
    assert_eq!(proxy.connections(), 1, "the write was sent once");

    let page = client
        .customers()
        .list_customers(ListCustomersRequest::default())
        .await
        .expect("the read is retried through a new connection");
    assert!(page.customers.is_empty());
    assert_eq!(
        proxy.connections(),
        3,
        "one cut attempt, then one that went through"
    );
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_retried_with_its_request_id_and_made_once() {
    let app = spawn_app().await;
    let (owner, org, key) = org_with_key(&app).await;
    let agent = Caller::user(&app, &owner, &org);
    let customer = agent.customer("lost-answer@example.com").await;
    // The first attempt reaches the server, which creates the conversation;
    // its answer is lost and the connection closed.
    let proxy = FlakyProxy::losing_answers(app.addr, 1, Duration::from_millis(500)).await;
    let client = key_client(proxy.url(), &key, &org).await;
    assert_eq!(
        rpc("/ochre.v1.ConversationService/CreateConversation").map(|r| r.retry),
        Some(Retry::WithRequestId)
    );
    let conversation = client
        .conversations()
        .create_conversation(open_request(&customer.id, Chan::Email.into(), "Lost"))
        .await
        .expect("retried with the same request_id")
        .conversation
        .expect("the conversation");
    assert_eq!(proxy.connections(), 2, "one lost answer, one retry");
    // The answer is the first attempt's: made before the retry connected.
    let retry_at = proxy.accepted_at()[1];
    let created_at = conversation.created_at.expect("created_at");
    assert!(
        std::time::SystemTime::try_from(created_at).expect("a time") < retry_at,
        "created by the first attempt"
    );
    let all = agent.all_conversation_ids(St::Unspecified, "", 100).await;
    assert_eq!(all, vec![conversation.id], "one conversation");
}

#[tokio::test]
async fn retries_off_return_the_first_unavailable() {
    let app = spawn_app().await;
    let (_, org, key) = org_with_key(&app).await;
    let proxy = FlakyProxy::start(app.addr, 1).await;
    let client = OchreClient::builder(proxy.url())
        .api_key(&key)
        .org(&org)
        .retries(0)
        .build()
        .await
        .expect("a client");
    let err = client
        .customers()
        .list_customers(ListCustomersRequest::default())
        .await
        .expect_err("no retry");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(proxy.connections(), 1);
}

#[tokio::test]
async fn a_call_that_gets_no_answer_times_out_and_is_not_retried() {
    let hole = FlakyProxy::black_hole().await;
    let client = OchreClient::builder(hole.url())
        .api_key("ok_FAKE_key_of_nobody")
        .org(uuid::Uuid::new_v4())
        .timeout(Duration::from_millis(300))
        .backoff(quick_backoff())
        .build()
        .await
        .expect("a client");
    let started = std::time::Instant::now();
    let err = client
        .customers()
        .list_customers(ListCustomersRequest::default())
        .await
        .expect_err("no answer");
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(hole.connections(), 1, "a timeout is not retried");
}
