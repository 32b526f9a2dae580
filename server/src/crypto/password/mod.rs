//! Password policy and hashing.
//!
//! * [`check_strength`] enforces the sign-up / change-password policy: 12 to 256
//!   characters and a zxcvbn score of at least 3, with the user's own details
//!   (email, name) counted as guessable words.
//! * [`PasswordHasher`] hashes and verifies with argon2id at the OWASP
//!   parameters (m = 19456 KiB, t = 2, p = 1), producing PHC strings. The work
//!   runs on tokio's blocking pool behind a semaphore: when every permit is in
//!   use the call fails at once with [`HashError::Busy`] instead of queueing,
//!   so a burst of logins cannot pile up unbounded CPU work.
//! * [`needs_rehash`] tells whether a stored hash was made with other
//!   parameters and should be replaced after the next successful login.

use std::sync::Arc;

use argon2::password_hash::{
    self, PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Semaphore;
use zxcvbn::Score;

/// Argon2 memory cost in KiB (OWASP recommendation).
pub const MEMORY_KIB: u32 = 19_456;
/// Argon2 iteration count (OWASP recommendation).
pub const ITERATIONS: u32 = 2;
/// Argon2 lanes (OWASP recommendation).
pub const PARALLELISM: u32 = 1;
/// Fewest characters (Unicode scalar values, not bytes) a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most characters a password may have.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Lowest acceptable zxcvbn score.
const MIN_SCORE: Score = Score::Three;
/// Salt length in bytes.
const SALT_LEN: usize = 16;

/// A hash of a password nobody knows, made with the current parameters, so
/// that [`PasswordHasher::verify_dummy`] costs as much as a real verification.
/// A test checks it still matches the current parameters.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$b2NocmUtZHVtbXktc2FsdA$FR6cBnckZWC4LyOJSJbgEmMvaYzJmP1e8RIiS2MdMnE";

/// Why a password was refused. The reason is meant for the end user and never
/// contains the password itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct WeakPassword {
    reason: String,
}

impl WeakPassword {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// A human-readable explanation that is safe to show to the user.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Failures of [`PasswordHasher`].
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing permit is in use; map to RESOURCE_EXHAUSTED.
    #[error("too many password operations in progress")]
    Busy,
    /// The stored hash is not a PHC string argon2 understands.
    #[error("stored password hash is malformed")]
    InvalidHash,
    /// Argon2 failed (its errors hold no secret).
    #[error("argon2 failed")]
    Argon2(#[source] password_hash::Error),
    /// Argon2 refused its parameters.
    #[error("argon2 parameters refused")]
    Params(#[source] argon2::Error),
    /// The blocking pool lost the job (a panic or a shutdown).
    #[error("the hashing task did not finish")]
    Join(#[source] tokio::task::JoinError),
}

/// Checks a new password against the policy.
///
/// `user_inputs` are words the user is known by (email, display name, tenant
/// name); they are split on punctuation so that `alice.smith@example.com`
/// also penalises `alice` and `smith`.
pub fn check_strength(password: &str, user_inputs: &[&str]) -> Result<(), WeakPassword> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::new(format!(
            "Use at least {MIN_PASSWORD_CHARS} characters."
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(WeakPassword::new(format!(
            "Use at most {MAX_PASSWORD_CHARS} characters."
        )));
    }

    let mut words: Vec<String> = Vec::new();
    for input in user_inputs {
        let lower = input.to_lowercase();
        words.extend(
            lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|part| part.chars().count() >= 3)
                .map(str::to_owned),
        );
        words.push(lower);
    }
    let word_refs: Vec<&str> = words.iter().map(String::as_str).collect();

    let entropy = zxcvbn::zxcvbn(password, &word_refs);
    if entropy.score() >= MIN_SCORE {
        return Ok(());
    }
    let mut reason = String::from("This password is too easy to guess.");
    if let Some(feedback) = entropy.feedback() {
        if let Some(warning) = feedback.warning() {
            reason = format!("{reason} {warning}");
        }
        if let Some(suggestion) = feedback.suggestions().first() {
            reason = format!("{reason} {suggestion}");
        }
    }
    Err(WeakPassword::new(reason))
}

/// True when `phc` was not made by argon2id v19 with the current parameters
/// (or cannot be parsed at all), so it should be replaced on next login.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || parsed.hash.map(|h| h.len()) != Some(Params::DEFAULT_OUTPUT_LEN)
    {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(params) => {
            params.m_cost() != MEMORY_KIB
                || params.t_cost() != ITERATIONS
                || params.p_cost() != PARALLELISM
        }
        Err(_) => true,
    }
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(HashError::Params)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &[u8]) -> Result<String, HashError> {
    let mut salt_bytes = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(HashError::Argon2)?;
    let hash = argon2()?
        .hash_password(password, &salt)
        .map_err(HashError::Argon2)?;
    Ok(hash.to_string())
}

fn verify_blocking(password: &[u8], phc: &str) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(phc).map_err(|_| HashError::InvalidHash)?;
    // The parameters are read from the PHC string, so older hashes still verify.
    match argon2()?.verify_password(password, &parsed) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(_) => Err(HashError::InvalidHash),
    }
}

/// Argon2id hashing on tokio's blocking pool, at most `max_concurrent` at once.
///
/// Cloning is cheap and shares the same permits.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

impl PasswordHasher {
    /// A hasher that runs at most `max_concurrent` argon2 computations at a
    /// time (clamped to at least 1). Each one holds about 19 MiB.
    pub fn new(max_concurrent: usize) -> Self {
        let permits = max_concurrent.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(permits)),
        }
    }

    /// Number of argon2 computations that could start right now.
    pub fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }

    /// Takes a permit or fails with `Busy`, then runs `job` on the blocking
    /// pool. The permit moves into the blocking closure, so it is held until
    /// the CPU work really ends even if the caller's future is dropped.
    async fn run<T, F>(&self, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .try_acquire_owned()
            .map_err(|_| HashError::Busy)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(HashError::Join)?
    }

    /// Hashes `password` into a PHC string with a fresh random salt.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        self.run(move || hash_blocking(password.expose_secret().as_bytes()))
            .await
    }

    /// Checks `password` against a stored PHC string. `Ok(false)` means the
    /// password is wrong; `Err(InvalidHash)` means the stored value is broken.
    pub async fn verify(&self, password: SecretString, phc: &str) -> Result<bool, HashError> {
        let phc = phc.to_owned();
        self.run(move || verify_blocking(password.expose_secret().as_bytes(), &phc))
            .await
    }

    /// Spends the same time as [`verify`](Self::verify) against a fixed dummy
    /// hash and discards the result. Call it when the email is unknown so that
    /// unknown-user and wrong-password logins cost the same. It still needs a
    /// permit, so it can also fail with `Busy`.
    pub async fn verify_dummy(&self, password: SecretString) -> Result<(), HashError> {
        self.run(move || {
            let _ = verify_blocking(password.expose_secret().as_bytes(), DUMMY_PHC);
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests;
