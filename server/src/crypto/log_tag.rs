//! Keyed tags for personal data in log lines: an email address becomes
//! `e:` + 8 hex digits of HMAC-SHA256 under a key derived from a configured
//! secret, so one address correlates across lines while a dictionary of
//! addresses cannot reverse the tag without the key.

use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Derivation label of the log tag key (domain separation from every other
/// key derived from the same secret).
const KEY_LABEL: &[u8] = b"ochre log email tag v1";

/// The key log tags are computed under. Holds only the derived key.
#[derive(Clone)]
pub struct LogTagKey {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for LogTagKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogTagKey(..)")
    }
}

impl LogTagKey {
    /// HMAC-SHA256(`secret`, label): stable for as long as the secret is.
    pub fn derive(secret: &SecretString) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        if let Ok(mut kdf) = HmacSha256::new_from_slice(secret.expose_secret().as_bytes()) {
            kdf.update(KEY_LABEL);
            key.copy_from_slice(&kdf.finalize().into_bytes());
        }
        LogTagKey { key }
    }

    /// A random key (before the configuration is loaded: tags correlate
    /// within this process only).
    pub fn random() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(key.as_mut());
        LogTagKey { key }
    }

    /// The first four bytes of HMAC-SHA256(key, `data`), as 8 lower-case hex
    /// digits.
    pub fn tag_hex(&self, data: &[u8]) -> String {
        let mut out = String::with_capacity(8);
        if let Ok(mut mac) = HmacSha256::new_from_slice(self.key.as_ref()) {
            mac.update(data);
            for b in &mac.finalize().into_bytes()[..4] {
                out.push_str(&format!("{b:02x}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_stable_under_one_secret_and_differs_under_another() {
        let a = LogTagKey::derive(&SecretString::from("a".repeat(32)));
        let again = LogTagKey::derive(&SecretString::from("a".repeat(32)));
        let b = LogTagKey::derive(&SecretString::from("b".repeat(32)));
        let tag = a.tag_hex(b"ada@example.com");
        assert_eq!(tag.len(), 8);
        assert!(tag.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(tag, again.tag_hex(b"ada@example.com"));
        assert_ne!(tag, b.tag_hex(b"ada@example.com"));
        assert_ne!(tag, a.tag_hex(b"bob@example.com"));
    }

    #[test]
    fn the_tag_is_not_an_unkeyed_hash_of_the_address() {
        use sha2::Digest as _;
        let key = LogTagKey::derive(&SecretString::from("k".repeat(32)));
        let plain: String = Sha256::digest(b"ada@example.com")[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_ne!(key.tag_hex(b"ada@example.com"), plain);
    }
}
