//! The Rust SDK (`ochre_sdk::client::OchreClient`) against the real server:
//! its examples run as a partner would run them, sessions refresh
//! single-flight across an access-token expiry, a reused refresh token
//! signs the client out, reads ride out a killed and restarted server while
//! writes are never retried, refusals decode their `google.rpc` details,
//! every service of the contract is reachable, and the generated clients
//! work through its interceptor.

mod errors;
mod examples;
mod retries;
mod sessions;
mod transport;

use std::time::{Duration, SystemTime};

use ochre_sdk::{
    client::{Backoff, OchreClient},
    v1::SessionTokens,
};
use ochre_tests::{identity::login, prelude::*};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};

/// The server's URL.
pub fn url(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

/// Short waits between retries, so the tests stay quick.
pub fn quick_backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
    }
}

/// An owner, their org, and an agent-role API key of it.
pub async fn org_with_key(app: &TestApp) -> (Session, String, String) {
    let owner = signup_and_login(app, &unique_email()).await;
    let org = create_org(app, &owner, "Partner").await;
    let key = create_api_key(app, &owner, &org, Role::Agent)
        .await
        .expect("an API key")
        .secret;
    (owner, org, key)
}

/// An API-key client of `org` on `url`.
pub async fn key_client(url: String, key: &str, org: &str) -> OchreClient {
    OchreClient::builder(url)
        .api_key(key)
        .org(org)
        .backoff(quick_backoff())
        .build()
        .await
        .expect("an API-key client")
}

/// A fresh session of `session`'s account, with the client made to believe
/// its access token expires `in_` from now (the server's TTL is a fixed
/// 15 minutes: expiry is driven from the client's side).
pub async fn tokens_expiring(app: &TestApp, session: &Session, in_: Duration) -> SessionTokens {
    let mut tokens = login(app, &session.email, &session.password)
        .await
        .expect("log in")
        .tokens
        .expect("tokens");
    tokens.access_token_expires_at = Some((SystemTime::now() + in_).into());
    tokens
}

/// How many refresh tokens of `email`'s account the server has rotated
/// (each successful Refresh spends one).
pub async fn refreshes_of(app: &TestApp, email: &str) -> i64 {
    let su = app.cluster.connect_superuser(&app.database).await;
    let row = su
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*)::bigint AS n FROM refresh_tokens r \
             JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id \
             WHERE u.email = $1 AND r.used_at IS NOT NULL",
            [email.into()],
        ))
        .await
        .expect("count refreshes")
        .expect("a row");
    row.try_get("", "n").expect("n")
}
