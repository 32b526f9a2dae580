//! Bearer credentials: signed access tokens and opaque random secrets.
//!
//! * Access tokens are `ochre_at_v1.<base64url(json claims)>.<base64url(mac)>`
//!   where the MAC is HMAC-SHA256 over everything before the last dot, keyed
//!   with HMAC-SHA256(session secret, "ochre access token v1"). They live 15
//!   minutes; the MAC is checked in memory, the session's proof ([`SessionProof`])
//!   by the database when the request's transaction opens.
//! * Refresh tokens (`ochre_rt_`) and sign-in tickets (`ochre_tk_`) are 32
//!   random bytes, base64url-encoded after the prefix. API keys (`ochre_sk_`)
//!   and invitation tokens (`ochre_inv_`) name their org: 32 random bytes,
//!   then the org id's 16 bytes, base64url-encoded after the prefix (random
//!   first, so the shown prefix of a key tells keys apart)
//!   ([`org_named`]), so the database finds them by (org, hash) and every
//!   key of their tables starts with the org. Only the SHA-256 of the whole
//!   token ([`hash_opaque`]) is stored, so a database leak does not leak
//!   usable credentials; it covers the org bytes, so a token edited to name
//!   another org is found nowhere.
//!
//! Nothing here panics on untrusted input.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore as _;
use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

pub use super::envelope::MIN_SECRET_LEN;
use super::envelope::{Envelope, EnvelopeError};
pub use super::session_proof::SessionProof;
use crate::ids::{OrgId, SessionId, UserId};

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
const ORG_BOUND_BYTES: usize = OPAQUE_TOKEN_BYTES + 16; // randomness, then the org id
const ORG_BOUND_CHARS: usize = ORG_BOUND_BYTES / 3 * 4; // base64url, no padding
const KEY_LABEL: &[u8] = b"ochre access token v1"; // MAC key derivation label

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
        let prf = URL_SAFE_NO_PAD.encode(self.prf.as_bytes());
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

    /// The user of a genuine access token (its MAC verifies), whatever its
    /// age. Only for refusing more, never to admit: the survey answer
    /// refuses staff even when their token has expired.
    pub fn subject_of(&self, token: &str) -> Option<UserId> {
        let json = self.envelope.open(token).ok()?;
        serde_json::from_slice::<Claims>(&json).ok().map(|c| c.sub)
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

fn new_org_bound(kind: TokenKind, org: OrgId) -> (String, [u8; 32]) {
    let mut bytes = Zeroizing::new([0u8; ORG_BOUND_BYTES]);
    rand::rng().fill_bytes(&mut bytes[..OPAQUE_TOKEN_BYTES]);
    bytes[OPAQUE_TOKEN_BYTES..].copy_from_slice(org.uuid().as_bytes());
    let body = URL_SAFE_NO_PAD.encode(bytes.as_ref());
    let token = format!("{}{body}", kind.prefix());
    let hash = hash_opaque(&token);
    (token, hash)
}

/// A new API key of `org` (show once) and its SHA-256 (store).
pub fn new_api_key(org: OrgId) -> (String, [u8; 32]) {
    new_org_bound(TokenKind::ApiKey, org)
}

/// A new invitation token into `org` (send by email) and its SHA-256 (store).
pub fn new_invitation_token(org: OrgId) -> (String, [u8; 32]) {
    new_org_bound(TokenKind::Invitation, org)
}

/// The org an API key or invitation token names, if `token` is one of
/// `kind` in the current form. Unverified: the database looks the token's
/// hash up under this org only.
pub fn org_named(kind: TokenKind, token: &str) -> Option<OrgId> {
    if !matches!(kind, TokenKind::ApiKey | TokenKind::Invitation) {
        return None;
    }
    let body = token.strip_prefix(kind.prefix())?;
    if body.len() != ORG_BOUND_CHARS {
        return None;
    }
    let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(body).ok()?);
    let org: [u8; 16] = bytes.get(OPAQUE_TOKEN_BYTES..)?.try_into().ok()?;
    Some(OrgId::from_uuid(Uuid::from_bytes(org)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
