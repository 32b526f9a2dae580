//! A mixed workload (sign-ins that succeed and fail, a NOT_FOUND, a
//! PERMISSION_DENIED, a rate-limited call, a lockout, a webhook delivery, a
//! purge) read back from the admin listener's `/metrics`: every family of
//! `telemetry::metrics::FAMILIES`, with the right labels and counts.

use ochre_sdk::v1::GetCustomerRequest;
use ochre_server::telemetry::metrics::FAMILIES;
use ochre_tests::{
    admin::sample,
    identity::{get_org, login},
};

use crate::{
    limits::only,
    webhooks::{
        http::{Http, accepted},
        providers::P,
        rpc::{connect_hook, new_org},
        signing::Hook,
    },
};
use ochre_tests::prelude::*;

const LOGIN: &str = "/ochre.v1.AuthService/Login";
const GET_ORG: &str = "/ochre.v1.OrgService/GetOrg";
const GET_CUSTOMER: &str = "/ochre.v1.CustomerService/GetCustomer";
const WEBHOOK: &str = "/webhooks/{provider}/{org_id}/{integration_id}";

/// `after - before` for one series (or the sum of the matching ones).
fn delta(before: &str, after: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(after, name, labels) - sample(before, name, labels)
}

#[tokio::test]
async fn a_mixed_workload_shows_in_every_metric_family_with_its_labels_and_counts() {
    let app = spawn_app_with(AppOptions {
        vars: vec![("OCHRE_RATE_LIMITS", only(&[("read.principal", "3/m:3")]))],
        ..AppOptions::default()
    })
    .await;
    let before = app.metrics().await;
    let http = Http::new(&app);
    let mut c = Checks::default();

    // Sign-up and sign-in (2 Login OK), then a wrong password.
    let org = new_org(&app, "Observed").await;
    let outsider = signup_and_login(&app, &unique_email()).await;
    let wrong = login(&app, &org.owner.email, "not the password").await;
    c.eq("a wrong password", code_of(&wrong), Code::Unauthenticated);

    // NOT_FOUND (a read: 1 of the owner's 3).
    let missing = app
        .client::<CustomerClient>()
        .get_customer(with_auth(
            GetCustomerRequest {
                customer_id: uuid::Uuid::now_v7().to_string(),
            },
            &org.owner.access_token,
            Some(&org.id),
        ))
        .await;
    c.eq("an unknown customer", code_of(&missing), Code::NotFound);

    // PERMISSION_DENIED by the gate: not a member of the org.
    let refused = get_org(&app, &outsider.access_token, Some(&org.id)).await;
    c.eq("an outsider", code_of(&refused), Code::PermissionDenied);
    let refusal_reason = refused
        .as_ref()
        .err()
        .and_then(ochre_tests::errors::reason)
        .unwrap_or_default();

    // The owner's reads until the limit refuses one.
    let mut ok_reads = 0.0;
    let mut limited = false;
    for _ in 0..5 {
        match get_org(&app, &org.owner.access_token, Some(&org.id)).await {
            Ok(_) => ok_reads += 1.0,
            Err(status) => {
                c.eq("past the limit", status.code(), Code::ResourceExhausted);
                limited = true;
                break;
            }
        }
    }
    c.that(limited, "a read past read.principal=3/m:3 is refused");

    // A webhook delivery, accepted.
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
    accepted(&mut c, "a delivery", &http.post(&delivery).await);

    // A purge run.
    let purge = http
        .with_bearer(
            http::Method::POST,
            "/cron/purge-expired",
            Some(&app.cron_secret),
        )
        .await;
    c.eq("the purge job", purge.status, 200);

    // Five wrong passwords from one address lock the pair: one lockout.
    let victim = signup_and_login(&app, &unique_email()).await;
    for _ in 0..5 {
        let _ = login(&app, &victim.email, "still not the password").await;
    }

    let after = app.metrics().await;
    for (name, _, _) in FAMILIES {
        c.that(
            after.contains(&format!("# TYPE {name} ")),
            &format!("the family {name} is exported"),
        );
    }
    let requests = "ochre_rpc_requests_total";
    for (method, code, expected) in [
        (LOGIN, "OK", 3.0),
        (LOGIN, "UNAUTHENTICATED", 6.0),
        (GET_CUSTOMER, "NOT_FOUND", 1.0),
        (GET_ORG, "PERMISSION_DENIED", 1.0),
        (GET_ORG, "RESOURCE_EXHAUSTED", 1.0),
        (GET_ORG, "OK", ok_reads),
        (WEBHOOK, "200", 1.0),
        ("/cron/{job}", "200", 1.0),
    ] {
        let labels = [("method", method), ("code", code)];
        c.eq(
            &format!("{requests}{{{method},{code}}}"),
            delta(&before, &after, requests, &labels),
            expected,
        );
        c.eq(
            &format!("ochre_rpc_duration_seconds_count{{{method},{code}}}"),
            delta(&before, &after, "ochre_rpc_duration_seconds_count", &labels),
            expected,
        );
    }
    c.that(
        sample(
            &after,
            "ochre_rpc_duration_seconds_bucket",
            &[("method", LOGIN), ("code", "OK"), ("le", "+Inf")],
        ) >= 3.0,
        "the latency histogram has its +Inf bucket",
    );
    c.that(!refusal_reason.is_empty(), "the refusal names a reason");
    c.eq(
        "gate refusal by reason",
        delta(
            &before,
            &after,
            "ochre_gate_refusals_total",
            &[("reason", &refusal_reason)],
        ),
        1.0,
    );
    c.that(
        delta(
            &before,
            &after,
            "ochre_gate_refusals_total",
            &[("reason", "RATE_LIMITED")],
        ) >= 1.0,
        "the rate-limit refusal is a gate refusal too",
    );
    for (outcome, expected) in [("success", 3.0), ("bad_credentials", 6.0)] {
        c.eq(
            &format!("logins {outcome}"),
            delta(
                &before,
                &after,
                "ochre_logins_total",
                &[("outcome", outcome)],
            ),
            expected,
        );
    }
    c.eq(
        "lockouts",
        delta(&before, &after, "ochre_lockouts_total", &[]),
        1.0,
    );
    c.eq(
        "rate limited (read)",
        delta(
            &before,
            &after,
            "ochre_rate_limited_total",
            &[("class", "read")],
        ),
        1.0,
    );
    c.eq(
        "webhook github/accepted",
        delta(
            &before,
            &after,
            "ochre_webhook_deliveries_total",
            &[("provider", "github"), ("outcome", "accepted")],
        ),
        1.0,
    );
    c.eq(
        "purge runs ok",
        delta(
            &before,
            &after,
            "ochre_purge_runs_total",
            &[("outcome", "ok")],
        ),
        1.0,
    );
    for pool in ["app", "service", "webhook"] {
        let size = sample(
            &after,
            "ochre_db_pool_connections",
            &[("pool", pool), ("state", "size")],
        );
        let in_use = sample(
            &after,
            "ochre_db_pool_connections",
            &[("pool", pool), ("state", "in_use")],
        );
        let idle = sample(
            &after,
            "ochre_db_pool_connections",
            &[("pool", pool), ("state", "idle")],
        );
        c.that(
            (1.0..=4.0).contains(&size),
            &format!("{pool} pool size {size}"),
        );
        c.eq(
            &format!("{pool}: in use + idle = size"),
            in_use + idle,
            size,
        );
    }
    // Tenant transactions (app), sign-ins (service) and the delivery
    // (webhook) record their acquire time; nobody waits once it is done.
    for pool in ["app", "service", "webhook"] {
        c.that(
            delta(
                &before,
                &after,
                "ochre_db_pool_acquire_seconds_count",
                &[("pool", pool)],
            ) >= 1.0,
            &format!("the {pool} pool records its acquire time"),
        );
        c.eq(
            &format!("{pool}: nobody waits"),
            sample(&after, "ochre_db_pool_waiting", &[("pool", pool)]),
            0.0,
        );
    }
    c.eq(
        "build info",
        sample(
            &after,
            "ochre_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
        ),
        1.0,
    );
    c.that(
        !after.contains(&org.owner.email) && !after.contains(&org.id),
        "no email or org id in a label",
    );
    c.verify();
}

/// A gRPC-web call (binary or text) to `path` with an empty message and no
/// credentials; its HTTP status.
async fn grpc_web(app: &TestApp, path: &str, text: bool) -> u16 {
    let (content_type, body) = if text {
        ("application/grpc-web-text", b"AAAAAAA=".to_vec())
    } else {
        ("application/grpc-web+proto", vec![0u8; 5])
    };
    reqwest::Client::new()
        .post(format!("http://{}{path}", app.addr))
        .header("content-type", content_type)
        .header("x-grpc-web", "1")
        .body(body)
        .send()
        .await
        .expect("an answer")
        .status()
        .as_u16()
}

#[tokio::test]
async fn grpc_web_calls_are_counted_under_their_grpc_code() {
    let app = spawn_app().await;
    let before = app.metrics().await;
    for text in [false, true] {
        assert_eq!(grpc_web(&app, GET_ORG, text).await, 200);
        assert_eq!(
            grpc_web(&app, "/grpc.health.v1.Health/Check", text).await,
            200
        );
    }
    let after = app.metrics().await;
    let requests = "ochre_rpc_requests_total";
    assert_eq!(
        delta(
            &before,
            &after,
            requests,
            &[("method", GET_ORG), ("code", "UNAUTHENTICATED")]
        ),
        2.0,
        "{after}"
    );
    assert_eq!(
        delta(
            &before,
            &after,
            requests,
            &[("method", "/grpc.health.v1.Health/Check"), ("code", "OK")]
        ),
        2.0,
        "{after}"
    );
}
