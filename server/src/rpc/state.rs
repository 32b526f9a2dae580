//! What every handler shares: the database pools, the password hasher (a
//! bounded blocking pool), the access-token signer and the vault.

use std::sync::Arc;

use std::collections::HashMap;

use crate::{
    config::{Config, OAuthClient},
    crypto::vault::Vault,
    crypto::{
        audit_checkpoint::CheckpointSigner, password::PasswordHasher, survey_token::SurveyTokens,
        tokens::AccessTokenSigner,
    },
    db::Db,
    integrations::oauth_state::StateSigner,
    rpc::pager::Pager,
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
    pub oauth: Arc<OAuth>,
    /// Issues and verifies survey tokens.
    pub surveys: SurveyTokens,
    /// Signs audit checkpoints (its public key verifies them).
    pub checkpoints: Arc<CheckpointSigner>,
    /// How long a workspace scheduled for deletion stays restorable.
    pub deletion_grace: chrono::Duration,
    /// Seconds a budget reservation holds its amount.
    pub budget_reservation_ttl_secs: i32,
    /// The input guard (its compiled rules).
    pub guard: crate::guard::Guard,
    /// The rate limits the gate and the HTTP routes charge.
    pub limiter: Arc<crate::limits::RateLimiter>,
}

/// What the OAuth connect flow needs.
#[derive(Debug)]
pub struct OAuth {
    pub signer: StateSigner,
    pub clients: HashMap<String, OAuthClient>,
    pub public_url: url::Url,
    pub http: reqwest::Client,
    pub breakers: crate::integrations::breaker::Breakers,
}

impl AppState {
    pub fn new(db: Db, config: &Config) -> Result<Self, crate::config::ConfigError> {
        let signer = AccessTokenSigner::new(&config.secrets.session_secret).map_err(|_| {
            crate::config::ConfigError::Invalid {
                var: "OCHRE_SESSION_SECRET",
                reason: "is too short".to_owned(),
            }
        })?;
        let vault = config.secrets.vault();
        let pager = Pager::new(&config.secrets.session_secret).ok_or_else(|| {
            crate::config::ConfigError::Invalid {
                var: "OCHRE_SESSION_SECRET",
                reason: "is unusable".to_owned(),
            }
        })?;
        let oauth_signer = StateSigner::new(&config.secrets.oauth_state_secret).map_err(|_| {
            crate::config::ConfigError::Invalid {
                var: "OCHRE_OAUTH_STATE_SECRET",
                reason: "is too short".to_owned(),
            }
        })?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| crate::config::ConfigError::Invalid {
                var: "OCHRE_OAUTH_CLIENTS",
                reason: "cannot build the HTTP client".to_owned(),
            })?;
        let oauth = OAuth {
            signer: oauth_signer,
            clients: config.oauth_clients.clone(),
            public_url: config.public_url.clone(),
            http,
            breakers: Default::default(),
        };
        let surveys = SurveyTokens::new(
            &config.secrets.survey_token_secret,
            config.secrets.survey_token_secret_previous.as_ref(),
        )
        .ok_or_else(|| crate::config::ConfigError::Invalid {
            var: "OCHRE_SURVEY_TOKEN_SECRET",
            reason: "is too short".to_owned(),
        })?;
        Ok(AppState {
            checkpoints: Arc::new(config.secrets.checkpoint_signer()),
            deletion_grace: config.deletion_grace,
            budget_reservation_ttl_secs: config.budget_reservation_ttl_secs,
            guard: config.guard.clone(),
            limiter: Arc::new(crate::limits::RateLimiter::new(
                config.rate_limits.clone(),
                db.clone(),
            )),
            surveys,
            oauth: Arc::new(oauth),
            pager,
            db,
            hasher: PasswordHasher::new(PASSWORD_HASH_CONCURRENCY),
            signer,
            vault: Arc::new(vault),
        })
    }
}
