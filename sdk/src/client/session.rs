//! A user session's tokens and their single-flight refresh.
//!
//! Refresh tokens are single-use and presenting one twice revokes the whole
//! session, so two tasks must never refresh the same pair: every caller
//! reads the current pair; one that finds it expiring (or refused) takes the
//! refresh lock, and only the first to get it calls `Refresh` — the others
//! see that the pair's generation moved on and use the new one.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use crate::v1::{RefreshRequest, SessionTokens};

use super::{OchreError, Wire};

/// Called with every new token pair (after sign-in and after each refresh),
/// so the partner can persist it.
pub type TokensCallback = Arc<dyn Fn(&SessionTokens) + Send + Sync>;

/// One token pair and when to stop using its access token.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub tokens: SessionTokens,
    /// `access_token_expires_at`; `None` when the server did not say.
    expires_at: Option<SystemTime>,
    /// Bumped by every refresh.
    pub generation: u64,
}

impl Snapshot {
    fn new(tokens: SessionTokens, generation: u64) -> Self {
        let expires_at = tokens
            .access_token_expires_at
            .and_then(|t| SystemTime::try_from(t).ok());
        Snapshot {
            tokens,
            expires_at,
            generation,
        }
    }

    fn fresh(&self, margin: Duration) -> bool {
        self.expires_at
            .is_none_or(|at| SystemTime::now() + margin < at)
    }
}

pub(crate) struct Session {
    current: RwLock<Arc<Snapshot>>,
    /// Held while one task refreshes; the others wait on it.
    refreshing: tokio::sync::Mutex<()>,
    /// Why the session is over, once a refresh was refused.
    signed_out: RwLock<Option<String>>,
    margin: Duration,
    on_tokens: Option<TokensCallback>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("generation", &self.snapshot().generation)
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub fn new(tokens: SessionTokens, margin: Duration, on_tokens: Option<TokensCallback>) -> Self {
        Session {
            current: RwLock::new(Arc::new(Snapshot::new(tokens, 0))),
            refreshing: tokio::sync::Mutex::new(()),
            signed_out: RwLock::new(None),
            margin,
            on_tokens,
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn signed_out(&self) -> Option<OchreError> {
        self.signed_out
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .map(OchreError::SignedOut)
    }

    /// A pair whose access token is good for at least the margin,
    /// refreshing first when it is not.
    pub async fn valid(&self, wire: &Wire) -> Result<Arc<Snapshot>, OchreError> {
        if let Some(err) = self.signed_out() {
            return Err(err);
        }
        let snapshot = self.snapshot();
        if snapshot.fresh(self.margin) {
            return Ok(snapshot);
        }
        self.refresh(snapshot.generation, wire).await
    }

    /// Replaces the pair of generation `seen` with a refreshed one, unless
    /// another task already did (then its pair is returned). A refusal of
    /// the refresh token ends the session: [`OchreError::SignedOut`].
    pub async fn refresh(&self, seen: u64, wire: &Wire) -> Result<Arc<Snapshot>, OchreError> {
        let _turn = self.refreshing.lock().await;
        if let Some(err) = self.signed_out() {
            return Err(err);
        }
        let current = self.snapshot();
        if current.generation != seen {
            return Ok(current);
        }
        let request = RefreshRequest {
            refresh_token: current.tokens.refresh_token.clone(),
        };
        match wire.refresh(request).await {
            Ok(tokens) => {
                if let Some(callback) = &self.on_tokens {
                    callback(&tokens);
                }
                let next = Arc::new(Snapshot::new(tokens, current.generation + 1));
                *self
                    .current
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = next.clone();
                Ok(next)
            }
            Err(status) if status.code() == tonic::Code::Unauthenticated => {
                let why = status.message().to_owned();
                *self
                    .signed_out
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why.clone());
                Err(OchreError::SignedOut(why))
            }
            Err(status) => Err(status.into()),
        }
    }
}
