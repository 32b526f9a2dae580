//! The Ochre test harness: one private Postgres cluster per test run (shared
//! by every test process through a file lock), a fresh database cloned from a
//! migrated template per test, the real server on port 0 connecting as
//! `ochre_app`, and typed clients from the SDK (`TestApp::client`).
//!
//! The end-to-end tests (`tests/e2e/`, one binary with a module per topic)
//! start with `use ochre_tests::prelude::*;`; the load generator
//! (`ochre-bench`, `bench/`) is built on the same harness.

pub mod admin;
mod binary;
pub mod bouncer;
pub mod caller;
pub mod checks;
pub mod clients;
pub mod clock;
pub mod cluster;
pub mod concurrent;
pub mod errors;
pub mod fuzz;
pub mod guard_data;
pub mod identity;
pub mod layout;
pub mod lint;
pub mod logs;
pub mod matrix;
pub mod prelude;
pub mod process;
pub mod proxy;
pub mod rawpg;
pub mod snapshot;
mod spawn;
pub mod sqlmatrix;
pub mod support;

pub use binary::{fresh_secrets, ochre_against, ochre_bin};
pub use spawn::{AppOptions, TestApp, spawn_app, spawn_app_with};

/// The path a provider delivers to: `/webhooks/{provider}/{org}/{integration}`
/// (an integration is found by its org and its id, like every tenant row).
pub fn webhook_path(provider: &str, org: &str, integration: &str) -> String {
    format!("/webhooks/{provider}/{org}/{integration}")
}

/// Random bytes in URL-safe base64, for secrets in tests.
pub fn random_secret(bytes: usize) -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// 32 random bytes in standard base64 (an `OCHRE_BYOK_ENC_KEY`).
pub fn random_key() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Every server secret, freshly drawn, as `(variable, value)`: give the
/// same set to several `ochre serve` processes (replicas, or a server and
/// its restart) so that each accepts what another issued.
pub fn shared_secrets() -> Vec<(&'static str, String)> {
    vec![
        ("OCHRE_BYOK_ENC_KEY", random_key()),
        ("OCHRE_SURVEY_TOKEN_SECRET", random_secret(32)),
        ("OCHRE_SESSION_SECRET", random_secret(32)),
        ("OCHRE_OAUTH_STATE_SECRET", random_secret(32)),
        ("OCHRE_CRON_SECRET", random_secret(32)),
        ("OCHRE_AUDIT_SIGNING_KEY", random_key()),
    ]
}
