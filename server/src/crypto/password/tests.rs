//! Password hashing: policy, verification, salts, the bounded pool, and the
//! dummy verification for unknown accounts.

#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::time::{Duration, Instant};

use secrecy::SecretString;

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
async fn a_saturated_pool_queues_callers_in_order_and_returns_its_permits() {
    let hasher = PasswordHasher::new(1);
    // join! polls the first future (which takes the only permit) before the
    // second, which waits in line instead of failing.
    let (first, second) = tokio::join!(
        hasher.hash(secret("first password")),
        hasher.hash(secret("second password"))
    );
    assert!(first.is_ok());
    assert!(second.is_ok(), "{second:?}");
    assert_eq!(hasher.available_permits(), 1);
    assert_eq!(PasswordHasher::new(0).available_permits(), 1);
}

#[tokio::test]
async fn one_client_gets_one_place_at_a_time_and_its_place_comes_back() {
    let hasher = PasswordHasher::new(1);
    let slot = hasher.admit("ip:192.0.2.1").unwrap();
    let again = hasher.admit("ip:192.0.2.1");
    assert!(
        matches!(again, Err(HashError::Busy { retry_after }) if retry_after.as_secs() >= 1),
        "{again:?}"
    );
    assert!(
        hasher.admit("ip:192.0.2.2").is_ok(),
        "another client is admitted"
    );
    drop(slot);
    assert!(hasher.admit("ip:192.0.2.1").is_ok(), "the place came back");
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
