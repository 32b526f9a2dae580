//! Accounts, sessions, orgs, members, API keys, the IP allowlist and TOTP.

mod account;
mod allowlist;
mod api_keys;
mod auth;
mod authority;
mod database;
mod lockout;
mod named_org;
mod orgs;
mod races;
mod second_factor;

use ochre_tests::prelude::*;

/// A fresh app with a signed-in owner of a new org.
async fn app_with_org() -> (TestApp, Session, String) {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme Support").await;
    (app, owner, org)
}
