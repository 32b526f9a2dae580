//! What the plain-HTTP routes share: the database pools, the vault, the
//! public URL HubSpot signs, the operator secret's digest, the delivery
//! counters and the two bounds on concurrent deliveries.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use crate::{
    crypto::vault::Vault,
    db::Db,
    ids::{IntegrationId, OrgId},
    webhooks::{
        Metrics,
        limits::{self, Shares},
    },
};

/// Largest webhook body accepted (1 MiB); larger is 413.
pub const MAX_BODY: usize = 1024 * 1024;

/// What the HTTP routes share.
pub struct HttpState {
    pub(crate) db: Db,
    pub(crate) vault: Arc<Vault>,
    /// `OCHRE_PUBLIC_URL` without its trailing slash: HubSpot signs the
    /// public URL it called.
    pub(crate) public_base: String,
    /// SHA-256 of `OCHRE_CRON_SECRET` (compared in constant time).
    pub(crate) cron_digest: [u8; 32],
    pub(crate) metrics: Arc<Metrics>,
    /// Signs the checkpoints of `POST /cron/audit-checkpoint`.
    pub(crate) checkpoints: Arc<crate::crypto::audit_checkpoint::CheckpointSigner>,
    /// Deliveries whose body is being read or held (at most
    /// [`MAX_INFLIGHT`] MiB of bodies in memory).
    pub(crate) inflight: tokio::sync::Semaphore,
    /// Bodies in flight per integration (of its org) and per client address.
    pub(crate) per_integration: Shares<(OrgId, IntegrationId)>,
    pub(crate) per_address: Shares<std::net::IpAddr>,
    /// Requests per client address (`webhook.address`,
    /// `operator.address`).
    pub(crate) limiter: Arc<crate::limits::RateLimiter>,
}

/// Deliveries read and processed at once; more wait briefly, then get 503.
pub const MAX_INFLIGHT: usize = 64;

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("public_base", &self.public_base)
            .finish_non_exhaustive()
    }
}

impl HttpState {
    /// The routes' state from the handlers' state and the configuration.
    pub fn new(
        state: &crate::rpc::state::AppState,
        config: &crate::config::Config,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (db, vault, public_url) = (state.db.clone(), state.vault.clone(), &config.public_url);
        let cron_secret: &SecretString = &config.secrets.cron_secret;
        let (checkpoints, limiter) = (state.checkpoints.clone(), state.limiter.clone());
        HttpState {
            db,
            vault,
            public_base: public_url.as_str().trim_end_matches('/').to_owned(),
            cron_digest: Sha256::digest(cron_secret.expose_secret().as_bytes()).into(),
            metrics,
            checkpoints,
            inflight: tokio::sync::Semaphore::new(MAX_INFLIGHT),
            per_integration: Shares::new(limits::PER_INTEGRATION),
            per_address: Shares::new(limits::PER_ADDRESS),
            limiter,
        }
    }
}
