//! Signed deliveries accepted and stored with their exact payload, and
//! repeats (the same delivery, a re-signed retry) answered duplicate.

use ochre_tests::prelude::*;

use super::{
    http::{Http, accepted, duplicate, refused},
    providers::P,
    rpc::{app_with_every_provider, connect_hook, new_org, stored},
    signing::Hook,
};

#[tokio::test]
async fn every_provider_s_signed_delivery_is_accepted_and_listed_with_its_exact_payload() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in &hooks {
        let what = p.id();
        let delivery = Hook::new(*p, secret).build(&org.id, integration);
        let answer = http.post(&delivery).await;
        let event_id = accepted(&mut c, what, &answer);
        let events = stored(&app, &org, integration).await;
        c.eq(&format!("{what}: events stored"), events.len(), 1);
        let Some(event) = events.first() else {
            continue;
        };
        c.eq(&format!("{what}: id"), event.id.as_str(), event_id.as_str());
        c.eq(
            &format!("{what}: integration_id"),
            event.integration_id.as_str(),
            integration.as_str(),
        );
        c.eq(
            &format!("{what}: provider"),
            event.provider.as_str(),
            p.id(),
        );
        c.eq(
            &format!("{what}: delivery_id"),
            event.delivery_id.as_str(),
            delivery.delivery_id.as_str(),
        );
        c.that(
            event.payload == delivery.body,
            &format!(
                "{what}: payload differs from the body sent: {:?}",
                String::from_utf8_lossy(&event.payload)
            ),
        );
        c.eq(
            &format!("{what}: content_type"),
            event.content_type.as_str(),
            "application/json",
        );
        c.that(
            event.received_at.is_some(),
            &format!("{what}: received_at is set"),
        );
        let signed_at = event.signed_at.as_ref().map(|t| t.seconds);
        let expected = p.window_secs().map(|_| i64::try_from(delivery.ts).unwrap());
        c.eq(&format!("{what}: signed_at (seconds)"), signed_at, expected);
        // The event type each provider names: its own field where it has
        // one, something non-empty for Linear (`type`, `action`) and Meta.
        let event_type = event.event_type.as_str();
        let wanted = match p {
            P::Stripe => Some("customer.updated"),
            P::Slack => Some("app_mention"),
            P::HubSpot => Some("contact.propertyChange"),
            P::GitHub => Some("issues"),
            P::Resend => Some("email.delivered"),
            P::Paddle => Some("transaction.completed"),
            P::MercadoPago => Some("payment"),
            P::Linear | P::Meta => None,
        };
        match wanted {
            Some(wanted) => c.eq(&format!("{what}: event_type"), event_type, wanted),
            None => c.that(
                !event_type.is_empty(),
                &format!("{what}: an event_type is named"),
            ),
        }
    }
    c.verify();
}

#[tokio::test]
async fn a_repeated_delivery_is_answered_duplicate_and_stored_once() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in &hooks {
        let delivery = Hook::new(*p, secret).build(&org.id, integration);
        let first = http.post(&delivery).await;
        let event_id = accepted(&mut c, &format!("{}: first", p.id()), &first);
        for attempt in ["second", "third"] {
            let again = http.post(&delivery).await;
            duplicate(&mut c, &format!("{}: {attempt}", p.id()), &again);
        }
        let events = stored(&app, &org, integration).await;
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        c.eq(&format!("{}: stored", p.id()), ids, vec![event_id.as_str()]);
    }
    c.verify();
}

#[tokio::test]
async fn a_retry_re_signed_later_with_the_same_delivery_id_is_a_duplicate() {
    // Stripe and Svix re-sign each retry with a new timestamp; the event /
    // message id stays.
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in hooks
        .iter()
        .filter(|h| matches!(h.0, P::Stripe | P::Resend))
    {
        let hook = Hook::new(*p, secret).at(unix_now() - 60);
        let first = http.post(&hook.build(&org.id, integration)).await;
        accepted(&mut c, &format!("{}: first", p.id()), &first);
        let retry = hook.clone().at(unix_now()).build(&org.id, integration);
        let again = http.post(&retry).await;
        duplicate(&mut c, &format!("{}: retry", p.id()), &again);
        c.eq(p.id(), stored(&app, &org, integration).await.len(), 1);
    }
    c.verify();
}

#[tokio::test]
async fn the_same_delivery_id_in_two_orgs_is_stored_once_in_each() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let (a, b) = (new_org(&app, "A").await, new_org(&app, "B").await);
    let secret = P::GitHub.new_secret();
    let in_a = connect_hook(&app, &a, P::GitHub, &secret).await;
    let in_b = connect_hook(&app, &b, P::GitHub, &secret).await;
    let hook = Hook::new(P::GitHub, &secret);
    let mut c = Checks::default();
    accepted(&mut c, "org A", &http.post(&hook.build(&a.id, &in_a)).await);
    accepted(&mut c, "org B", &http.post(&hook.build(&b.id, &in_b)).await);
    duplicate(
        &mut c,
        "org A again",
        &http.post(&hook.build(&a.id, &in_a)).await,
    );
    c.eq("org A", stored(&app, &a, &in_a).await.len(), 1);
    c.eq("org B", stored(&app, &b, &in_b).await.len(), 1);
    c.verify();
}

#[tokio::test]
async fn standard_webhooks_header_names_are_accepted_like_svix_ones() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Resend").await;
    let secret = P::Resend.new_secret();
    let integration = connect_hook(&app, &org, P::Resend, &secret).await;
    let mut c = Checks::default();
    let delivery = Hook::new(P::Resend, &secret)
        .standard_headers()
        .build(&org.id, &integration);
    c.that(
        delivery.header("webhook-signature").is_some() && delivery.header("svix-id").is_none(),
        "the delivery uses webhook-* names only",
    );
    let event_id = accepted(&mut c, "webhook-* headers", &http.post(&delivery).await);
    duplicate(&mut c, "again", &http.post(&delivery).await);
    let flipped = Hook::new(P::Resend, &secret)
        .standard_headers()
        .flipped()
        .build(&org.id, &integration);
    let answer = http.post(&flipped).await;
    refused(
        &mut c,
        "webhook-* with a bad signature",
        &answer,
        401,
        &flipped,
    );
    let events = stored(&app, &org, &integration).await;
    let got: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.id.as_str(), e.delivery_id.as_str()))
        .collect();
    c.eq(
        "stored",
        got,
        vec![(event_id.as_str(), delivery.delivery_id.as_str())],
    );
    c.verify();
}
