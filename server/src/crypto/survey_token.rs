//! Survey tokens: `v1.<key id>.<payload>.<tag>`, all base64url.
//!
//! The payload binds the org, the conversation, the customer, a 128-bit
//! nonce and the expiry (72 bytes). The tag is HMAC-SHA256, over everything
//! before the last dot, under a key derived from `OCHRE_SURVEY_TOKEN_SECRET`
//! for the key id; the key id is itself derived from the secret, so a
//! rotated secret gets a new id, and the previous secret
//! (`OCHRE_SURVEY_TOKEN_SECRET_PREVIOUS`) still verifies the links it
//! issued. Tokens are checked entirely in memory (length, format, key id,
//! tag in constant time, then expiry) before anything reaches the database.

use std::fmt;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::ids::{ConversationId, CustomerId, OrgId};

type HmacSha256 = Hmac<Sha256>;

const VERSION: &str = "v1";
const PAYLOAD_LEN: usize = 72;
/// Longest token looked at: anything longer is malformed unread.
pub const MAX_TOKEN_LEN: usize = 200;

/// What a survey token says.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SurveyClaims {
    pub org: OrgId,
    pub conversation: ConversationId,
    pub customer: CustomerId,
    /// The survey row's unique nonce.
    pub nonce: [u8; 16],
    /// Unix seconds.
    pub expires_at: i64,
}

impl fmt::Debug for SurveyClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SurveyClaims")
            .field("org", &self.org)
            .field("conversation", &self.conversation)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A fresh 128-bit survey nonce.
pub fn random_nonce() -> [u8; 16] {
    let mut nonce = [0u8; 16];
    rand::rng().fill_bytes(&mut nonce);
    nonce
}

impl SurveyClaims {
    /// Claims with a fresh random nonce.
    pub fn new(
        org: OrgId,
        conversation: ConversationId,
        customer: CustomerId,
        expires_at: i64,
    ) -> Self {
        SurveyClaims {
            org,
            conversation,
            customer,
            nonce: random_nonce(),
            expires_at,
        }
    }

    fn encode(&self) -> [u8; PAYLOAD_LEN] {
        let mut out = [0u8; PAYLOAD_LEN];
        out[..16].copy_from_slice(self.org.uuid().as_bytes());
        out[16..32].copy_from_slice(self.conversation.uuid().as_bytes());
        out[32..48].copy_from_slice(self.customer.uuid().as_bytes());
        out[48..64].copy_from_slice(&self.nonce);
        out[64..].copy_from_slice(&self.expires_at.to_be_bytes());
        out
    }

    fn decode(raw: &[u8]) -> Option<Self> {
        let raw: &[u8; PAYLOAD_LEN] = raw.try_into().ok()?;
        let id = |at: usize| Uuid::from_slice(&raw[at..at + 16]).ok();
        Some(SurveyClaims {
            org: OrgId::from_uuid(id(0)?),
            conversation: ConversationId::from_uuid(id(16)?),
            customer: CustomerId::from_uuid(id(32)?),
            nonce: raw[48..64].try_into().ok()?,
            expires_at: i64::from_be_bytes(raw[64..].try_into().ok()?),
        })
    }
}

/// Why a token was refused. Everything but [`SurveyTokenError::Expired`]
/// is answered the same way (one uniform refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SurveyTokenError {
    /// Not a survey token (length, version, encoding, payload size).
    #[error("malformed")]
    Malformed,
    /// A key id no configured secret has.
    #[error("unknown key id")]
    UnknownKey,
    /// The tag does not match: tampered, or issued under another secret.
    #[error("signature mismatch")]
    BadSignature,
    /// Genuine, but past its expiry.
    #[error("expired")]
    Expired,
}

/// One secret's key id and keyed MAC.
#[derive(Clone)]
struct SurveyKey {
    id: String,
    mac: HmacSha256,
}

impl SurveyKey {
    fn derive(secret: &SecretString) -> Option<Self> {
        let secret = secret.expose_secret().as_bytes();
        if secret.len() < super::envelope::MIN_SECRET_LEN {
            return None;
        }
        let mut kdf = HmacSha256::new_from_slice(secret).ok()?;
        kdf.update(b"ochre/survey-token/key-id/v1");
        let id = URL_SAFE_NO_PAD.encode(&kdf.finalize().into_bytes()[..6]);
        let mut kdf = HmacSha256::new_from_slice(secret).ok()?;
        kdf.update(b"ochre/survey-token/key/v1/");
        kdf.update(id.as_bytes());
        let key = Zeroizing::new(<[u8; 32]>::from(kdf.finalize().into_bytes()));
        let mac = HmacSha256::new_from_slice(key.as_ref()).ok()?;
        Some(SurveyKey { id, mac })
    }
}

/// Issues tokens under the current secret; verifies under it or the
/// previous one.
#[derive(Clone)]
pub struct SurveyTokens {
    current: SurveyKey,
    previous: Option<SurveyKey>,
}

impl fmt::Debug for SurveyTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SurveyTokens")
            .field("key_id", &self.current.id)
            .field("previous_key_id", &self.previous.as_ref().map(|k| &k.id))
            .finish()
    }
}

impl SurveyTokens {
    /// `None` when a secret is shorter than 32 bytes.
    pub fn new(current: &SecretString, previous: Option<&SecretString>) -> Option<Self> {
        let previous = match previous {
            Some(secret) => Some(SurveyKey::derive(secret)?),
            None => None,
        };
        Some(SurveyTokens {
            current: SurveyKey::derive(current)?,
            previous,
        })
    }

    /// The id of the key new tokens are issued under.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// `v1.<key id>.<payload>.<tag>`.
    pub fn issue(&self, claims: &SurveyClaims) -> String {
        let mut token = format!(
            "{VERSION}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(claims.encode())
        );
        let mut mac = self.current.mac.clone();
        mac.update(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        token
    }

    /// The claims of a genuine, unexpired token (`now` in unix seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<SurveyClaims, SurveyTokenError> {
        use SurveyTokenError::{BadSignature, Expired, Malformed, UnknownKey};
        if token.len() > MAX_TOKEN_LEN {
            return Err(Malformed);
        }
        let (signed, tag) = token.rsplit_once('.').ok_or(Malformed)?;
        let mut parts = signed.split('.');
        let (Some(VERSION), Some(key_id), Some(payload), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .find(|k| k.id == key_id)
            .ok_or(UnknownKey)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| Malformed)?;
        let mut mac = key.mac.clone();
        mac.update(signed.as_bytes());
        mac.verify_slice(&tag).map_err(|_| BadSignature)?;
        let raw = URL_SAFE_NO_PAD.decode(payload).map_err(|_| Malformed)?;
        let claims = SurveyClaims::decode(&raw).ok_or(Malformed)?;
        if claims.expires_at <= now {
            return Err(Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    fn tokens(current: &str, previous: Option<&str>) -> SurveyTokens {
        let previous = previous.map(|p| SecretString::from(p.to_owned()));
        SurveyTokens::new(&SecretString::from(current.to_owned()), previous.as_ref()).unwrap()
    }

    fn claims(expires_at: i64) -> SurveyClaims {
        SurveyClaims::new(
            OrgId::from_uuid(Uuid::now_v7()),
            ConversationId::from_uuid(Uuid::now_v7()),
            CustomerId::from_uuid(Uuid::now_v7()),
            expires_at,
        )
    }

    #[test]
    fn an_issued_token_verifies_to_its_claims_until_it_expires() {
        let t = tokens(A, None);
        let c = claims(1_000);
        let token = t.issue(&c);
        assert!(token.starts_with(&format!("v1.{}.", t.key_id())));
        assert!(token.len() <= MAX_TOKEN_LEN);
        assert_eq!(t.verify(&token, 999).unwrap(), c);
        assert_eq!(t.verify(&token, 1_000), Err(SurveyTokenError::Expired));
    }

    #[test]
    fn every_flipped_character_is_refused() {
        let t = tokens(A, None);
        let token = t.issue(&claims(i64::MAX));
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).unwrap();
            let refused = t.verify(&tampered, 0);
            assert!(
                matches!(
                    refused,
                    Err(SurveyTokenError::Malformed
                        | SurveyTokenError::BadSignature
                        | SurveyTokenError::UnknownKey)
                ),
                "byte {i}: {refused:?}"
            );
        }
    }

    #[test]
    fn a_rotated_secret_still_verifies_old_links_and_issues_under_a_new_key_id() {
        let old = tokens(A, None);
        let token = old.issue(&claims(i64::MAX));
        let rotated = tokens(B, Some(A));
        assert_ne!(rotated.key_id(), old.key_id());
        assert!(rotated.verify(&token, 0).is_ok());
        let new = rotated.issue(&claims(i64::MAX));
        assert_eq!(old.verify(&new, 0), Err(SurveyTokenError::UnknownKey));
        let after = tokens(B, None);
        assert_eq!(after.verify(&token, 0), Err(SurveyTokenError::UnknownKey));
    }

    #[test]
    fn another_secret_under_the_same_key_id_does_not_verify() {
        let t = tokens(A, None);
        let token = t.issue(&claims(i64::MAX));
        let (signed, _) = token.rsplit_once('.').unwrap();
        let mut forged_mac = HmacSha256::new_from_slice(B.as_bytes()).unwrap();
        forged_mac.update(signed.as_bytes());
        let forged = format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(forged_mac.finalize().into_bytes())
        );
        assert_eq!(t.verify(&forged, 0), Err(SurveyTokenError::BadSignature));
    }

    #[test]
    fn garbage_and_oversized_input_is_malformed() {
        let t = tokens(A, None);
        for bad in ["", ".", "v1", "v1...", "v2.x.y.z", &"v1.".repeat(100)] {
            assert!(t.verify(bad, 0).is_err(), "{bad}");
        }
        assert_eq!(
            t.verify(&"a".repeat(MAX_TOKEN_LEN + 1), 0),
            Err(SurveyTokenError::Malformed)
        );
        assert!(format!("{t:?}").contains(t.key_id()));
        assert!(!format!("{t:?}").contains(A));
    }
}
