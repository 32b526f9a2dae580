//! Argon2id itself: the OWASP parameters, PHC strings, the blocking hash and
//! verify, the dummy hash for unknown accounts, and the rehash check.

use argon2::password_hash::{
    self, PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore as _;

/// Argon2 memory cost in KiB (OWASP recommendation).
pub const MEMORY_KIB: u32 = 19_456;
/// Argon2 iteration count (OWASP recommendation).
pub const ITERATIONS: u32 = 2;
/// Argon2 lanes (OWASP recommendation).
pub const PARALLELISM: u32 = 1;
/// Salt length in bytes.
const SALT_LEN: usize = 16;

/// A hash of a password nobody knows, made with the current parameters, so
/// that [`super::PasswordHasher::verify_dummy`] costs as much as a real verification.
/// A test checks it still matches the current parameters.
pub(crate) const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$b2NocmUtZHVtbXktc2FsdA$FR6cBnckZWC4LyOJSJbgEmMvaYzJmP1e8RIiS2MdMnE";

/// Failures of [`super::PasswordHasher`].
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The pool cannot take this call now (the client already has one in
    /// progress, or the queue is full or too slow); retry after the delay.
    #[error("too many password operations in progress")]
    Busy { retry_after: std::time::Duration },
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

pub(crate) fn hash_blocking(password: &[u8]) -> Result<String, HashError> {
    let mut salt_bytes = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(HashError::Argon2)?;
    let hash = argon2()?
        .hash_password(password, &salt)
        .map_err(HashError::Argon2)?;
    Ok(hash.to_string())
}

pub(crate) fn verify_blocking(password: &[u8], phc: &str) -> Result<bool, HashError> {
    let parsed = PasswordHash::new(phc).map_err(|_| HashError::InvalidHash)?;
    // The parameters are read from the PHC string, so older hashes still verify.
    match argon2()?.verify_password(password, &parsed) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(_) => Err(HashError::InvalidHash),
    }
}
