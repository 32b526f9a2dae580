//! What keeps a verified delivery from being lost or stored twice when
//! things go wrong: replays under a fresh delivery id, and a database that
//! cannot answer in time (503 and a retry, never a 2xx without a row), and
//! senders that upload slowly (cut at a minimum rate, never starving genuine
//! deliveries).

use ochre_tests::{identity::superuser_execute, prelude::*, webhook_path};
use sea_orm::{ConnectionTrait as _, TransactionTrait as _};

use super::{
    http::{Http, accepted, duplicate},
    providers::P,
    rpc::{connect_hook, new_org, stored},
    signing::Hook,
};

#[tokio::test]
async fn a_signed_body_replayed_under_a_fresh_delivery_id_is_a_duplicate_for_github_and_linear() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Replay").await;
    let mut c = Checks::default();
    for (p, header) in [
        (P::GitHub, "x-github-delivery"),
        (P::Linear, "linear-delivery"),
    ] {
        let secret = p.new_secret();
        let integration = connect_hook(&app, &org, p, &secret).await;
        let delivery = Hook::new(p, &secret).build(&org.id, &integration);
        accepted(
            &mut c,
            &format!("{}: first", p.id()),
            &http.post(&delivery).await,
        );
        // The delivery id is outside the MAC: anyone holding the signed
        // body may send it again under another id.
        let replay = delivery.with_header(header, &uuid::Uuid::new_v4().to_string());
        duplicate(
            &mut c,
            &format!("{}: replay", p.id()),
            &http.post(&replay).await,
        );
        let rows = stored(&app, &org, &integration).await.len();
        c.eq(&format!("{}: rows", p.id()), rows, 1);
    }
    c.verify();
}

async fn post_while_integrations_are_locked(
    app: &TestApp,
    http: &Http,
    hook: &super::delivery::Delivery,
) -> super::http::Answer {
    let su = app.superuser_db().await;
    let tx = su.begin().await.unwrap();
    tx.execute_unprepared("LOCK TABLE integrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let answer = http.post(hook).await;
    tx.rollback().await.unwrap();
    answer
}

#[tokio::test]
async fn a_delivery_the_database_cannot_serve_in_time_gets_503_and_its_retry_is_stored_once() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Stall").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
    let mut c = Checks::default();
    let stalled = post_while_integrations_are_locked(&app, &http, &delivery).await;
    c.eq("stalled status", stalled.status, 503);
    c.that(
        stalled.headers.contains_key("retry-after"),
        "a 503 says when to retry",
    );
    c.that(
        !stalled.headers.contains_key("grpc-status"),
        "the answer is plain HTTP, not a gRPC timeout",
    );
    // The provider retries: stored once, whatever the stalled call did.
    let retry = http.post(&delivery).await;
    c.that(
        matches!(retry.outcome().as_str(), "accepted" | "duplicate") && retry.status == 200,
        &format!("the retry is acknowledged: {}", retry.show()),
    );
    c.eq("rows", stored(&app, &org, &integration).await.len(), 1);
    c.verify();
}

#[tokio::test]
async fn a_signing_secret_that_does_not_decrypt_gets_503_and_nothing_is_stored() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Ciphertext").await;
    let secret = P::GitHub.new_secret();
    let github = connect_hook(&app, &org, P::GitHub, &secret).await;
    let stripe = connect_hook(&app, &org, P::Stripe, &P::Stripe.new_secret()).await;
    let field = "webhook_signing_secret";
    let mut c = Checks::default();
    for (what, sql) in [
        (
            // Another integration's ciphertext: bound to its own row.
            "wrong row",
            format!(
                "UPDATE integration_secrets SET ciphertext = (SELECT ciphertext FROM integration_secrets \
                   WHERE integration_id = '{stripe}' AND field = '{field}') \
                 WHERE integration_id = '{github}' AND field = '{field}'"
            ),
        ),
        (
            "tampered",
            format!(
                "UPDATE integration_secrets SET ciphertext = set_byte(ciphertext, 40, get_byte(ciphertext, 40) # 1) \
                 WHERE integration_id = '{github}' AND field = '{field}'"
            ),
        ),
    ] {
        superuser_execute(&app, &sql).await;
        let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &github);
        let answer = http.post(&delivery).await;
        c.eq(&format!("{what}: status"), answer.status, 503);
        c.that(
            !answer.text.contains(&secret),
            &format!("{what}: the answer names no secret"),
        );
    }
    c.eq("rows", stored(&app, &org, &github).await.len(), 0);
    c.verify();
}

#[tokio::test]
async fn slow_uploads_to_random_integration_ids_do_not_starve_genuine_deliveries() {
    use tokio::io::AsyncWriteExt as _;
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Slowloris").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    // 160 senders that announce a large body and then trickle it (never
    // finishing while the genuine deliveries are sent), each to a random id
    // in the genuine org.
    let mut slow = Vec::new();
    for _ in 0..160 {
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let head = format!(
            "POST {} HTTP/1.1\r\nhost: ochre\r\n\
             x-hub-signature-256: sha256={}\r\nx-github-delivery: {}\r\n\
             x-github-event: issues\r\ncontent-type: application/json\r\n\
             content-length: 500000\r\n\r\n{{\"a\":",
            webhook_path("github", &org.id, &uuid::Uuid::new_v4().to_string()),
            "ab".repeat(32),
            uuid::Uuid::new_v4()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(stream);
    }
    let mut c = Checks::default();
    for i in 0..9 {
        let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
        accepted(
            &mut c,
            &format!("genuine delivery {i}"),
            &http.post(&delivery).await,
        );
    }
    drop(slow);
    c.verify();
}

#[tokio::test]
async fn slow_uploads_to_the_genuine_integration_lose_their_slots_and_genuine_deliveries_pass() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Trickle").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    // 16 senders from 16 addresses (every body slot of the integration) to
    // the real integration id, each trickling one byte every 200 ms: without
    // a minimum rate they would hold the slots for the whole body timeout.
    let mut slow = Vec::new();
    for i in 0..16u8 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 6, i + 1], 0)))
            .unwrap();
        let mut stream = socket.connect(app.addr).await.unwrap();
        let head = format!(
            "POST {} HTTP/1.1\r\nhost: ochre\r\n\
             x-hub-signature-256: sha256={}\r\nx-github-delivery: {}\r\n\
             x-github-event: issues\r\ncontent-type: application/json\r\n\
             content-length: 500000\r\n\r\n{{\"a\":",
            webhook_path("github", &org.id, &integration),
            "ab".repeat(32),
            uuid::Uuid::new_v4()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        slow.push(tokio::spawn(async move {
            for _ in 0..50 {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                if stream.write_all(b" ").await.is_err() {
                    break;
                }
            }
            let mut answer = vec![0u8; 64];
            let n = stream.read(&mut answer).await.unwrap_or(0);
            String::from_utf8_lossy(&answer[..n]).into_owned()
        }));
    }
    let mut c = Checks::default();
    for i in 0..9 {
        let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
        accepted(
            &mut c,
            &format!("genuine delivery {i}"),
            &http.post(&delivery).await,
        );
    }
    let mut cut = 0;
    for sender in slow {
        let answer = sender.await.unwrap();
        cut += usize::from(answer.starts_with("HTTP/1.1 408"));
    }
    c.eq("slow senders answered 408", cut, 16);
    c.eq("rows", stored(&app, &org, &integration).await.len(), 9);
    c.verify();
}
