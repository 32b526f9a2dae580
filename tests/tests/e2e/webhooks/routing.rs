//! What is refused before verification: unknown paths and integrations
//! (404), other methods (405), bodies over 1 MiB (413), and the order
//! of those checks against the integration lookup and the window.

use ochre_tests::{identity::superuser_execute, prelude::*};

use super::{
    http::{Http, MAX_BODY, accepted},
    providers::P,
    rpc::{connect_hook, new_org, nothing_stored, stored},
    signing::{Hook, github_body_of},
};

#[tokio::test]
async fn unknown_providers_and_malformed_unknown_or_mismatched_integration_ids_are_404() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Paths").await;
    let secret = P::GitHub.new_secret();
    let github = connect_hook(&app, &org, P::GitHub, &secret).await;
    // A Stripe integration with the same secret: a GitHub-signed delivery
    // to its id under /webhooks/github/ must still be refused.
    let stripe = connect_hook(&app, &org, P::Stripe, &secret).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut c = Checks::default();
    let cases = [
        ("unknown provider", format!("/webhooks/gitlab/{github}")),
        (
            "catalog provider without webhooks",
            format!("/webhooks/openai/{github}"),
        ),
        (
            "malformed integration id",
            "/webhooks/github/not-a-uuid".to_owned(),
        ),
        (
            "unknown integration id",
            format!("/webhooks/github/{unknown}"),
        ),
        (
            "other provider's integration",
            format!("/webhooks/github/{stripe}"),
        ),
        ("no integration id", "/webhooks/github/".to_owned()),
        (
            "an extra segment",
            format!("/webhooks/github/{github}/more"),
        ),
    ];
    for (what, path) in cases {
        let delivery = Hook::new(P::GitHub, &secret).build(&github).at_path(&path);
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
    let delivery = Hook::new(P::GitHub, &secret).build(&github);
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
    let delivery = Hook::new(P::GitHub, &secret).build(&integration);
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
    let delivery = Hook::new(P::GitHub, &secret).build(&integration);
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
    let too_large = github_body_of(&secret, &integration, MAX_BODY + 1);
    let answer = http.post(&too_large).await;
    c.that(
        answer.status == 413,
        &format!("1 MiB + 1: expected 413, got {}", answer.show()),
    );
    nothing_stored(&mut c, "1 MiB + 1", &app, &org, &integration).await;
    let largest = github_body_of(&secret, &integration, MAX_BODY);
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
    let mut c = Checks::default();
    let fresh = Hook::new(P::Stripe, &secret).build(&unknown);
    let too_large = fresh.clone().with_body(vec![b' '; MAX_BODY + 1]);
    c.eq("too large", http.post(&too_large).await.status, 413);
    let missing = fresh.clone().without_header("stripe-signature");
    c.eq("no signature header", http.post(&missing).await.status, 400);
    for (what, ts) in [("stale", unix_now() - 3600), ("future", unix_now() + 3600)] {
        let delivery = Hook::new(P::Stripe, &secret).at(ts).build(&unknown);
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
