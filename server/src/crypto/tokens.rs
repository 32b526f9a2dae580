//! Bearer credentials: signed access tokens and opaque random secrets.
//!
//! * Access tokens are `ochre_at_v1.<base64url(json claims)>.<base64url(mac)>`
//!   where the MAC is HMAC-SHA256 over everything before the last dot, keyed
//!   with HMAC-SHA256(session secret, "ochre access token v1"). They live 15
//!   minutes and are checked without a database round trip.
//! * Refresh tokens (`ochre_rt_`), API keys (`ochre_sk_`) and invitation tokens
//!   (`ochre_inv_`) are 32 random bytes, base64url-encoded after the prefix.
//!   Only their SHA-256 ([`hash_opaque`]) is stored, so a database leak does
//!   not leak usable credentials.
//!
//! Nothing here panics on untrusted input.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore as _;
use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::ids::{SessionId, UserId};
use zeroize::Zeroizing;

pub use super::envelope::MIN_SECRET_LEN;
use super::envelope::{Envelope, EnvelopeError};

/// Prefix of access tokens, including the separating dot.
pub const ACCESS_TOKEN_PREFIX: &str = "ochre_at_v1.";
/// Prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "ochre_rt_";
/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "ochre_sk_";
/// Prefix of invitation tokens.
pub const INVITATION_TOKEN_PREFIX: &str = "ochre_inv_";
/// Prefix of second-factor sign-in tickets.
pub const LOGIN_TICKET_PREFIX: &str = "ochre_tk_";
/// Lifetime of an access token.
pub const ACCESS_TOKEN_TTL_SECS: u64 = 15 * 60;
/// How far in the future `iat` may be before a token is refused.
pub const MAX_CLOCK_SKEW_SECS: u64 = 60;
const MAX_ACCESS_TOKEN_LEN: usize = 1024; // longer input is refused undecoded
const OPAQUE_TOKEN_BYTES: usize = 32; // randomness in opaque tokens
const KEY_LABEL: &[u8] = b"ochre access token v1"; // MAC key derivation label

/// The per-session secret an access token carries: the proof of possession
/// the database checks (`verify_session()` compares its SHA-256 with the
/// session's). 32 random bytes, base64url in the token; never printed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionProof([u8; 32]);

impl SessionProof {
    /// A fresh proof and the SHA-256 the database stores.
    pub fn generate() -> (Self, [u8; 32]) {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let proof = SessionProof(bytes);
        (proof, proof.hash())
    }

    /// What the database stores.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }

    /// The bytes sent to `verify_session()`.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SessionProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionProof(..)")
    }
}

impl<'de> Deserialize<'de> for SessionProof {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| serde::de::Error::custom("bad proof encoding"))?;
        <[u8; 32]>::try_from(bytes.as_slice())
            .map(SessionProof)
            .map_err(|_| serde::de::Error::custom("bad proof length"))
    }
}

/// What an access token asserts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The user.
    pub sub: UserId,
    /// The session the token was minted for (for revocation).
    pub sid: SessionId,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds; the token is invalid from this second on.
    pub exp: u64,
    /// A unique token id, so two tokens are never equal (for audit trails).
    pub jti: Uuid,
    /// The session's proof of possession.
    pub prf: SessionProof,
}

impl Claims {
    /// Claims for `user` in `session`, issued at `now`, valid 15 minutes.
    pub fn new(user: UserId, session: SessionId, proof: SessionProof, now: u64) -> Self {
        Self {
            sub: user,
            sid: session,
            iat: now,
            exp: now.saturating_add(ACCESS_TOKEN_TTL_SECS),
            jti: Uuid::new_v4(),
            prf: proof,
        }
    }

    /// Canonical JSON form; built by hand because it cannot fail.
    fn to_json(self) -> String {
        let (sub, sid, jti) = (
            self.sub.uuid().hyphenated(),
            self.sid.uuid().hyphenated(),
            self.jti.hyphenated(),
        );
        let (iat, exp) = (self.iat, self.exp);
        let prf = URL_SAFE_NO_PAD.encode(self.prf.0);
        format!(
            r#"{{"sub":"{sub}","sid":"{sid}","iat":{iat},"exp":{exp},"jti":"{jti}","prf":"{prf}"}}"#
        )
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not an access token of this format (wrong prefix, bad encoding, ...).
    #[error("malformed access token")]
    Malformed,
    /// The MAC does not match: tampered, or signed with another key.
    #[error("access token signature mismatch")]
    BadSignature,
    /// `now >= exp`.
    #[error("access token expired")]
    Expired,
    /// `iat` is more than [`MAX_CLOCK_SKEW_SECS`] in the future.
    #[error("access token not yet valid")]
    NotYetValid,
}

/// The session secret given to [`AccessTokenSigner::new`] is too short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("session secret must be at least {MIN_SECRET_LEN} bytes")]
pub struct SecretTooShort;

/// Signs and verifies access tokens (an [`Envelope`] with its own label).
#[derive(Clone)]
pub struct AccessTokenSigner {
    envelope: Envelope,
}

impl std::fmt::Debug for AccessTokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessTokenSigner { .. }")
    }
}

impl AccessTokenSigner {
    /// Derives the MAC key as HMAC-SHA256(session_secret, "ochre access token v1").
    pub fn new(session_secret: &SecretString) -> Result<Self, SecretTooShort> {
        Envelope::new(
            session_secret,
            KEY_LABEL,
            ACCESS_TOKEN_PREFIX,
            MAX_ACCESS_TOKEN_LEN,
        )
        .map(|envelope| Self { envelope })
        .ok_or(SecretTooShort)
    }

    /// Encodes and signs `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        self.envelope.seal(claims.to_json().as_bytes())
    }

    /// Checks the format, the MAC (in constant time) and the validity window
    /// at `now` (Unix seconds), in that order.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let json = self.envelope.open(token).map_err(|e| match e {
            EnvelopeError::Malformed => TokenError::Malformed,
            EnvelopeError::BadSignature => TokenError::BadSignature,
        })?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if claims.iat > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(TokenError::NotYetValid);
        }
        if now >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// The kinds of credential string Ochre hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// `ochre_at_v1.` signed access token.
    Access,
    /// `ochre_rt_` refresh token.
    Refresh,
    /// `ochre_sk_` API key.
    ApiKey,
    /// `ochre_inv_` invitation token.
    Invitation,
    /// `ochre_tk_` second-factor sign-in ticket.
    LoginTicket,
}

impl TokenKind {
    /// The string every token of this kind starts with.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::Access => ACCESS_TOKEN_PREFIX,
            Self::Refresh => REFRESH_TOKEN_PREFIX,
            Self::ApiKey => API_KEY_PREFIX,
            Self::Invitation => INVITATION_TOKEN_PREFIX,
            Self::LoginTicket => LOGIN_TICKET_PREFIX,
        }
    }
}

/// Which kind of token `token` claims to be, judging by its prefix only.
/// `None` for anything else, including a bare prefix with nothing after it.
pub fn parse_prefix(token: &str) -> Option<TokenKind> {
    use TokenKind::{Access, ApiKey, Invitation, LoginTicket, Refresh};
    let matches = |kind: &TokenKind| {
        token
            .strip_prefix(kind.prefix())
            .is_some_and(|r| !r.is_empty())
    };
    [Access, Refresh, ApiKey, Invitation, LoginTicket]
        .into_iter()
        .find(matches)
}

/// SHA-256 of the whole token string (prefix included), the form stored in
/// the database and looked up on use.
pub fn hash_opaque(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn new_opaque(kind: TokenKind) -> (String, [u8; 32]) {
    let mut bytes = Zeroizing::new([0u8; OPAQUE_TOKEN_BYTES]);
    rand::rng().fill_bytes(bytes.as_mut());
    let body = URL_SAFE_NO_PAD.encode(bytes.as_ref());
    let token = format!("{}{body}", kind.prefix());
    let hash = hash_opaque(&token);
    (token, hash)
}

/// A new refresh token (give to the client) and its SHA-256 (store).
pub fn new_refresh_token() -> (String, [u8; 32]) {
    new_opaque(TokenKind::Refresh)
}

/// A new second-factor sign-in ticket (give to the client) and its SHA-256.
pub fn new_login_ticket() -> (String, [u8; 32]) {
    new_opaque(TokenKind::LoginTicket)
}

/// A new API key (show once) and its SHA-256 (store).
pub fn new_api_key() -> (String, [u8; 32]) {
    new_opaque(TokenKind::ApiKey)
}

/// A new invitation token (send by email) and its SHA-256 (store).
pub fn new_invitation_token() -> (String, [u8; 32]) {
    new_opaque(TokenKind::Invitation)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng as _};

    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn signer(secret: &str) -> AccessTokenSigner {
        AccessTokenSigner::new(&SecretString::from(secret.to_owned())).unwrap()
    }

    fn fixture() -> (AccessTokenSigner, Claims, String) {
        let signer = signer("an example session secret of 32+ bytes");
        let claims = Claims::new(
            UserId::generate(),
            SessionId::generate(),
            SessionProof::generate().0,
            NOW,
        );
        let token = signer.sign(&claims);
        (signer, claims, token)
    }

    /// Replaces the character at `index` with a different base64url one.
    fn flip(token: &str, index: usize) -> String {
        let mut chars: Vec<char> = token.chars().collect();
        chars[index] = if chars[index] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    }

    #[test]
    fn a_signed_token_verifies_to_the_same_claims() {
        let (signer, claims, token) = fixture();
        assert!(token.starts_with(ACCESS_TOKEN_PREFIX));
        assert_eq!(signer.verify(&token, NOW), Ok(claims));
        assert_eq!(claims.exp - claims.iat, 15 * 60);
        assert_eq!(parse_prefix(&token), Some(TokenKind::Access));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let (signer, _, token) = fixture();
        let tampered = flip(&token, ACCESS_TOKEN_PREFIX.len() + 5);
        assert_eq!(signer.verify(&tampered, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_tampered_signature_is_refused() {
        let (signer, _, token) = fixture();
        let first_sig_char = token.rfind('.').unwrap() + 1;
        let tampered = flip(&token, first_sig_char);
        assert_eq!(signer.verify(&tampered, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let (_, _, token) = fixture();
        let other = signer("a different session secret, also 32+ bytes");
        assert_eq!(other.verify(&token, NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let (signer, claims, token) = fixture();
        assert!(signer.verify(&token, claims.exp - 1).is_ok());
        assert_eq!(signer.verify(&token, claims.exp), Err(TokenError::Expired));
    }

    #[test]
    fn a_token_issued_more_than_a_minute_ahead_is_not_yet_valid() {
        let (signer, claims, token) = fixture();
        assert!(signer.verify(&token, claims.iat - 60).is_ok());
        let early = signer.verify(&token, claims.iat - 61);
        assert_eq!(early, Err(TokenError::NotYetValid));
    }

    #[test]
    fn an_api_key_given_as_an_access_token_is_malformed() {
        let (signer, _, _) = fixture();
        for (other, _) in [new_api_key(), new_refresh_token(), new_invitation_token()] {
            assert_eq!(signer.verify(&other, NOW), Err(TokenError::Malformed));
        }
    }

    #[test]
    fn a_short_session_secret_is_refused_and_debug_hides_the_key() {
        let short = SecretString::from("too short".to_owned());
        assert_eq!(AccessTokenSigner::new(&short).err(), Some(SecretTooShort));
        let (signer, _, _) = fixture();
        assert_eq!(format!("{signer:?}"), "AccessTokenSigner { .. }");
    }

    #[test]
    fn random_and_mutated_strings_never_panic_and_never_verify() {
        let (signer, _, token) = fixture();
        let alphabet: Vec<char> = "AZaz09-_.=+/ \0\u{e9}\u{1F600}ochre".chars().collect();
        let mut rng = StdRng::seed_from_u64(0x0c4e);
        for i in 0..10_000 {
            // Every fourth case is pure noise; the rest mutate a valid token.
            let noise = i % 4 == 0;
            let mut chars: Vec<char> = token.chars().filter(|_| !noise).collect();
            let edits = rng.random_range(if noise { 0..200 } else { 1..4 });
            for _ in 0..edits {
                let pick = alphabet[rng.random_range(0..alphabet.len())];
                let at = rng.random_range(0..=chars.len());
                match rng.random_range(0..8) {
                    0 if at < chars.len() => chars[at] = pick,
                    1 if at < chars.len() => drop(chars.remove(at)),
                    2 => chars.truncate(at),
                    _ => chars.insert(at, pick),
                }
            }
            let candidate: String = chars.into_iter().collect();
            let result = signer.verify(&candidate, NOW);
            if candidate != token {
                assert!(result.is_err(), "{candidate:?} verified");
            }
            let _ = parse_prefix(&candidate);
        }
        let huge = "a".repeat(100_000);
        assert_eq!(signer.verify(&huge, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn opaque_tokens_carry_their_prefix_and_32_random_bytes() {
        let cases = [
            (new_refresh_token(), TokenKind::Refresh),
            (new_api_key(), TokenKind::ApiKey),
            (new_invitation_token(), TokenKind::Invitation),
        ];
        for ((token, hash), kind) in cases {
            let body = token.strip_prefix(kind.prefix()).unwrap();
            assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
            assert_eq!(parse_prefix(&token), Some(kind));
            assert_eq!(hash, hash_opaque(&token));
        }
    }

    #[test]
    fn two_refresh_tokens_differ() {
        let ((a, hash_a), (b, hash_b)) = (new_refresh_token(), new_refresh_token());
        assert!(a != b && hash_a != hash_b);
    }

    #[test]
    fn the_hash_of_a_token_is_stable_sha256() {
        assert_eq!(hash_opaque("ochre_rt_x"), hash_opaque("ochre_rt_x"));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let hex = hash_opaque("abc").map(|b| format!("{b:02x}")).concat();
        assert_eq!(hex, expected);
    }

    #[test]
    fn unknown_strings_have_no_prefix_kind() {
        let junk_strings = ["", "ochre_rt_", "ochre_at_v1", "Bearer x", "OCHRE_RT_abc"];
        for junk in junk_strings {
            assert_eq!(parse_prefix(junk), None, "{junk:?}");
        }
    }
}
