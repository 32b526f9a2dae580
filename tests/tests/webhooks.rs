//! Webhook ingress end to end: `POST /webhooks/{provider}/{integration_id}`
//! on the gRPC port, signed as each of the nine providers signs (computed
//! here, independently of the server's verifier), verified under the
//! integration's pasted signing secret, stored once per delivery id, and
//! listed through `WebhookService.ListWebhookEvents`; plus `/metrics` and
//! `/cron/{job}` behind the cron bearer.

#![allow(clippy::unwrap_used, unused_imports)]

mod webhooks_common;

use std::collections::HashSet;

use ochre_sdk::v1::Role;
use ochre_tests::{
    TestApp,
    identity::{add_member, code_of, superuser_execute},
    spawn_app,
    support::Checks,
};
use sea_orm::ConnectionTrait as _;
use tonic::Code;
use webhooks_common::*;

/// An app and an org with one integration per provider, each with its own
/// signing secret.
async fn app_with_every_provider() -> (TestApp, Org, Vec<(P, String, String)>) {
    let app = spawn_app().await;
    let org = new_org(&app, "Hooks").await;
    let mut hooks = Vec::new();
    for p in P::ALL {
        let secret = p.new_secret();
        let id = connect_hook(&app, &org, p, &secret).await;
        hooks.push((p, secret, id));
    }
    (app, org, hooks)
}

#[tokio::test]
async fn every_provider_s_signed_delivery_is_accepted_and_listed_with_its_exact_payload() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in &hooks {
        let what = p.id();
        let delivery = Hook::new(*p, secret).build(integration);
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
async fn a_tampered_body_or_signed_header_is_refused_with_401_and_nothing_is_stored() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in &hooks {
        let delivery = Hook::new(*p, secret).build(integration);
        let tampered = delivery.clone().tampered();
        let answer = http.post(&tampered).await;
        refused(
            &mut c,
            &format!("{}: tampered data", p.id()),
            &answer,
            401,
            &tampered,
        );
        if let Some(changed) = delivery.signed_header_changed() {
            let answer = http.post(&changed).await;
            let what = format!("{}: signed header changed", p.id());
            refused(&mut c, &what, &answer, 401, &changed);
        }
        nothing_stored(&mut c, p.id(), &app, &org, integration).await;
    }
    c.verify();
}

#[tokio::test]
async fn a_tampered_signature_or_a_wrong_secret_is_refused_with_401_and_nothing_is_stored() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in &hooks {
        let flipped = Hook::new(*p, secret).flipped().build(integration);
        let answer = http.post(&flipped).await;
        let what = format!("{}: tampered signature", p.id());
        refused(&mut c, &what, &answer, 401, &flipped);
        let stranger = p.new_secret();
        let wrong = Hook::new(*p, &stranger).build(integration);
        let answer = http.post(&wrong).await;
        let what = format!("{}: wrong secret", p.id());
        refused(&mut c, &what, &answer, 401, &wrong);
        // The right secret's refusal must not echo it either.
        let mut echoed = wrong.clone();
        echoed.secrets.push(secret.clone());
        refused(&mut c, &what, &answer, 401, &echoed);
        nothing_stored(&mut c, p.id(), &app, &org, integration).await;
    }
    c.verify();
}

#[tokio::test]
async fn a_stale_or_far_future_timestamp_is_refused_with_401_for_every_provider_that_signs_one() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    let mut inside = Vec::new();
    for (p, secret, integration) in &hooks {
        let Some(window) = p.window_secs() else {
            continue;
        };
        let stale = Hook::new(*p, secret)
            .at(now() - window - 30)
            .build(integration);
        let answer = http.post(&stale).await;
        refused(&mut c, &format!("{}: stale", p.id()), &answer, 401, &stale);
        let future = Hook::new(*p, secret)
            .at(now() + window + 30)
            .build(integration);
        let answer = http.post(&future).await;
        refused(
            &mut c,
            &format!("{}: future", p.id()),
            &answer,
            401,
            &future,
        );
        nothing_stored(&mut c, p.id(), &app, &org, integration).await;
        if window >= 60 {
            inside.push((*p, secret.clone(), integration.clone(), window));
        }
    }
    // Inside the window, older and newer than now, is accepted.
    for (p, secret, integration, window) in inside {
        for ts in [now() - window / 2, now() + window / 2] {
            let delivery = Hook::new(p, &secret).at(ts).build(&integration);
            let answer = http.post(&delivery).await;
            let what = format!("{}: {ts} inside the window", p.id());
            accepted(&mut c, &what, &answer);
        }
    }
    c.verify();
}

#[tokio::test]
async fn a_delivery_without_a_timestamp_window_is_accepted_however_old_it_is() {
    // GitHub and Meta sign no timestamp: nothing to be stale.
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in hooks.iter().filter(|h| h.0.window_secs().is_none()) {
        let delivery = Hook::new(*p, secret)
            .at(now() - 86_400 * 30)
            .build(integration);
        let answer = http.post(&delivery).await;
        accepted(&mut c, p.id(), &answer);
        c.eq(p.id(), stored(&app, &org, integration).await.len(), 1);
    }
    c.verify();
}

#[tokio::test]
async fn a_missing_or_malformed_signature_header_is_refused_with_400_and_nothing_is_stored() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in &hooks {
        let delivery = Hook::new(*p, secret).build(integration);
        let sig = p.signature_header();
        let missing = delivery.clone().without_header(sig);
        let answer = http.post(&missing).await;
        refused(
            &mut c,
            &format!("{}: no {sig}", p.id()),
            &answer,
            400,
            &missing,
        );
        let malformed = delivery.clone().with_header(sig, p.malformed_signature());
        let answer = http.post(&malformed).await;
        let what = format!("{}: malformed {sig}", p.id());
        refused(&mut c, &what, &answer, 400, &malformed);
        for other in p.other_required_headers() {
            let missing = delivery.clone().without_header(other);
            let answer = http.post(&missing).await;
            refused(
                &mut c,
                &format!("{}: no {other}", p.id()),
                &answer,
                400,
                &missing,
            );
        }
        nothing_stored(&mut c, p.id(), &app, &org, integration).await;
    }
    c.verify();
}

#[tokio::test]
async fn a_repeated_delivery_is_answered_duplicate_and_stored_once() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in &hooks {
        let delivery = Hook::new(*p, secret).build(integration);
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
        let hook = Hook::new(*p, secret).at(now() - 60);
        let first = http.post(&hook.build(integration)).await;
        accepted(&mut c, &format!("{}: first", p.id()), &first);
        let retry = hook.clone().at(now()).build(integration);
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
    accepted(&mut c, "org A", &http.post(&hook.build(&in_a)).await);
    accepted(&mut c, "org B", &http.post(&hook.build(&in_b)).await);
    duplicate(&mut c, "org A again", &http.post(&hook.build(&in_a)).await);
    c.eq("org A", stored(&app, &a, &in_a).await.len(), 1);
    c.eq("org B", stored(&app, &b, &in_b).await.len(), 1);
    c.verify();
}

#[tokio::test]
async fn a_rotated_secret_accepts_the_new_and_the_previous_secret_and_refuses_an_unknown_one() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Rotation").await;
    let mut c = Checks::default();
    for p in P::ALL {
        let (old, new, unknown) = (p.new_secret(), p.new_secret(), p.new_secret());
        let integration = connect_hook(&app, &org, p, &old).await;
        let again = connect_hook(&app, &org, p, &new).await;
        c.eq(
            &format!("{}: same integration", p.id()),
            &again,
            &integration,
        );
        for (label, secret) in [("new", &new), ("previous", &old)] {
            let delivery = Hook::new(p, secret).build(&integration);
            let answer = http.post(&delivery).await;
            accepted(&mut c, &format!("{}: {label} secret", p.id()), &answer);
        }
        let delivery = Hook::new(p, &unknown).build(&integration);
        let answer = http.post(&delivery).await;
        let what = format!("{}: unknown secret", p.id());
        refused(&mut c, &what, &answer, 401, &delivery);
        c.eq(p.id(), stored(&app, &org, &integration).await.len(), 2);
    }
    c.verify();
}

/// Sets the age of `integration`'s `<field>.previous` row; the rows changed.
async fn age_previous(app: &TestApp, integration: &str, field: &str, hours: u32) -> u64 {
    app.superuser_db()
        .await
        .execute_unprepared(&format!(
            "UPDATE integration_secrets SET updated_at = now() - interval '{hours} hours' \
              WHERE integration_id = '{integration}' AND field = '{field}.previous'"
        ))
        .await
        .unwrap()
        .rows_affected()
}

#[tokio::test]
async fn a_previous_secret_older_than_24_hours_is_refused_and_the_new_one_still_works() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Rotation").await;
    let mut c = Checks::default();
    for p in P::ALL {
        let (old, new) = (p.new_secret(), p.new_secret());
        let integration = connect_hook(&app, &org, p, &old).await;
        connect_hook(&app, &org, p, &new).await;
        let rows = age_previous(&app, &integration, p.field(), 23).await;
        c.eq(
            &format!("{}: rows named {}.previous", p.id(), p.field()),
            rows,
            1,
        );
        let delivery = Hook::new(p, &old).build(&integration);
        let answer = http.post(&delivery).await;
        accepted(&mut c, &format!("{}: previous after 23 h", p.id()), &answer);
        age_previous(&app, &integration, p.field(), 25).await;
        let delivery = Hook::new(p, &old).build(&integration);
        let answer = http.post(&delivery).await;
        let what = format!("{}: previous secret after 25 h", p.id());
        refused(&mut c, &what, &answer, 401, &delivery);
        let delivery = Hook::new(p, &new).build(&integration);
        let answer = http.post(&delivery).await;
        accepted(&mut c, &format!("{}: new secret", p.id()), &answer);
        c.eq(p.id(), stored(&app, &org, &integration).await.len(), 2);
    }
    c.verify();
}

#[tokio::test]
async fn a_second_rotation_keeps_only_the_secret_it_replaced() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Rotation").await;
    let mut c = Checks::default();
    for p in P::ALL {
        let (first, second, third) = (p.new_secret(), p.new_secret(), p.new_secret());
        let integration = connect_hook(&app, &org, p, &first).await;
        connect_hook(&app, &org, p, &second).await;
        connect_hook(&app, &org, p, &third).await;
        for (label, secret) in [("third (current)", &third), ("second (previous)", &second)] {
            let delivery = Hook::new(p, secret).build(&integration);
            let answer = http.post(&delivery).await;
            accepted(&mut c, &format!("{}: {label}", p.id()), &answer);
        }
        let delivery = Hook::new(p, &first).build(&integration);
        let answer = http.post(&delivery).await;
        let what = format!("{}: first, replaced twice", p.id());
        refused(&mut c, &what, &answer, 401, &delivery);
    }
    c.verify();
}

#[tokio::test]
async fn several_signatures_in_one_header_are_accepted_when_any_one_matches() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in hooks.iter().filter(|h| h.0.multi_signature()) {
        let (x, y) = (p.new_secret(), p.new_secret());
        for (label, secrets) in [
            ("unknown then right", [x.as_str(), secret.as_str()]),
            ("right then unknown", [secret.as_str(), y.as_str()]),
        ] {
            let delivery = Hook::new(*p, secret).signed_by(&secrets).build(integration);
            let sig = delivery.header(p.signature_header()).unwrap_or_default();
            let what = format!("{}: {label} ({sig})", p.id());
            accepted(&mut c, &what, &http.post(&delivery).await);
        }
        let delivery = Hook::new(*p, secret)
            .signed_by(&[&x, &y])
            .build(integration);
        let answer = http.post(&delivery).await;
        let what = format!("{}: two unknown signatures", p.id());
        refused(&mut c, &what, &answer, 401, &delivery);
        c.eq(p.id(), stored(&app, &org, integration).await.len(), 2);
    }
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
        .build(&integration);
    c.that(
        delivery.header("webhook-signature").is_some() && delivery.header("svix-id").is_none(),
        "the delivery uses webhook-* names only",
    );
    let event_id = accepted(&mut c, "webhook-* headers", &http.post(&delivery).await);
    duplicate(&mut c, "again", &http.post(&delivery).await);
    let flipped = Hook::new(P::Resend, &secret)
        .standard_headers()
        .flipped()
        .build(&integration);
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

#[tokio::test]
async fn a_signed_slack_url_verification_is_answered_with_its_challenge() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Slack").await;
    let secret = P::Slack.new_secret();
    let integration = connect_hook(&app, &org, P::Slack, &secret).await;
    let challenge = format!(
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P{}",
        now()
    );
    let body = format!(
        r#"{{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"{challenge}","type":"url_verification"}}"#
    );
    let ts = now();
    let tag = mac(
        secret.as_bytes(),
        &[b"v0:", ts.to_string().as_bytes(), b":", body.as_bytes()],
    );
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-slack-request-timestamp".to_owned(), ts.to_string()),
        (
            "x-slack-signature".to_owned(),
            format!("v0={}", hex::encode(tag)),
        ),
    ];
    let path = format!("/webhooks/slack/{integration}");
    let answer = http
        .send(
            http::Method::POST,
            &path,
            &headers,
            body.clone().into_bytes(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.show());
    assert_eq!(
        answer.json(),
        serde_json::json!({ "challenge": challenge }),
        "{}",
        answer.show()
    );
    let mut bad = headers.clone();
    bad[2].1 = format!(
        "v0={}",
        hex::encode(mac(b"not the secret", &[body.as_bytes()]))
    );
    let answer = http
        .send(http::Method::POST, &path, &bad, body.into_bytes())
        .await;
    assert_eq!(answer.status, 401, "{}", answer.show());
    assert!(
        !answer.text.contains(&challenge),
        "an unverified challenge is not echoed: {}",
        answer.show()
    );
}

/// Posts `body` as HubSpot v3 signs it (full public URL, ms timestamp).
async fn post_hubspot(http: &Http, secret: &str, integration: &str, body: &str) -> Answer {
    use base64::Engine as _;
    let path = format!("/webhooks/hubspot/{integration}");
    let ms = (now() * 1000).to_string();
    let url = format!("{PUBLIC_URL}{path}");
    let tag = mac(
        secret.as_bytes(),
        &[b"POST", url.as_bytes(), body.as_bytes(), ms.as_bytes()],
    );
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hubspot-request-timestamp".to_owned(), ms),
        (
            "x-hubspot-signature-v3".to_owned(),
            base64::engine::general_purpose::STANDARD.encode(tag),
        ),
    ];
    http.send(
        http::Method::POST,
        &path,
        &headers,
        body.as_bytes().to_vec(),
    )
    .await
}

/// A HubSpot batch body with these event ids.
fn hubspot_batch(ids: &[u64]) -> String {
    let ms = now() * 1000;
    let events: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(r#"{{"eventId":{id},"subscriptionType":"contact.creation","occurredAt":{ms}}}"#)
        })
        .collect();
    format!("[{}]", events.join(","))
}

#[tokio::test]
async fn a_hubspot_batch_is_one_delivery_identified_by_all_its_event_ids() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "HubSpot").await;
    let secret = P::HubSpot.new_secret();
    let integration = connect_hook(&app, &org, P::HubSpot, &secret).await;
    let body = hubspot_batch(&[1001, 1002]);
    let mut c = Checks::default();
    let first = post_hubspot(&http, &secret, &integration, &body).await;
    accepted(&mut c, "batch", &first);
    let again = post_hubspot(&http, &secret, &integration, &body).await;
    duplicate(&mut c, "batch again", &again);
    let events = stored(&app, &org, &integration).await;
    let got: Vec<(&str, &[u8])> = events
        .iter()
        .map(|e| (e.delivery_id.as_str(), e.payload.as_slice()))
        .collect();
    c.eq("stored", got, vec![("1001,1002", body.as_bytes())]);
    c.verify();
}

#[tokio::test]
async fn a_delivery_id_over_200_characters_is_kept_as_its_sha256_and_still_deduplicates() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "HubSpot").await;
    let secret = P::HubSpot.new_secret();
    let integration = connect_hook(&app, &org, P::HubSpot, &secret).await;
    let ids: Vec<u64> = (0..30).map(|i| 4_000_000_000_000 + i).collect();
    let joined = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    assert!(joined.len() > 200);
    let body = hubspot_batch(&ids);
    let mut c = Checks::default();
    accepted(
        &mut c,
        "long batch",
        &post_hubspot(&http, &secret, &integration, &body).await,
    );
    duplicate(
        &mut c,
        "long batch again",
        &post_hubspot(&http, &secret, &integration, &body).await,
    );
    use sha2::Digest as _;
    let digest = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(joined.as_bytes()))
    );
    let events = stored(&app, &org, &integration).await;
    let got: Vec<&str> = events.iter().map(|e| e.delivery_id.as_str()).collect();
    c.eq("stored delivery ids", got, vec![digest.as_str()]);
    c.verify();
}

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
async fn an_integration_of_a_deleted_org_is_404_and_stores_nothing() {
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
    assert_eq!(answer.status, 404, "{}", answer.show());
    // Restored, the org shows nothing was stored while it was deleted.
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

/// A GitHub delivery whose JSON body is exactly `len` bytes.
fn github_body_of(secret: &str, integration: &str, len: usize) -> Delivery {
    let head = r#"{"action":"opened","pad":""#;
    let tail = r#""}"#;
    let body = format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()));
    assert_eq!(body.len(), len);
    let tag = mac(secret.as_bytes(), &[body.as_bytes()]);
    Hook::new(P::GitHub, secret)
        .build(integration)
        .with_body(body.into_bytes())
        .with_header(
            "x-hub-signature-256",
            &format!("sha256={}", hex::encode(tag)),
        )
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
async fn an_integration_without_a_signing_secret_refuses_every_delivery_with_401() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "No secret").await;
    let mut c = Checks::default();
    for (p, field) in [
        (P::GitHub, "access_token"),
        (P::Stripe, "access_token"),
        (P::Resend, "api_key"),
        (P::Slack, "access_token"),
    ] {
        let token = format!("tok-{}", uuid::Uuid::new_v4().simple());
        let integration = connect(
            &app,
            &org.owner,
            &org.id,
            p.id(),
            "acct_1",
            &[(field, &token)],
        )
        .await;
        // Signed with the only secret the integration has, and with a new one.
        for secret in [token.clone(), p.new_secret()] {
            let key_like = if p == P::Resend {
                p.new_secret()
            } else {
                secret
            };
            let delivery = Hook::new(p, &key_like).build(&integration);
            let answer = http.post(&delivery).await;
            let what = format!("{}: no signing secret", p.id());
            refused(&mut c, &what, &answer, 401, &delivery);
        }
        nothing_stored(&mut c, p.id(), &app, &org, &integration).await;
    }
    c.verify();
}

#[tokio::test]
async fn a_delivery_lands_only_in_the_org_its_integration_id_names() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let (a, b) = (new_org(&app, "A").await, new_org(&app, "B").await);
    let (secret_a, secret_b) = (P::GitHub.new_secret(), P::GitHub.new_secret());
    let in_a = connect_hook(&app, &a, P::GitHub, &secret_a).await;
    let in_b = connect_hook(&app, &b, P::GitHub, &secret_b).await;
    let mut c = Checks::default();
    let delivery = Hook::new(P::GitHub, &secret_a).build(&in_a);
    let event_id = accepted(&mut c, "to org A", &http.post(&delivery).await);
    let second = Hook::new(P::GitHub, &secret_a).build(&in_a);
    let second_id = accepted(&mut c, "to org A again", &http.post(&second).await);
    // Org B's secret does not open org A's integration, nor A's B's.
    let cross = Hook::new(P::GitHub, &secret_b).build(&in_a);
    refused(
        &mut c,
        "B's secret to A",
        &http.post(&cross).await,
        401,
        &cross,
    );
    let cross = Hook::new(P::GitHub, &secret_a).build(&in_b);
    refused(
        &mut c,
        "A's secret to B",
        &http.post(&cross).await,
        401,
        &cross,
    );
    let in_org_a = list_all(&app, &a.owner.access_token, &a.id, "", "", 100)
        .await
        .unwrap();
    let ids: Vec<&str> = in_org_a.iter().map(|e| e.id.as_str()).collect();
    c.eq("org A", ids, vec![second_id.as_str(), event_id.as_str()]);
    let in_org_b = list_all(&app, &b.owner.access_token, &b.id, "", "", 100)
        .await
        .unwrap();
    c.that(
        in_org_b.is_empty(),
        &format!("org B lists nothing, got {in_org_b:?}"),
    );
    let by_a_id = list_all(&app, &b.owner.access_token, &b.id, "", &in_a, 100).await;
    let leaks = match &by_a_id {
        Ok(events) => !events.is_empty(),
        Err(s) => !matches!(s.code(), Code::NotFound | Code::InvalidArgument),
    };
    c.that(
        !leaks,
        &format!("org B filtering by org A's integration: {by_a_id:?}"),
    );
    // A page token of org A read in org B yields nothing of A.
    let first_page = list_page(&app, &a.owner.access_token, &a.id, filter("", "", 1, ""))
        .await
        .unwrap();
    c.that(
        !first_page.next_page_token.is_empty(),
        "org A's first page of one has a next page",
    );
    let request = filter("", "", 1, &first_page.next_page_token);
    let foreign = list_page(&app, &b.owner.access_token, &b.id, request).await;
    let leaks = match &foreign {
        Ok(page) => !page.events.is_empty(),
        Err(s) => s.code() != Code::InvalidArgument,
    };
    c.that(!leaks, &format!("org A's page token in org B: {foreign:?}"));
    // Org A's owner naming org B in the header sees nothing of A either.
    let mixed = list_all(&app, &a.owner.access_token, &b.id, "", "", 100).await;
    c.eq("A's owner in B", code_of(&mixed), Code::PermissionDenied);
    c.verify();
}

#[tokio::test]
async fn owners_admins_and_agents_list_webhook_events_and_light_agents_are_refused() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Roles").await;
    let secret = P::Stripe.new_secret();
    let integration = connect_hook(&app, &org, P::Stripe, &secret).await;
    let delivery = Hook::new(P::Stripe, &secret).build(&integration);
    let mut c = Checks::default();
    let event_id = accepted(&mut c, "delivery", &http.post(&delivery).await);
    let admin = add_member(&app, &org.owner, &org.id, Role::Admin).await;
    let agent = add_member(&app, &org.owner, &org.id, Role::Agent).await;
    let light = add_member(&app, &org.owner, &org.id, Role::LightAgent).await;
    for (who, session) in [("owner", &org.owner), ("admin", &admin), ("agent", &agent)] {
        let events = list_all(&app, &session.access_token, &org.id, "", "", 10).await;
        match events {
            Ok(events) => {
                let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
                c.eq(who, ids, vec![event_id.as_str()]);
            }
            Err(s) => c.that(false, &format!("{who}: {s:?}")),
        }
    }
    let refused = list_all(&app, &light.access_token, &org.id, "", "", 10).await;
    c.eq("light agent", code_of(&refused), Code::PermissionDenied);
    let anonymous =
        webhooks_common::list_page(&app, "not-a-token", &org.id, filter("", "", 10, "")).await;
    c.eq("bad token", code_of(&anonymous), Code::Unauthenticated);
    c.verify();
}

#[tokio::test]
async fn listing_pages_newest_first_and_returns_every_event_once() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Pages").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let mut c = Checks::default();
    let mut sent = Vec::new();
    for i in 0..5 {
        let delivery = Hook::new(P::GitHub, &secret).build(&integration);
        let answer = http.post(&delivery).await;
        let event_id = accepted(&mut c, &format!("delivery {i}"), &answer);
        sent.push((event_id, delivery.delivery_id));
    }
    let (mut listed, mut sizes, mut received) = (Vec::new(), Vec::new(), Vec::new());
    let mut page_token = String::new();
    for _ in 0..10 {
        let request = filter("", "", 2, &page_token);
        let page = list_page(&app, &org.owner.access_token, &org.id, request)
            .await
            .unwrap();
        sizes.push(page.events.len());
        for e in page.events {
            received.push(e.received_at.map(|t| (t.seconds, t.nanos)));
            listed.push((e.id, e.delivery_id));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let newest_first: Vec<(String, String)> = sent.iter().rev().cloned().collect();
    c.eq("events, newest first", listed, newest_first);
    c.eq("page sizes", sizes, vec![2, 2, 1]);
    c.that(
        received.windows(2).all(|w| w[0] >= w[1]),
        &format!("received_at never increases down the list: {received:?}"),
    );
    c.verify();
}

#[tokio::test]
async fn listing_filters_by_provider_and_integration_and_refuses_bad_filters_and_page_tokens() {
    // One integration per provider and org: two GitHub deliveries, one Stripe.
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Filters").await;
    let (gs, ss) = (P::GitHub.new_secret(), P::Stripe.new_secret());
    let g = connect_hook(&app, &org, P::GitHub, &gs).await;
    let s = connect_hook(&app, &org, P::Stripe, &ss).await;
    let mut c = Checks::default();
    let mut ids = std::collections::HashMap::new();
    for (what, p, secret, id) in [
        ("github 1", P::GitHub, &gs, &g),
        ("github 2", P::GitHub, &gs, &g),
        ("stripe", P::Stripe, &ss, &s),
    ] {
        let delivery = Hook::new(p, secret).build(id);
        let event_id = accepted(&mut c, what, &http.post(&delivery).await);
        ids.insert(event_id, (p.id().to_owned(), id.clone()));
    }
    let token = &org.owner.access_token;
    // (provider, integration) of each listed event, checked against what
    // its delivery was sent as.
    let shape = |events: Vec<ochre_sdk::v1::WebhookEvent>| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = events
            .into_iter()
            .map(|e| {
                let sent = ids.get(&e.id).cloned();
                assert_eq!(
                    sent,
                    Some((e.provider.clone(), e.integration_id.clone())),
                    "event {} is listed as what was sent",
                    e.id
                );
                (e.provider, e.integration_id)
            })
            .collect();
        v.sort();
        v
    };
    let pair = |p: &str, id: &str| (p.to_owned(), id.to_owned());
    let github = vec![pair("github", &g), pair("github", &g)];
    let mut every = vec![pair("github", &g), pair("github", &g), pair("stripe", &s)];
    every.sort();
    for (what, provider, integration, expected) in [
        ("no filter", "", "", every),
        ("provider github", "github", "", github.clone()),
        ("integration of github", "", g.as_str(), github.clone()),
        ("both", "github", g.as_str(), github),
        ("provider stripe", "stripe", "", vec![pair("stripe", &s)]),
        (
            "integration of stripe",
            "",
            s.as_str(),
            vec![pair("stripe", &s)],
        ),
        ("provider paddle", "paddle", "", vec![]),
        (
            "github with stripe's integration",
            "github",
            s.as_str(),
            vec![],
        ),
    ] {
        let listed = list_all(&app, token, &org.id, provider, integration, 50).await;
        c.eq(what, listed.map(shape).ok(), Some(expected));
    }
    for (what, request) in [
        ("unknown provider", filter("gitlab", "", 10, "")),
        ("bad page token", filter("", "", 10, "not-a-page-token")),
        (
            "bad page token (base64)",
            filter("", "", 10, "AAAAAAAAAAAAAAAA"),
        ),
    ] {
        let answer = list_page(&app, token, &org.id, request).await;
        c.eq(what, code_of(&answer), Code::InvalidArgument);
    }
    c.verify();
}

#[tokio::test]
async fn a_mercado_pago_alphanumeric_data_id_may_be_signed_lower_cased_or_as_sent() {
    // Mercado Pago's docs lower-case an alphanumeric data.id in the signed
    // manifest; several official SDK validators sign it as sent.
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "MP").await;
    let secret = P::MercadoPago.new_secret();
    let integration = connect_hook(&app, &org, P::MercadoPago, &secret).await;
    let sent = "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3";
    let path = format!("/webhooks/mercadopago/{integration}?data.id={sent}&type=order");
    let body = format!(r#"{{"action":"order.processed","type":"order","data":{{"id":"{sent}"}}}}"#);
    let mut c = Checks::default();
    let mut request_ids = Vec::new();
    for (label, signed_id) in [
        ("lower-cased", sent.to_ascii_lowercase()),
        ("as sent", sent.to_owned()),
        ("another id", "ord01other".to_owned()),
    ] {
        let request_id = uuid::Uuid::new_v4().to_string();
        let ts = now();
        let manifest = format!("id:{signed_id};request-id:{request_id};ts:{ts};");
        let tag = mac(secret.as_bytes(), &[manifest.as_bytes()]);
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-request-id".to_owned(), request_id.clone()),
            (
                "x-signature".to_owned(),
                format!("ts={ts},v1={}", hex::encode(tag)),
            ),
        ];
        let answer = http
            .send(
                http::Method::POST,
                &path,
                &headers,
                body.clone().into_bytes(),
            )
            .await;
        if label == "another id" {
            c.that(
                answer.status == 401,
                &format!("{label}: expected 401, got {}", answer.show()),
            );
        } else {
            accepted(&mut c, label, &answer);
            request_ids.push(request_id);
        }
    }
    let events = stored(&app, &org, &integration).await;
    let mut got: Vec<String> = events.into_iter().map(|e| e.delivery_id).collect();
    got.sort();
    request_ids.sort();
    c.eq("delivery ids", got, request_ids);
    c.verify();
}

#[tokio::test]
async fn metrics_count_each_delivery_outcome_per_provider() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Metrics").await;
    let (gs, ss) = (P::GitHub.new_secret(), P::Stripe.new_secret());
    let github = connect_hook(&app, &org, P::GitHub, &gs).await;
    let stripe = connect_hook(&app, &org, P::Stripe, &ss).await;
    let before = http.metrics(&app.cron_secret).await;
    let mut c = Checks::default();
    let first = Hook::new(P::GitHub, &gs).build(&github);
    accepted(&mut c, "github 1", &http.post(&first).await);
    let second = Hook::new(P::GitHub, &gs).build(&github);
    accepted(&mut c, "github 2", &http.post(&second).await);
    duplicate(&mut c, "github again", &http.post(&first).await);
    let bad = Hook::new(P::GitHub, &gs).flipped().build(&github);
    refused(&mut c, "github flipped", &http.post(&bad).await, 401, &bad);
    let missing = first.clone().without_header("x-hub-signature-256");
    refused(
        &mut c,
        "github no signature",
        &http.post(&missing).await,
        400,
        &missing,
    );
    let unknown = format!("/webhooks/github/{}", uuid::Uuid::now_v7());
    let nowhere = Hook::new(P::GitHub, &gs).build(&github).at_path(&unknown);
    let answer = http.post(&nowhere).await;
    c.eq("github unknown integration", answer.status, 404);
    let huge = github_body_of(&gs, &github, MAX_BODY + 1);
    c.eq("github too large", http.post(&huge).await.status, 413);
    let ok = Hook::new(P::Stripe, &ss).build(&stripe);
    accepted(&mut c, "stripe", &http.post(&ok).await);
    let stale = Hook::new(P::Stripe, &ss).at(now() - 3600).build(&stripe);
    refused(
        &mut c,
        "stripe stale",
        &http.post(&stale).await,
        401,
        &stale,
    );
    let future = Hook::new(P::Stripe, &ss).at(now() + 3600).build(&stripe);
    refused(
        &mut c,
        "stripe future",
        &http.post(&future).await,
        401,
        &future,
    );
    let after = http.metrics(&app.cron_secret).await;
    for (provider, outcome, expected) in [
        ("github", "accepted", 2),
        ("github", "duplicate", 1),
        ("github", "bad_signature", 1),
        ("github", "malformed", 1),
        ("github", "not_found", 1),
        ("github", "too_large", 1),
        ("github", "stale", 0),
        ("github", "error", 0),
        ("stripe", "accepted", 1),
        ("stripe", "stale", 2),
        ("stripe", "bad_signature", 0),
        ("stripe", "error", 0),
    ] {
        let delta = delivery_count(&after, provider, outcome)
            .saturating_sub(delivery_count(&before, provider, outcome));
        c.eq(&format!("{provider}/{outcome}"), delta, expected);
    }
    let sample = "ochre_webhook_deliveries_total{provider=\"github\",outcome=\"accepted\"}";
    c.that(
        after.lines().any(|l| l.starts_with(sample)),
        &format!("a line starting {sample}"),
    );
    c.verify();
}

#[tokio::test]
async fn metrics_require_the_cron_bearer() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Metrics").await;
    let mut c = Checks::default();
    for (what, bearer) in [
        ("no bearer", None),
        ("wrong bearer", Some("not-the-cron-secret")),
        (
            "a user's access token",
            Some(org.owner.access_token.as_str()),
        ),
    ] {
        let answer = http
            .with_bearer(http::Method::GET, "/metrics", bearer)
            .await;
        c.that(
            answer.status == 401,
            &format!("{what}: expected 401, got {}", answer.show()),
        );
        c.that(
            !answer.text.contains("ochre_webhook_deliveries_total"),
            &format!("{what}: no metrics in the refusal"),
        );
    }
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let delivery = Hook::new(P::GitHub, &secret).build(&integration);
    accepted(&mut c, "one delivery", &http.post(&delivery).await);
    let answer = http
        .with_bearer(http::Method::GET, "/metrics", Some(&app.cron_secret))
        .await;
    c.eq("with the cron bearer", answer.status, 200);
    let content_type = answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    c.that(
        content_type.starts_with("text/plain"),
        &format!("Prometheus text, got content-type {content_type:?}"),
    );
    c.eq(
        "github/accepted",
        delivery_count(&answer.text, "github", "accepted"),
        1,
    );
    c.verify();
}

#[tokio::test]
async fn cron_jobs_require_the_cron_bearer_and_unknown_jobs_are_404() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Cron").await;
    let secret = app.cron_secret.clone();
    let mut c = Checks::default();
    let answer = http
        .with_bearer(http::Method::POST, "/cron/purge-expired", Some(&secret))
        .await;
    c.eq("purge-expired", answer.status, 200);
    c.eq(
        "purge-expired job",
        answer
            .json()
            .get("job")
            .and_then(|j| j.as_str())
            .map(str::to_owned),
        Some("purge-expired".to_owned()),
    );
    let near_miss = format!("{}x", &secret[..secret.len() - 1]);
    for (what, bearer) in [
        ("no bearer", None),
        ("wrong bearer", Some("not-the-cron-secret")),
        ("same length, wrong", Some(near_miss.as_str())),
        (
            "a user's access token",
            Some(org.owner.access_token.as_str()),
        ),
    ] {
        let answer = http
            .with_bearer(http::Method::POST, "/cron/purge-expired", bearer)
            .await;
        c.that(
            answer.status == 401,
            &format!("{what}: expected 401, got {}", answer.show()),
        );
        let challenge = answer
            .headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        c.that(
            challenge.starts_with("Bearer"),
            &format!("{what}: WWW-Authenticate: Bearer, got {challenge:?}"),
        );
        c.that(
            !answer.text.contains(&secret),
            &format!("{what}: the answer echoes the cron secret"),
        );
    }
    let answer = http
        .with_bearer(http::Method::POST, "/cron/no-such-job", Some(&secret))
        .await;
    c.eq("unknown job", answer.status, 404);
    let answer = http
        .with_bearer(http::Method::GET, "/cron/purge-expired", Some(&secret))
        .await;
    c.eq("GET", answer.status, 405);
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
    for (what, ts) in [("stale", now() - 3600), ("future", now() + 3600)] {
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
