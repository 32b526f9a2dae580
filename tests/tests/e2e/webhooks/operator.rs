//! The delivery counters (on the admin listener's `/metrics`), the public
//! port's 404 for `/metrics`, and `/cron/{job}` behind the cron bearer.

use std::collections::HashMap;

use ochre_tests::{prelude::*, webhook_path};

use super::{
    http::{Http, MAX_BODY, accepted, duplicate, refused},
    providers::P,
    rpc::{connect_hook, new_org},
    signing::{Hook, github_body_of},
};

/// The value of `ochre_webhook_deliveries_total` for this provider and
/// outcome (0 when the series is absent), whatever the label order.
pub(super) fn delivery_count(metrics: &str, provider: &str, outcome: &str) -> u64 {
    let mut total = 0;
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("ochre_webhook_deliveries_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        let labels: HashMap<&str, &str> = labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .collect();
        if labels.get("provider") == Some(&provider) && labels.get("outcome") == Some(&outcome) {
            let value = value.split_whitespace().next().unwrap_or("0");
            total += value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("a numeric sample: {line:?}"))
                as u64;
        }
    }
    total
}

#[tokio::test]
async fn metrics_count_each_delivery_outcome_per_provider() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Metrics").await;
    let (gs, ss) = (P::GitHub.new_secret(), P::Stripe.new_secret());
    let github = connect_hook(&app, &org, P::GitHub, &gs).await;
    let stripe = connect_hook(&app, &org, P::Stripe, &ss).await;
    let before = app.metrics().await;
    let mut c = Checks::default();
    let first = Hook::new(P::GitHub, &gs).build(&org.id, &github);
    accepted(&mut c, "github 1", &http.post(&first).await);
    let second = Hook::new(P::GitHub, &gs).build(&org.id, &github);
    accepted(&mut c, "github 2", &http.post(&second).await);
    duplicate(&mut c, "github again", &http.post(&first).await);
    let bad = Hook::new(P::GitHub, &gs).flipped().build(&org.id, &github);
    refused(&mut c, "github flipped", &http.post(&bad).await, 401, &bad);
    let missing = first.clone().without_header("x-hub-signature-256");
    refused(
        &mut c,
        "github no signature",
        &http.post(&missing).await,
        400,
        &missing,
    );
    let unknown = webhook_path("github", &org.id, &uuid::Uuid::now_v7().to_string());
    let nowhere = Hook::new(P::GitHub, &gs)
        .build(&org.id, &github)
        .at_path(&unknown);
    let answer = http.post(&nowhere).await;
    c.eq("github unknown integration", answer.status, 404);
    let huge = github_body_of(&gs, &org.id, &github, MAX_BODY + 1);
    c.eq("github too large", http.post(&huge).await.status, 413);
    let ok = Hook::new(P::Stripe, &ss).build(&org.id, &stripe);
    accepted(&mut c, "stripe", &http.post(&ok).await);
    let stale = Hook::new(P::Stripe, &ss)
        .at(unix_now() - 3600)
        .build(&org.id, &stripe);
    refused(
        &mut c,
        "stripe stale",
        &http.post(&stale).await,
        401,
        &stale,
    );
    let future = Hook::new(P::Stripe, &ss)
        .at(unix_now() + 3600)
        .build(&org.id, &stripe);
    refused(
        &mut c,
        "stripe future",
        &http.post(&future).await,
        401,
        &future,
    );
    let after = app.metrics().await;
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
async fn the_public_port_answers_404_for_metrics_and_the_admin_port_counts_deliveries() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Metrics").await;
    let mut c = Checks::default();
    for (what, bearer) in [
        ("no bearer", None),
        ("the cron bearer", Some(app.cron_secret.as_str())),
        (
            "a user's access token",
            Some(org.owner.access_token.as_str()),
        ),
    ] {
        let answer = http
            .with_bearer(http::Method::GET, "/metrics", bearer)
            .await;
        c.that(
            answer.status == 404,
            &format!("{what}: expected 404, got {}", answer.show()),
        );
        c.that(
            !answer.text.contains("ochre_"),
            &format!("{what}: no metrics on the public port"),
        );
    }
    let before = app.metrics().await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
    accepted(&mut c, "one delivery", &http.post(&delivery).await);
    let after = app.metrics().await;
    c.eq(
        "github/accepted",
        delivery_count(&after, "github", "accepted")
            - delivery_count(&before, "github", "accepted"),
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
