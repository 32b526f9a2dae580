//! HMAC-SHA256 for the webhook signature schemes, whose keys and signed
//! bytes the providers define (no key derivation here: see
//! [`super::envelope`] for the server's own tokens).

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Option<[u8; 32]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(mac.finalize().into_bytes().into())
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
        assert_eq!(whole, split);
        let hex: String = whole.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
