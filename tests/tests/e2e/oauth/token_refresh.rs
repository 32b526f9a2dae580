//! Refresh of an expiring OAuth access token on read: once across racing
//! readers (a Postgres advisory lock per integration), and a circuit breaker
//! that leaves a failing provider alone while readers get the current token.

use ochre_tests::prelude::*;

use ochre_tests::support::join_all;

use super::provider::{access_token, connected};

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
    for _ in 0..6 {
        seen.push(access_token(&app, &owner, &org, &id).await);
    }
    assert!(
        seen.windows(2).all(|w| w[0] == w[1]),
        "the current token is served"
    );
    assert_eq!(
        p.memory.lock().unwrap().refresh_calls,
        3,
        "after 3 failures the provider is left alone"
    );
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
            ochre_sdk::v1::ListIntegrationsRequest {},
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
