//! What every handler shares: the database pools, the password hasher (a
//! bounded blocking pool), the access-token signer and the vault.

use std::sync::Arc;

use secrecy::ExposeSecret as _;

use crate::{
    api::Pager,
    config::Config,
    db::Db,
    identity::{password::PasswordHasher, tokens::AccessTokenSigner},
    vault::Vault,
};

/// Concurrent argon2 computations allowed; beyond that, logins get
/// RESOURCE_EXHAUSTED at once instead of queuing without bound.
pub const PASSWORD_HASH_CONCURRENCY: usize = 4;

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub hasher: PasswordHasher,
    pub signer: AccessTokenSigner,
    pub vault: Arc<Vault>,
    pub pager: Pager,
}

impl AppState {
    pub fn new(db: Db, config: &Config) -> Result<Self, crate::config::ConfigError> {
        let signer = AccessTokenSigner::new(&config.secrets.session_secret).map_err(|_| {
            crate::config::ConfigError::Invalid {
                var: "OCHRE_SESSION_SECRET",
                reason: "is too short".to_owned(),
            }
        })?;
        let vault = Vault::new(
            config.secrets.byok_enc_key.expose_secret(),
            config
                .secrets
                .byok_enc_key_previous
                .as_ref()
                .map(|k| k.expose_secret()),
        );
        let pager = Pager::new(&config.secrets.session_secret).map_err(|_| {
            crate::config::ConfigError::Invalid {
                var: "OCHRE_SESSION_SECRET",
                reason: "is unusable".to_owned(),
            }
        })?;
        Ok(AppState {
            pager,
            db,
            hasher: PasswordHasher::new(PASSWORD_HASH_CONCURRENCY),
            signer,
            vault: Arc::new(vault),
        })
    }
}
