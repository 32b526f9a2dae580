//! HMAC-SHA256 for the webhook signature schemes, whose keys and signed
//! bytes the providers define (no key derivation here: see
//! [`super::envelope`] for the server's own tokens).

use std::fmt;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// An HMAC-SHA256 tag, computed or received. It has no `PartialEq`: tags
/// compare only in constant time ([`MacTag::ct_eq`]), so a timing-leaking
/// `==` on a MAC does not compile:
///
/// ```
/// use ochre_server::crypto::mac::MacTag;
/// let (a, b) = (MacTag::from_bytes([0; 32]), MacTag::from_bytes([1; 32]));
/// assert!(!bool::from(a.ct_eq(&b)));
/// ```
///
/// ```compile_fail
/// use ochre_server::crypto::mac::MacTag;
/// let (a, b) = (MacTag::from_bytes([0; 32]), MacTag::from_bytes([1; 32]));
/// assert!(a != b);
/// ```
#[derive(Clone, Copy, Default)]
pub struct MacTag([u8; 32]);

impl MacTag {
    /// A tag from its 32 bytes (decoded from a header, say).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        MacTag(bytes)
    }

    /// The tag's bytes (to encode it).
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether two tags are equal, in time independent of their contents.
    pub fn ct_eq(&self, other: &MacTag) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl AsRef<[u8]> for MacTag {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for MacTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacTag(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Option<MacTag> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(MacTag(mac.finalize().into_bytes().into()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parts_are_concatenated_and_rfc_4231_case_2_holds() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        let whole = hmac_sha256(b"Jefe", &[b"what do ya want for nothing?"]).unwrap();
        let split = hmac_sha256(b"Jefe", &[b"what do ya ", b"want for nothing?"]).unwrap();
        assert!(bool::from(whole.ct_eq(&split)));
        assert!(!bool::from(whole.ct_eq(&MacTag::default())));
        let hex: String = whole
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
