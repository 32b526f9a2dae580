//! What is refused before verification: unknown paths and integrations
//! (404), an integration named under another org than its own (404, as
//! unknown), other methods (405), bodies over 1 MiB (413), and the order of
//! those checks against the integration lookup and the window.

use ochre_tests::{identity::superuser_execute, prelude::*, webhook_path};

use super::{
    http::{Http, MAX_BODY, accepted},
    operator::delivery_count,
    providers::P,
    rpc::{connect_hook, new_org, nothing_stored, stored},
    signing::{Hook, github_body_of},
};

#[tokio::test]
async fn unknown_providers_and_malformed_unknown_or_mismatched_org_or_integration_ids_are_404() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Paths").await;
    let secret = P::GitHub.new_secret();
    let github = connect_hook(&app, &org, P::GitHub, &secret).await;
    // A Stripe integration with the same secret: a GitHub-signed delivery
    // to its id under /webhooks/github/{org}/ must still be refused.
    let stripe = connect_hook(&app, &org, P::Stripe, &secret).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut c = Checks::default();
    let cases = [
        ("unknown provider", webhook_path("gitlab", &org.id, &github)),
        (
            "catalog provider without webhooks",
            webhook_path("openai", &org.id, &github),
        ),
        (
            "malformed integration id",
            webhook_path("github", &org.id, "not-a-uuid"),
        ),
        (
            "malformed org id",
            webhook_path("github", "not-a-uuid", &github),
        ),
        (
            "unknown integration id",
            webhook_path("github", &org.id, &unknown),
        ),
        ("unknown org id", webhook_path("github", &unknown, &github)),
        (
            "other provider's integration",
            webhook_path("github", &org.id, &stripe),
        ),
        ("no integration id", format!("/webhooks/github/{}/", org.id)),
        (
            "no org id (the old path)",
            format!("/webhooks/github/{github}"),
        ),
        (
            "an extra segment",
            format!("{}/more", webhook_path("github", &org.id, &github)),
        ),
    ];
    for (what, path) in cases {
        let delivery = Hook::new(P::GitHub, &secret)
            .build(&org.id, &github)
            .at_path(&path);
        let answer = http.post(&delivery).await;
        c.that(
            answer.status == 404,
            &format!("{what} ({path}): expected 404, got {}", answer.show()),
        );
        c.that(
            !answer.text.contains(&delivery.canary) && !answer.text.contains(&secret),
            &format!("{what}: the answer echoes the body or the secret"),
        );
    }
    nothing_stored(&mut c, "github", &app, &org, &github).await;
    nothing_stored(&mut c, "stripe", &app, &org, &stripe).await;
    // The control: the right path is accepted.
    let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &github);
    accepted(&mut c, "the right path", &http.post(&delivery).await);
    c.verify();
}

#[tokio::test]
async fn an_integration_of_an_org_pending_deletion_is_410_and_stores_nothing() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Deleted").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let id = &org.id;
    superuser_execute(
        &app,
        &format!(
            "UPDATE orgs SET deleted_at = now(), purge_after = now() + interval '30 days' WHERE id = '{id}'"
        ),
    )
    .await;
    let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
    let answer = http.post(&delivery).await;
    assert_eq!(answer.status, 410, "{}", answer.show());
    // Restored, the org shows nothing was stored while it was pending deletion.
    superuser_execute(
        &app,
        &format!("UPDATE orgs SET deleted_at = NULL, purge_after = NULL WHERE id = '{id}'"),
    )
    .await;
    let events = stored(&app, &org, &integration).await;
    assert!(events.is_empty(), "stored while deleted: {events:?}");
}

#[tokio::test]
async fn a_method_other_than_post_is_405() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Methods").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
    let mut c = Checks::default();
    for method in [
        http::Method::GET,
        http::Method::PUT,
        http::Method::DELETE,
        http::Method::PATCH,
    ] {
        let answer = http
            .send(
                method.clone(),
                &delivery.path,
                &delivery.headers,
                delivery.body.clone(),
            )
            .await;
        c.that(
            answer.status == 405,
            &format!("{method}: expected 405, got {}", answer.show()),
        );
    }
    nothing_stored(&mut c, "after other methods", &app, &org, &integration).await;
    c.verify();
}

#[tokio::test]
async fn a_body_of_exactly_one_mebibyte_is_accepted_and_one_byte_more_is_413() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Sizes").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let mut c = Checks::default();
    let too_large = github_body_of(&secret, &org.id, &integration, MAX_BODY + 1);
    let answer = http.post(&too_large).await;
    c.that(
        answer.status == 413,
        &format!("1 MiB + 1: expected 413, got {}", answer.show()),
    );
    nothing_stored(&mut c, "1 MiB + 1", &app, &org, &integration).await;
    let largest = github_body_of(&secret, &org.id, &integration, MAX_BODY);
    let event_id = accepted(&mut c, "exactly 1 MiB", &http.post(&largest).await);
    let events = stored(&app, &org, &integration).await;
    c.eq("stored", events.len(), 1);
    if let Some(event) = events.first() {
        c.eq("id", event.id.as_str(), event_id.as_str());
        c.that(
            event.payload == largest.body,
            "the 1 MiB payload is stored byte for byte",
        );
    }
    c.verify();
}

#[tokio::test]
async fn size_and_header_checks_come_before_the_integration_lookup_and_the_window_after_the_mac() {
    // README, "Inbound webhooks": 413, then 400, without touching the
    // database; the window is judged only on an authenticated timestamp,
    // so an unknown integration is 404 whatever its timestamp says.
    let app = spawn_app().await;
    let http = Http::new(&app);
    let secret = P::Stripe.new_secret();
    let unknown = uuid::Uuid::now_v7().to_string();
    let unknown_org = uuid::Uuid::now_v7().to_string();
    let mut c = Checks::default();
    let fresh = Hook::new(P::Stripe, &secret).build(&unknown_org, &unknown);
    let too_large = fresh.clone().with_body(vec![b' '; MAX_BODY + 1]);
    c.eq("too large", http.post(&too_large).await.status, 413);
    let missing = fresh.clone().without_header("stripe-signature");
    c.eq("no signature header", http.post(&missing).await.status, 400);
    for (what, ts) in [("stale", unix_now() - 3600), ("future", unix_now() + 3600)] {
        let delivery = Hook::new(P::Stripe, &secret)
            .at(ts)
            .build(&unknown_org, &unknown);
        let answer = http.post(&delivery).await;
        c.that(
            answer.status == 404,
            &format!(
                "{what} to an unknown integration: expected 404, got {}",
                answer.show()
            ),
        );
    }
    c.eq("fresh", http.post(&fresh).await.status, 404);
    c.verify();
}

/// The status line answered to the head of a GitHub delivery (well-formed
/// signature headers) to `path` whose announced body never comes: a path
/// refused before the body is read is answered at once; one whose body is
/// read waits for it and is cut for its rate (408).
async fn answer_to_a_head_alone(app: &TestApp, path: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: ochre\r\n\
         x-hub-signature-256: sha256={}\r\nx-github-delivery: {}\r\n\
         x-github-event: issues\r\ncontent-type: application/json\r\n\
         content-length: 500000\r\n\r\n",
        "ab".repeat(32),
        uuid::Uuid::new_v4()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 64];
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(15), stream.read(&mut answer)).await;
    let n = read.map_or(0, |r| r.unwrap_or(0));
    let text = String::from_utf8_lossy(&answer[..n]).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_genuine_delivery_sent_under_another_org_the_attacker_owns_is_unknown_and_stores_nothing()
{
    let app = spawn_app().await;
    let http = Http::new(&app);
    let victim = new_org(&app, "Victim").await;
    let attacker = new_org(&app, "Attacker").await;
    let secret = P::GitHub.new_secret();
    let theirs = connect_hook(&app, &victim, P::GitHub, &secret).await;
    // The attacker's own GitHub integration, even under the same signing
    // secret: the victim's integration id under the attacker's org must
    // find nothing, so nothing can verify.
    let mine = connect_hook(&app, &attacker, P::GitHub, &secret).await;
    let mut c = Checks::default();
    // The answer to an unknown integration, as it was before the org was
    // in the path.
    let unknown = uuid::Uuid::now_v7().to_string();
    let baseline = Hook::new(P::GitHub, &secret).build(&victim.id, &unknown);
    let baseline = http.post(&baseline).await;
    c.eq("an unknown integration", baseline.status, 404);
    let genuine = Hook::new(P::GitHub, &secret).build(&victim.id, &theirs);
    let before = app.metrics().await;
    let attempts = [
        (
            "the victim's integration under the attacker's org",
            webhook_path("github", &attacker.id, &theirs),
        ),
        (
            "the attacker's integration under the victim's org",
            webhook_path("github", &victim.id, &mine),
        ),
        (
            "a malformed org segment",
            webhook_path("github", "not-an-org", &theirs),
        ),
        (
            "an org segment that is not a UUID but contains one",
            webhook_path("github", &format!("{}x", victim.id), &theirs),
        ),
    ];
    for (what, path) in &attempts {
        let answer = http.post(&genuine.clone().at_path(path)).await;
        c.that(
            answer.status == baseline.status && answer.text == baseline.text,
            &format!(
                "{what}: expected the unknown integration's {}, got {}",
                baseline.show(),
                answer.show()
            ),
        );
        c.that(
            !answer.text.contains(&genuine.canary),
            &format!("{what}: the answer echoes the body"),
        );
    }
    // Counted as an unknown integration is.
    let after = app.metrics().await;
    let not_found = delivery_count(&after, "github", "not_found")
        - delivery_count(&before, "github", "not_found");
    c.eq("not_found deliveries", not_found, attempts.len() as u64);
    c.eq(
        "accepted deliveries",
        delivery_count(&after, "github", "accepted")
            - delivery_count(&before, "github", "accepted"),
        0,
    );
    // Refused before a body byte is read: answered while the announced
    // body never comes (the right pair waits for its body and is cut).
    for (what, path) in &attempts {
        let status = answer_to_a_head_alone(&app, path).await;
        c.that(
            status.starts_with("HTTP/1.1 404"),
            &format!("{what}, head alone: expected 404, got {status:?}"),
        );
    }
    let right = webhook_path("github", &victim.id, &theirs);
    let status = answer_to_a_head_alone(&app, &right).await;
    c.that(
        status.starts_with("HTTP/1.1 408"),
        &format!("the right pair, head alone: expected 408, got {status:?}"),
    );
    nothing_stored(&mut c, "victim's integration", &app, &victim, &theirs).await;
    nothing_stored(&mut c, "attacker's integration", &app, &attacker, &mine).await;
    nothing_stored(&mut c, "victim's org", &app, &victim, "").await;
    nothing_stored(&mut c, "attacker's org", &app, &attacker, "").await;
    // The control: the same delivery under its own org is accepted, and
    // lands in the victim's org only.
    let event_id = accepted(&mut c, "the right pair", &http.post(&genuine).await);
    let events = stored(&app, &victim, &theirs).await;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    c.eq("stored for the victim", ids, vec![event_id.as_str()]);
    nothing_stored(&mut c, "attacker's org after", &app, &attacker, "").await;
    c.verify();
}
