//! Password policy and hashing.
//!
//! * [`check_strength`] enforces the sign-up / change-password policy: 12 to 256
//!   characters and a zxcvbn score of at least 3, with the user's own details
//!   (email, name) counted as guessable words.
//! * [`PasswordHasher`] hashes and verifies with argon2id at the OWASP
//!   parameters (m = 19456 KiB, t = 2, p = 1), producing PHC strings, on a
//!   bounded fair pool ([`pool`]): a few computations at once, waiting callers
//!   served in arrival order, at most one per client address.
//! * [`needs_rehash`] tells whether a stored hash was made with other
//!   parameters and should be replaced after the next successful login.

use zxcvbn::Score;

/// Fewest characters (Unicode scalar values, not bytes) a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most characters a password may have.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Lowest acceptable zxcvbn score.
const MIN_SCORE: Score = Score::Three;

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

mod argon;
pub mod pool;

#[cfg(test)]
use argon::DUMMY_PHC;
pub use argon::{HashError, ITERATIONS, MEMORY_KIB, PARALLELISM, needs_rehash};
pub use pool::{ClientSlot, PasswordHasher};

#[cfg(test)]
mod tests;
