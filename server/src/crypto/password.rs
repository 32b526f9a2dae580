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
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn reason(password: &str, inputs: &[&str]) -> Option<String> {
        check_strength(password, inputs)
            .err()
            .map(|e| e.reason().to_owned())
    }

    const TOO_SHORT: Option<&str> = Some("Use at least 12 characters.");

    #[test]
    fn common_passwords_are_refused() {
        // "correcthorse" is exactly 12 characters: refused as guessable, not short.
        for weak in ["password1234", "qwertyuiop12", "correcthorse"] {
            assert!(check_strength(weak, &[]).is_err(), "{weak} was accepted");
        }
    }

    #[test]
    fn passwords_shorter_than_twelve_characters_are_refused_by_length() {
        assert_eq!(reason("Tr0ub4dor&3", &[]).as_deref(), TOO_SHORT);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 11 characters but 22 bytes: still too short; 12 reach zxcvbn.
        assert_eq!(reason(&"é".repeat(11), &[]).as_deref(), TOO_SHORT);
        assert_ne!(reason(&"é".repeat(12), &[]).as_deref(), TOO_SHORT);
    }

    #[test]
    fn passwords_longer_than_256_characters_are_refused() {
        let too_long = Some("Use at most 256 characters.");
        assert_eq!(reason(&"x".repeat(257), &[]).as_deref(), too_long);
    }

    #[test]
    fn a_long_random_passphrase_passes() {
        assert_eq!(check_strength("vivid-otter-copper-lantern-93", &[]), Ok(()));
    }

    #[test]
    fn a_password_built_from_the_users_email_is_refused_without_echoing_it() {
        let email = "zorbax.quimbleton@example.com";
        // Strong on its own, weak once the email's parts are known words.
        assert_eq!(check_strength("zorbaxquimbleton", &[]), Ok(()));
        for password in ["zorbaxquimbleton", email] {
            let reason = reason(password, &[email, "Zorbax Quimbleton"]).unwrap_or_default();
            assert!(!reason.is_empty(), "{password} passed");
            assert!(!reason.to_lowercase().contains("zorbax"), "{reason}");
        }
    }

    #[tokio::test]
    async fn hashes_are_phc_strings_with_the_owasp_parameters() {
        let phc = PasswordHasher::new(2).hash(secret("correct horse")).await;
        let phc = phc.expect("hashing failed");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!needs_rehash(&phc));
    }

    #[tokio::test]
    async fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let hasher = PasswordHasher::new(2);
        let phc = hasher.hash(secret("s3cret-passphrase!")).await.unwrap();
        let right = hasher.verify(secret("s3cret-passphrase!"), &phc).await;
        let wrong = hasher.verify(secret("s3cret-passphrase?"), &phc).await;
        assert!(
            matches!((&right, &wrong), (Ok(true), Ok(false))),
            "{right:?} {wrong:?}"
        );
    }

    #[tokio::test]
    async fn the_same_password_gets_a_different_salt_each_time() {
        let hasher = PasswordHasher::new(2);
        let a = hasher.hash(secret("same password here")).await.unwrap();
        let b = hasher.hash(secret("same password here")).await.unwrap();
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_an_error_not_a_panic() {
        let hasher = PasswordHasher::new(1);
        for bad in ["", "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$", "$$$$"] {
            let result = hasher.verify(secret("whatever"), bad).await;
            assert!(
                matches!(result, Err(HashError::InvalidHash)),
                "{bad:?}: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_saturated_hasher_answers_busy_immediately() {
        let hasher = PasswordHasher::new(1);
        // join! polls the first future (which takes the only permit and parks
        // on the blocking pool) before polling the second.
        let (first, second) = tokio::join!(
            hasher.hash(secret("first password")),
            hasher.hash(secret("second password"))
        );
        assert!(first.is_ok());
        assert!(matches!(second, Err(HashError::Busy)), "{second:?}");
        // The permit comes back once the work is done.
        assert_eq!(hasher.available_permits(), 1);
        assert!(hasher.hash(secret("third password")).await.is_ok());
        assert_eq!(PasswordHasher::new(0).available_permits(), 1);
    }

    #[tokio::test]
    async fn a_dummy_verification_costs_about_as_much_as_a_real_one() {
        assert!(!needs_rehash(DUMMY_PHC), "dummy hash is out of date");
        let hasher = PasswordHasher::new(1);
        let phc = hasher.hash(secret("a real password!")).await.unwrap();
        let (mut real, mut dummy) = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            let start = Instant::now();
            assert!(matches!(
                hasher.verify(secret("wrong"), &phc).await,
                Ok(false)
            ));
            real = real.min(start.elapsed());
            let start = Instant::now();
            assert!(hasher.verify_dummy(secret("wrong")).await.is_ok());
            dummy = dummy.min(start.elapsed());
        }
        let similar = dummy * 4 > real && real * 4 > dummy;
        assert!(similar, "real {real:?}, dummy {dummy:?}");
    }

    #[test]
    fn hashes_with_other_parameters_need_a_rehash() {
        let tail = DUMMY_PHC.trim_start_matches("$argon2id$v=19$m=19456,t=2,p=1");
        let others = [
            "$argon2id$v=19$m=8192,t=2,p=1",
            "$argon2id$v=19$m=19456,t=3,p=1",
            "$argon2i$v=19$m=19456,t=2,p=1",
            "$argon2id$v=16$m=19456,t=2,p=1",
        ];
        for other in others {
            assert!(needs_rehash(&format!("{other}{tail}")), "{other}");
        }
        assert!(needs_rehash("garbage"));
        assert!(needs_rehash("$2b$12$abcdefghijklmnopqrstuv"));
    }
}
