//! The one signed-envelope type. Access tokens, OAuth `state` values and page
//! tokens are all a payload with an HMAC-SHA256 tag under a key derived from
//! a server secret and a label (domain separation), so a token of one kind
//! never verifies as another:
//!
//! * text envelopes `<prefix><base64url(payload)>.<base64url(tag)>`, the tag
//!   over everything before the last dot ([`Envelope::seal`] /
//!   [`Envelope::open`]): access tokens and OAuth states;
//! * compact binary envelopes `base64url(body ‖ tag[..n])`
//!   ([`Envelope::seal_compact`] / [`Envelope::open_compact`]): page tokens.
//!
//! Tags are compared in constant time; nothing here panics on input.

use std::fmt;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Shortest secret an envelope key is derived from, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Why an envelope was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not an envelope of this kind (length, prefix, encoding).
    #[error("malformed")]
    Malformed,
    /// The tag does not match: tampered, or sealed under another key.
    #[error("signature mismatch")]
    BadSignature,
}

/// Seals and opens envelopes of one kind. Holds only the keyed HMAC state
/// derived from the secret, never the secret itself.
#[derive(Clone)]
pub struct Envelope {
    mac: HmacSha256,
    prefix: &'static str,
    max_len: usize,
}

impl fmt::Debug for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Envelope")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Envelope {
    /// Keys envelopes with HMAC-SHA256(secret, `label`). `prefix` starts
    /// every text envelope; longer input than `max_len` is refused
    /// undecoded. `None` for a secret shorter than [`MIN_SECRET_LEN`].
    pub fn new(
        secret: &SecretString,
        label: &[u8],
        prefix: &'static str,
        max_len: usize,
    ) -> Option<Self> {
        let secret = secret.expose_secret().as_bytes();
        if secret.len() < MIN_SECRET_LEN {
            return None;
        }
        let mut kdf = HmacSha256::new_from_slice(secret).ok()?;
        kdf.update(label);
        let key = Zeroizing::new(<[u8; 32]>::from(kdf.finalize().into_bytes()));
        let mac = HmacSha256::new_from_slice(key.as_ref()).ok()?;
        Some(Envelope {
            mac,
            prefix,
            max_len,
        })
    }

    /// `<prefix><base64url(payload)>.<base64url(tag)>`.
    pub fn seal(&self, payload: &[u8]) -> String {
        let mut token = format!("{}{}", self.prefix, URL_SAFE_NO_PAD.encode(payload));
        let mut mac = self.mac.clone();
        mac.update(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()));
        token
    }

    /// The payload of a text envelope: length, prefix and encoding checked,
    /// then the tag (constant time), then the payload decoded.
    pub fn open(&self, token: &str) -> Result<Vec<u8>, EnvelopeError> {
        if token.len() > self.max_len {
            return Err(EnvelopeError::Malformed);
        }
        let rest = token
            .strip_prefix(self.prefix)
            .ok_or(EnvelopeError::Malformed)?;
        let (payload, tag) = rest.split_once('.').ok_or(EnvelopeError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| EnvelopeError::Malformed)?;
        let signed = token
            .get(..self.prefix.len() + payload.len())
            .ok_or(EnvelopeError::Malformed)?;
        let mut mac = self.mac.clone();
        mac.update(signed.as_bytes());
        mac.verify_slice(&tag)
            .map_err(|_| EnvelopeError::BadSignature)?;
        URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| EnvelopeError::Malformed)
    }

    /// `base64url(body ‖ first tag_len bytes of the tag)`.
    pub fn seal_compact(&self, body: &[u8], tag_len: usize) -> String {
        let mut mac = self.mac.clone();
        mac.update(body);
        let tag = mac.finalize().into_bytes();
        let mut raw = body.to_vec();
        raw.extend_from_slice(&tag[..tag_len.min(tag.len())]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The body of a compact envelope of exactly `body_len` + `tag_len`
    /// bytes, its truncated tag checked in constant time.
    pub fn open_compact(
        &self,
        token: &str,
        body_len: usize,
        tag_len: usize,
    ) -> Result<Vec<u8>, EnvelopeError> {
        if token.len() > self.max_len {
            return Err(EnvelopeError::Malformed);
        }
        let mut raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| EnvelopeError::Malformed)?;
        if raw.len() != body_len + tag_len {
            return Err(EnvelopeError::Malformed);
        }
        let tag = raw.split_off(body_len);
        let mut mac = self.mac.clone();
        mac.update(&raw);
        mac.verify_truncated_left(&tag)
            .map_err(|_| EnvelopeError::BadSignature)?;
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn envelope(secret: &str, label: &[u8]) -> Envelope {
        Envelope::new(&SecretString::from(secret.to_owned()), label, "p.", 4096).unwrap()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_sealed_payload_opens_to_itself() {
        let e = envelope(SECRET, b"a");
        assert_eq!(e.open(&e.seal(b"hello")).unwrap(), b"hello");
        let c = e.seal_compact(b"body", 16);
        assert_eq!(e.open_compact(&c, 4, 16).unwrap(), b"body");
    }

    #[test]
    fn another_label_or_secret_does_not_open_it() {
        let sealed = envelope(SECRET, b"a").seal(b"hello");
        let other_label = envelope(SECRET, b"b");
        let other_secret = envelope("fedcba9876543210fedcba9876543210", b"a");
        assert_eq!(other_label.open(&sealed), Err(EnvelopeError::BadSignature));
        assert_eq!(other_secret.open(&sealed), Err(EnvelopeError::BadSignature));
    }

    #[test]
    fn a_flipped_payload_byte_is_refused() {
        let e = envelope(SECRET, b"a");
        let sealed = e.seal(b"hello");
        let mut bytes = sealed.into_bytes();
        bytes[3] ^= 1;
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(e.open(&tampered).is_err());
        let c = e.seal_compact(b"body", 16);
        let mut raw = URL_SAFE_NO_PAD.decode(&c).unwrap();
        raw[0] ^= 1;
        let c = URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(e.open_compact(&c, 4, 16), Err(EnvelopeError::BadSignature));
    }

    #[test]
    fn short_secrets_are_refused() {
        let short = SecretString::from("short".to_owned());
        assert!(Envelope::new(&short, b"a", "p.", 10).is_none());
    }

    #[test]
    fn oversized_and_unprefixed_input_is_malformed() {
        let e = envelope(SECRET, b"a");
        assert_eq!(e.open(&"p.".repeat(3000)), Err(EnvelopeError::Malformed));
        assert_eq!(e.open("q.aGk.AAAA"), Err(EnvelopeError::Malformed));
    }
}
