//! Time-based one-time passwords, RFC 6238 (TOTP) over RFC 4226 (HOTP).
//!
//! Ochre uses HMAC-SHA1, 6 digits and a 30-second period, which is what
//! authenticator apps expect. Secrets are 20 random bytes, shown to the user
//! base32-encoded (no padding) inside an `otpauth://` URI.
//!
//! [`verify`] accepts the current time step and one step either side, compares
//! in constant time, and refuses any step at or before the last one the user
//! already spent, so a code can never be replayed.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

type HmacSha1 = Hmac<Sha1>;

/// Length of a TOTP secret in bytes (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;
/// Digits in the codes Ochre issues and accepts.
pub const DIGITS: u32 = 6;
/// Length of one time step in seconds.
pub const PERIOD_SECS: u64 = 30;
/// Issuer shown by authenticator apps.
pub const ISSUER: &str = "Ochre";
/// Steps accepted on either side of the current one, for clock drift.
pub const SKEW_STEPS: u64 = 1;
/// Largest supported digit count: the truncated value is below 2^31.
const MAX_DIGITS: u32 = 10;

/// A fresh random 20-byte secret, wiped from memory when dropped.
pub fn new_secret() -> Zeroizing<[u8; SECRET_LEN]> {
    let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
    rand::RngCore::fill_bytes(&mut rand::rng(), secret.as_mut());
    secret
}

/// Base32 (RFC 4648, upper case, no padding) form of a secret.
pub fn encode_secret(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// Parses a base32 secret as typed by a person: case and spaces are ignored,
/// trailing `=` padding is allowed. `None` if it is not valid base32.
pub fn decode_secret(encoded: &str) -> Option<Zeroizing<Vec<u8>>> {
    let cleaned: Zeroizing<String> = Zeroizing::new(
        encoded
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect::<String>()
            .trim_end_matches('=')
            .to_owned(),
    );
    data_encoding::BASE32_NOPAD
        .decode(cleaned.as_bytes())
        .ok()
        .map(Zeroizing::new)
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The `otpauth://` provisioning URI for an authenticator app, e.g.
/// `otpauth://totp/Ochre:alice%40example.com?secret=...&issuer=Ochre&...`.
/// Issuer and account name are percent-encoded; the `:` between them is not.
pub fn otpauth_uri(email: &str, secret: &[u8]) -> String {
    let issuer = percent_encode(ISSUER);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
         &algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECS}",
        account = percent_encode(email),
        secret = encode_secret(secret),
    )
}

/// The time step (RFC 6238 `T`) containing `unix_time`, with `T0 = 0`.
pub fn step_at(unix_time: u64) -> u64 {
    unix_time / PERIOD_SECS
}

/// HOTP dynamic truncation (RFC 4226 section 5.3) of HMAC-SHA1(secret, step).
fn truncated(secret: &[u8], step: u64) -> Option<u32> {
    let mut mac = HmacSha1::new_from_slice(secret).ok()?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest.last()? & 0x0f);
    let window: [u8; 4] = digest.get(offset..offset + 4)?.try_into().ok()?;
    Some(u32::from_be_bytes(window) & 0x7fff_ffff)
}

fn code_for_step(secret: &[u8], step: u64, digits: u32) -> String {
    let digits = digits.clamp(1, MAX_DIGITS);
    // HMAC accepts keys of any length, so `truncated` never returns None; an
    // empty string would match no code anyway.
    let Some(value) = truncated(secret, step) else {
        return String::new();
    };
    let modulus = 10u64.pow(digits);
    let width = digits as usize;
    format!("{:0width$}", u64::from(value) % modulus)
}

/// The code for the step containing `unix_time`, zero-padded to `digits`
/// (clamped to 1..=10).
pub fn code_at(secret: &[u8], unix_time: u64, digits: u32) -> String {
    code_for_step(secret, step_at(unix_time), digits)
}

/// Checks a 6-digit `code` typed by the user at `unix_time`.
///
/// Accepts the current step and [`SKEW_STEPS`] on either side, but never a
/// step `<= last_used_step`. On success returns the matched step, which the
/// caller must store as the new `last_used_step`. Anything that is not exactly
/// six ASCII digits is refused.
pub fn verify(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = step_at(unix_time);
    let first = current.saturating_sub(SKEW_STEPS);
    let last = current.saturating_add(SKEW_STEPS);
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not reveal
    // which step matched.
    for step in first..=last {
        let candidate = code_for_step(secret, step, DIGITS);
        let equal = bool::from(candidate.as_bytes().ct_eq(code.as_bytes()));
        let fresh = last_used_step.is_none_or(|used| step > used);
        if equal && fresh && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_appendix_b_sha1_vectors_match() {
        // RFC 6238, Appendix B ("Test Vectors"), SHA-1 rows: ASCII secret
        // "12345678901234567890", T0 = 0, X = 30, 8 digits.
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, expected) in vectors {
            assert_eq!(code_at(RFC_SECRET, time, 8), expected, "time {time}");
        }
    }

    #[test]
    fn six_digit_codes_are_the_low_digits_of_the_eight_digit_ones() {
        assert_eq!(code_at(RFC_SECRET, 59, 6), "287082");
        assert_eq!(code_at(RFC_SECRET, 1_111_111_109, 6), "081804");
    }

    #[test]
    fn a_current_code_is_accepted_and_its_step_returned() {
        let now = 1_700_000_000;
        let code = code_at(RFC_SECRET, now, DIGITS);
        assert_eq!(verify(RFC_SECRET, &code, now, None), Some(step_at(now)));
    }

    #[test]
    fn codes_one_step_either_side_are_accepted() {
        let now = 1_700_000_000;
        let previous = code_at(RFC_SECRET, now - PERIOD_SECS, DIGITS);
        let next = code_at(RFC_SECRET, now + PERIOD_SECS, DIGITS);
        assert_eq!(
            verify(RFC_SECRET, &previous, now, None),
            Some(step_at(now) - 1)
        );
        assert_eq!(verify(RFC_SECRET, &next, now, None), Some(step_at(now) + 1));
    }

    #[test]
    fn a_code_from_two_steps_ago_is_refused() {
        let now = 1_700_000_000;
        let old = code_at(RFC_SECRET, now - 2 * PERIOD_SECS, DIGITS);
        assert_eq!(verify(RFC_SECRET, &old, now, None), None);
        let future = code_at(RFC_SECRET, now + 2 * PERIOD_SECS, DIGITS);
        assert_eq!(verify(RFC_SECRET, &future, now, None), None);
    }

    #[test]
    fn a_replayed_code_is_refused() {
        let now = 1_700_000_000;
        let code = code_at(RFC_SECRET, now, DIGITS);
        let step = verify(RFC_SECRET, &code, now, None);
        assert!(step.is_some());
        assert_eq!(verify(RFC_SECRET, &code, now, step), None);
        assert_eq!(verify(RFC_SECRET, &code, now + 10, step), None);
    }

    #[test]
    fn an_older_step_is_refused_once_a_newer_one_was_used() {
        let now = 1_700_000_000;
        let previous = code_at(RFC_SECRET, now - PERIOD_SECS, DIGITS);
        assert_eq!(verify(RFC_SECRET, &previous, now, Some(step_at(now))), None);
        let next = code_at(RFC_SECRET, now + PERIOD_SECS, DIGITS);
        let used = Some(step_at(now));
        assert_eq!(verify(RFC_SECRET, &next, now, used), Some(step_at(now) + 1));
    }

    #[test]
    fn malformed_codes_are_refused_without_panic() {
        let now = 1_700_000_000;
        let real = code_at(RFC_SECRET, now, DIGITS);
        let malformed = [
            String::new(),
            "abcdef".to_owned(),
            "12345".to_owned(),
            "1234567".to_owned(),
            format!("{real}0"),
            format!(" {real}"),
            "12 456".to_owned(),
            "-12345".to_owned(),
            "+12345".to_owned(),
            "１２３４５６".to_owned(),
            "12345\0".to_owned(),
        ];
        for code in &malformed {
            assert_eq!(verify(RFC_SECRET, code, now, None), None, "{code:?}");
        }
    }

    #[test]
    fn times_near_zero_and_the_far_future_do_not_overflow() {
        let code = code_at(RFC_SECRET, 0, DIGITS);
        assert_eq!(verify(RFC_SECRET, &code, 0, None), Some(0));
        let code = code_at(RFC_SECRET, u64::MAX, DIGITS);
        assert_eq!(
            verify(RFC_SECRET, &code, u64::MAX, None),
            Some(step_at(u64::MAX))
        );
        assert_eq!(verify(RFC_SECRET, "000000", u64::MAX, Some(u64::MAX)), None);
    }

    #[test]
    fn new_secrets_are_twenty_random_bytes() {
        let a = new_secret();
        let b = new_secret();
        assert_eq!(a.len(), SECRET_LEN);
        assert_ne!(*a, *b);
    }

    #[test]
    fn secrets_round_trip_through_unpadded_base32() {
        let secret = new_secret();
        let encoded = encode_secret(secret.as_ref());
        assert_eq!(encoded.len(), 32);
        assert!(!encoded.contains('='));
        let decoded = decode_secret(&encoded.to_lowercase()).unwrap();
        assert_eq!(decoded.as_slice(), secret.as_ref());
        assert_eq!(
            encode_secret(RFC_SECRET),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert!(decode_secret("not base32!").is_none());
    }

    #[test]
    fn the_otpauth_uri_percent_encodes_the_label_and_issuer() {
        let uri = otpauth_uri("a+b c@example.com", RFC_SECRET);
        assert_eq!(
            uri,
            "otpauth://totp/Ochre:a%2Bb%20c%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Ochre\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(percent_encode("Ochre Inc.:ü"), "Ochre%20Inc.%3A%C3%BC");
    }
}
