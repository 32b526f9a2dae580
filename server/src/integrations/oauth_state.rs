//! The OAuth `state` parameter (CSRF defence) and PKCE helpers (RFC 7636).
//!
//! A state token is `v1.<base64url(json claims)>.<base64url(mac)>`, where the
//! MAC is HMAC-SHA256 over everything before the last dot, keyed with
//! HMAC-SHA256(oauth state secret, "ochre oauth state v1"). Its claims bind
//! the connect flow to a user, an organisation, a provider and a validated
//! `return_to`; the random `nonce` is the state's id, recorded in the database
//! so each state is used at most once (this module only signs and verifies).
//!
//! Verification checks the length (at most [`MAX_STATE_LEN`]), the format,
//! the MAC in constant time, strict base64 and JSON (unknown fields refused),
//! then the validity window. Nothing here panics on untrusted input.

use crate::ids::{OrgId, UserId};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore as _;
use secrecy::SecretString;
use secrecy::zeroize::Zeroizing;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

pub use crate::crypto::envelope::MIN_SECRET_LEN;
use crate::crypto::envelope::{Envelope, EnvelopeError};

/// Prefix of state tokens, including the separating dot.
pub const STATE_PREFIX: &str = "v1.";
/// Longest state token accepted; longer input is refused undecoded.
pub const MAX_STATE_LEN: usize = 4096;
/// How far in the future `issued_at` may be before a state is refused.
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;
const KEY_LABEL: &[u8] = b"ochre oauth state v1"; // MAC key derivation label
const NONCE_BYTES: usize = 16; // 128 random bits
const NONCE_LEN: usize = 22; // base64url of 16 bytes, unpadded
const PKCE_VERIFIER_BYTES: usize = 32; // 43 base64url characters

/// What a state token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateClaims {
    /// The user who started the connect flow.
    pub user_id: UserId,
    /// The organisation the integration is connected for.
    pub org_id: OrgId,
    /// The OAuth provider name (e.g. `github`).
    pub provider: String,
    /// The state's id: 128 random bits, base64url; tracked for single use.
    pub nonce: String,
    /// Where to send the browser afterwards (already validated).
    pub return_to: String,
    /// Issued at, Unix seconds.
    pub issued_at: u64,
    /// Expires at, Unix seconds; the state is invalid from this second on.
    pub expires_at: u64,
}

impl StateClaims {
    /// Claims issued at `now`, valid `ttl_secs`, with a fresh random nonce.
    #[must_use]
    pub fn new(
        user_id: UserId,
        org_id: OrgId,
        provider: impl Into<String>,
        return_to: impl Into<String>,
        now: u64,
        ttl_secs: u64,
    ) -> Self {
        let mut bytes = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self {
            user_id,
            org_id,
            provider: provider.into(),
            nonce: URL_SAFE_NO_PAD.encode(bytes),
            return_to: return_to.into(),
            issued_at: now,
            expires_at: now.saturating_add(ttl_secs),
        }
    }

    /// JSON form, built through `Value` so that it cannot fail.
    fn to_json(&self) -> String {
        let mut map = Map::new();
        let mut put = |k: &str, v: Value| map.insert(k.to_owned(), v);
        put(
            "user_id",
            Value::String(self.user_id.uuid().hyphenated().to_string()),
        );
        put(
            "org_id",
            Value::String(self.org_id.uuid().hyphenated().to_string()),
        );
        put("provider", Value::String(self.provider.clone()));
        put("nonce", Value::String(self.nonce.clone()));
        put("return_to", Value::String(self.return_to.clone()));
        put("issued_at", Value::from(self.issued_at));
        put("expires_at", Value::from(self.expires_at));
        Value::Object(map).to_string()
    }
}

/// Why a state token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not a state token of this format (length, prefix, encoding, JSON).
    #[error("malformed OAuth state")]
    Malformed,
    /// The MAC does not match: tampered, or signed with another secret.
    #[error("OAuth state signature mismatch")]
    BadSignature,
    /// `now >= expires_at`.
    #[error("OAuth state expired")]
    Expired,
    /// `issued_at` is more than [`MAX_CLOCK_SKEW_SECS`] in the future.
    #[error("OAuth state not yet valid")]
    NotYetValid,
}

/// The OAuth-state secret given to [`StateSigner::new`] is too short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("OAuth state secret must be at least {MIN_SECRET_LEN} bytes")]
pub struct SecretTooShort;

/// Signs and verifies state tokens (an [`Envelope`] with its own label).
#[derive(Clone)]
pub struct StateSigner {
    envelope: Envelope,
}

impl std::fmt::Debug for StateSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateSigner { .. }")
    }
}

impl StateSigner {
    /// Derives the MAC key as HMAC-SHA256(secret, "ochre oauth state v1").
    ///
    /// # Errors
    /// [`SecretTooShort`] for secrets shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &SecretString) -> Result<Self, SecretTooShort> {
        Envelope::new(secret, KEY_LABEL, STATE_PREFIX, MAX_STATE_LEN)
            .map(|envelope| Self { envelope })
            .ok_or(SecretTooShort)
    }

    /// Encodes and signs `claims`. Claims too large for [`MAX_STATE_LEN`]
    /// produce a token that [`Self::verify`] refuses.
    #[must_use]
    pub fn sign(&self, claims: &StateClaims) -> String {
        self.envelope.seal(claims.to_json().as_bytes())
    }

    /// Checks the format, the MAC (in constant time), the claims and the
    /// validity window at `now` (Unix seconds), in that order.
    ///
    /// # Errors
    /// The [`StateError`] of the first check that fails.
    pub fn verify(&self, token: &str, now: u64) -> Result<StateClaims, StateError> {
        let json = self.envelope.open(token).map_err(|e| match e {
            EnvelopeError::Malformed => StateError::Malformed,
            EnvelopeError::BadSignature => StateError::BadSignature,
        })?;
        let claims: StateClaims =
            serde_json::from_slice(&json).map_err(|_| StateError::Malformed)?;
        let nonce_ok =
            claims.nonce.len() == NONCE_LEN && URL_SAFE_NO_PAD.decode(&claims.nonce).is_ok();
        if !nonce_ok {
            return Err(StateError::Malformed);
        }
        if claims.issued_at > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(StateError::NotYetValid);
        }
        if now >= claims.expires_at {
            return Err(StateError::Expired);
        }
        Ok(claims)
    }
}

/// A new PKCE `code_verifier`: 32 random bytes, base64url (43 characters of
/// the RFC 7636 unreserved set).
#[must_use]
pub fn pkce_verifier() -> String {
    let mut bytes = Zeroizing::new([0u8; PKCE_VERIFIER_BYTES]);
    rand::rng().fill_bytes(bytes.as_mut());
    URL_SAFE_NO_PAD.encode(bytes.as_ref())
}

/// The S256 `code_challenge` for `verifier`: BASE64URL(SHA256(verifier)),
/// unpadded.
#[must_use]
pub fn pkce_challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng as _};

    const NOW: u64 = 1_700_000_000;

    fn signer(secret: &str) -> StateSigner {
        StateSigner::new(&SecretString::from(format!("{secret:-<32}"))).unwrap()
    }

    fn claims() -> StateClaims {
        let (user, org) = (UserId::generate(), OrgId::generate());
        StateClaims::new(
            user,
            org,
            "github",
            "https://app.ochre.test/x?a=\"b\"",
            NOW,
            600,
        )
    }

    #[test]
    fn a_signed_state_verifies_to_the_same_claims() {
        let s = signer("state secret");
        let c = claims();
        let token = s.sign(&c);
        assert!(token.starts_with("v1.") && token.split('.').count() == 3);
        assert_eq!(s.verify(&token, NOW + 1).unwrap(), c);
        assert_eq!(c.nonce.len(), 22);
        assert_ne!(claims().nonce, c.nonce);
    }

    #[test]
    fn changing_any_byte_of_the_token_is_refused() {
        let s = signer("state secret");
        let token = s.sign(&claims());
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            assert!(s.verify(&tampered, NOW).is_err(), "byte {i} accepted");
        }
    }

    #[test]
    fn a_re_signed_payload_with_the_old_signature_is_refused() {
        let s = signer("state secret");
        let token = s.sign(&claims());
        let mut other = claims();
        other.provider = "gitlab".into();
        let forged = s.sign(&other);
        let (forged_payload, _) = forged.rsplit_once('.').unwrap();
        let (_, sig) = token.rsplit_once('.').unwrap();
        let spliced = format!("{forged_payload}.{sig}");
        assert_eq!(s.verify(&spliced, NOW), Err(StateError::BadSignature));
    }

    #[test]
    fn a_state_signed_with_another_secret_is_refused() {
        let token = signer("secret one").sign(&claims());
        let got = signer("secret two").verify(&token, NOW);
        assert_eq!(got, Err(StateError::BadSignature));
    }

    #[test]
    fn a_secret_shorter_than_32_bytes_is_refused() {
        let short = SecretString::from("x".repeat(31));
        assert_eq!(StateSigner::new(&short).unwrap_err(), SecretTooShort);
        assert!(StateSigner::new(&SecretString::from("x".repeat(32))).is_ok());
    }

    #[test]
    fn a_state_is_refused_from_its_expiry_second_on() {
        let s = signer("state secret");
        let token = s.sign(&claims());
        assert!(s.verify(&token, NOW + 599).is_ok());
        assert_eq!(s.verify(&token, NOW + 600), Err(StateError::Expired));
    }

    #[test]
    fn a_state_issued_more_than_a_minute_ahead_is_refused() {
        let s = signer("state secret");
        let token = s.sign(&claims());
        assert!(s.verify(&token, NOW - 60).is_ok());
        assert_eq!(s.verify(&token, NOW - 61), Err(StateError::NotYetValid));
    }

    #[test]
    fn unknown_fields_padding_and_oversize_tokens_are_malformed() {
        let s = signer("state secret");
        let sign_raw = |json: &str| s.envelope.seal(json.as_bytes());
        let c = claims();
        let good = c.to_json();
        let extra = good.replacen('{', r#"{"admin":true,"#, 1);
        assert_eq!(s.verify(&sign_raw(&extra), NOW), Err(StateError::Malformed));
        let bad_nonce = sign_raw(&good.replace(&c.nonce, "short"));
        assert_eq!(s.verify(&bad_nonce, NOW), Err(StateError::Malformed));
        assert!(s.verify(&sign_raw(&good), NOW).is_ok());
        let padded = format!("{}=", s.sign(&claims()));
        assert_eq!(s.verify(&padded, NOW), Err(StateError::Malformed));
        let huge = format!("v1.{}.x", "A".repeat(MAX_STATE_LEN));
        assert_eq!(s.verify(&huge, NOW), Err(StateError::Malformed));
        assert_eq!(s.verify("", NOW), Err(StateError::Malformed));
    }

    #[test]
    fn random_and_mutated_inputs_never_panic_or_verify() {
        let s = signer("state secret");
        let token = s.sign(&claims());
        let mut rng = StdRng::seed_from_u64(7);
        for round in 0..10_000 {
            let candidate = if round % 2 == 0 {
                let mut bytes = token.clone().into_bytes();
                for _ in 0..rng.random_range(1..4) {
                    let i = rng.random_range(0..bytes.len());
                    bytes[i] = rng.random_range(0x20..0x7f);
                }
                bytes.truncate(rng.random_range(0..=bytes.len()));
                String::from_utf8(bytes).unwrap()
            } else {
                let len = rng.random_range(0..200);
                let prefix = if rng.random_bool(0.5) { "v1." } else { "" };
                let body: String = (0..len).map(|_| rng.random::<char>()).collect();
                format!("{prefix}{body}")
            };
            if candidate != token {
                assert!(s.verify(&candidate, NOW).is_err(), "{candidate:?}");
            }
        }
    }

    #[test]
    fn the_rfc_7636_appendix_b_vector_matches() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(pkce_challenge_s256(verifier), challenge);
    }

    #[test]
    fn pkce_verifiers_are_43_unreserved_characters_and_unique() {
        let v = pkce_verifier();
        assert_eq!(v.len(), 43);
        let unreserved = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
        assert!(v.chars().all(unreserved));
        assert_ne!(v, pkce_verifier());
        assert_eq!(pkce_challenge_s256(&v).len(), 43);
    }
}
