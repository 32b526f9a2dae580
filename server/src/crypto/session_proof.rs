//! The per-session proof of possession an access token carries.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

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
