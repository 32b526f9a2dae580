//! Deliveries refused by verification: tampered data or signature, a
//! wrong or missing signing secret (401), a timestamp outside the window,
//! missing or malformed headers (400); nothing of them is stored.

use ochre_tests::prelude::*;

use super::{
    http::{Http, accepted, refused},
    providers::P,
    rpc::{app_with_every_provider, connect, new_org, nothing_stored, stored},
    signing::Hook,
};

#[tokio::test]
async fn a_tampered_body_or_signed_header_is_refused_with_401_and_nothing_is_stored() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in &hooks {
        let delivery = Hook::new(*p, secret).build(&org.id, integration);
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
        let flipped = Hook::new(*p, secret).flipped().build(&org.id, integration);
        let answer = http.post(&flipped).await;
        let what = format!("{}: tampered signature", p.id());
        refused(&mut c, &what, &answer, 401, &flipped);
        let stranger = p.new_secret();
        let wrong = Hook::new(*p, &stranger).build(&org.id, integration);
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
            .at(unix_now() - window - 30)
            .build(&org.id, integration);
        let answer = http.post(&stale).await;
        refused(&mut c, &format!("{}: stale", p.id()), &answer, 401, &stale);
        let future = Hook::new(*p, secret)
            .at(unix_now() + window + 30)
            .build(&org.id, integration);
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
        for ts in [unix_now() - window / 2, unix_now() + window / 2] {
            let delivery = Hook::new(p, &secret).at(ts).build(&org.id, &integration);
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
            .at(unix_now() - 86_400 * 30)
            .build(&org.id, integration);
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
        let delivery = Hook::new(*p, secret).build(&org.id, integration);
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
            let delivery = Hook::new(p, &key_like).build(&org.id, &integration);
            let answer = http.post(&delivery).await;
            let what = format!("{}: no signing secret", p.id());
            refused(&mut c, &what, &answer, 401, &delivery);
        }
        nothing_stored(&mut c, p.id(), &app, &org, &integration).await;
    }
    c.verify();
}
