//! Refresh of an expiring OAuth access token on read: once across racing
//! readers (a Postgres advisory lock per integration), and a circuit breaker
//! that leaves a failing provider alone while readers get the current token.

use ochre_tests::prelude::*;

use ochre_tests::concurrent::join_all;

use tonic_types::StatusExt as _;

use super::provider::{access_token, complete, connected, start};

#[tokio::test]
async fn concurrent_reads_of_an_expiring_token_refresh_it_exactly_once() {
    let (app, p, owner, org, id) = connected(60).await;
    let first = access_token(&app, &owner, &org, &id).await;
    assert_eq!(
        p.memory.lock().unwrap().refresh_calls,
        1,
        "60 s left is inside the 5-minute margin"
    );
    // The refreshed token is good for an hour: eight readers at once, no refresh.
    let reads = (0..8).map(|_| access_token(&app, &owner, &org, &id));
    let tokens = join_all(reads).await;
    assert!(
        tokens.iter().all(|t| *t == first),
        "every reader gets the refreshed token"
    );
    assert_eq!(p.memory.lock().unwrap().refresh_calls, 1);
}

#[tokio::test]
async fn racing_readers_of_an_expiring_token_trigger_one_refresh_between_them() {
    let (app, p, owner, org, id) = connected(60).await;
    let reads = (0..8).map(|_| access_token(&app, &owner, &org, &id));
    let tokens = join_all(reads).await;
    assert_eq!(
        p.memory.lock().unwrap().refresh_calls,
        1,
        "the advisory lock serialises refreshers"
    );
    assert!(
        tokens.windows(2).all(|w| w[0] == w[1]),
        "all see the one refreshed token"
    );
}

#[tokio::test]
async fn a_failing_provider_opens_the_breaker_and_readers_get_the_current_token() {
    let (app, p, owner, org, id) = connected(60).await;
    p.memory.lock().unwrap().fail_refresh = true;
    let mut seen = Vec::new();
    for _ in 0..8 {
        seen.push(access_token(&app, &owner, &org, &id).await);
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "the current token is served"
    );
    assert_eq!(
        p.memory.lock().unwrap().refresh_calls,
        5,
        "after 5 consecutive 503s the provider is left alone"
    );
}

#[tokio::test]
async fn a_providers_429_with_retry_after_opens_the_breaker_for_refreshes_and_code_exchanges() {
    let (app, p, owner, org, id) = connected(60).await;
    p.memory.lock().unwrap().throttle_refresh = Some("120");
    let first = access_token(&app, &owner, &org, &id).await;
    assert_eq!(p.memory.lock().unwrap().refresh_calls, 1);
    for _ in 0..4 {
        assert_eq!(
            access_token(&app, &owner, &org, &id).await,
            first,
            "readers get the current token"
        );
    }
    assert_eq!(
        p.memory.lock().unwrap().refresh_calls,
        1,
        "one 429 with Retry-After: 120 is enough: the provider is not called again"
    );

    // The code exchange with that provider is refused too, before the state
    // is consumed or the code is sent: UNAVAILABLE, retry in about 120 s.
    let (url, state) = start(&app, &owner, &org, "github", "/").await.unwrap();
    let code = p.approve(&url);
    let refused = complete(&app, &owner, &org, &state, &code)
        .await
        .expect_err("the breaker is open");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert_eq!(
        refused.message(),
        "the provider is unavailable for now: try again later"
    );
    let delay = refused
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .expect("a RetryInfo detail");
    assert!(
        delay > std::time::Duration::from_secs(100) && delay <= std::time::Duration::from_secs(120),
        "{delay:?}"
    );
    let header: u64 = refused
        .metadata()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after metadata");
    assert_eq!(header, delay.as_secs_f64().ceil() as u64);
    assert!(
        !p.memory.lock().unwrap().approvals[&code].1,
        "the code was not sent to the provider"
    );
    let su = app.superuser_db().await;
    use sea_orm::ConnectionTrait as _;
    let row = su
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT count(*) FILTER (WHERE used_at IS NULL) AS unused \
                   FROM oauth_states WHERE org_id = '{org}' AND provider = 'github'"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let unused: i64 = row.try_get("", "unused").unwrap();
    assert_eq!(unused, 1, "the state stays usable for a retry");
}

#[tokio::test]
async fn one_tenants_revoked_grant_does_not_open_the_breaker_for_everyone() {
    let (app, p, owner, org, id) = connected(60).await;
    // The provider no longer knows this tenant's refresh token: 400 invalid_grant.
    p.memory.lock().unwrap().refresh_tokens.clear();
    for _ in 0..5 {
        access_token(&app, &owner, &org, &id).await;
    }
    assert_eq!(
        p.memory.lock().unwrap().refresh_calls,
        5,
        "a 4xx is this integration's problem, not the provider's: no breaker"
    );
    // Once the token has expired and cannot be refreshed, the integration says so.
    let su = app.superuser_db().await;
    use sea_orm::ConnectionTrait as _;
    su.execute_unprepared(&format!(
        "UPDATE integrations SET token_expires_at = now() - interval '1 hour' WHERE id = '{id}'"
    ))
    .await
    .unwrap();
    let listed = app
        .client::<IntegrationClient>()
        .list_integrations(with_auth(
            ochre_sdk::v1::ListIntegrationsRequest::default(),
            &owner.access_token,
            Some(&org),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed.integrations[0].status,
        ochre_sdk::v1::IntegrationStatus::TokenExpired as i32
    );
}
