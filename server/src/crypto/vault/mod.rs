//! Sealed storage for tenant secrets (integration credentials, TOTP seeds).
//!
//! The cryptography is walled off here: callers get [`Vault::encrypt`],
//! [`Vault::decrypt`] and the rotation helpers, never a raw key, nonce or
//! cipher. Every blob is bound to a [`SecretContext`] through the AEAD
//! associated data, so a ciphertext copied to another org, scope, owner or
//! field fails to open.
//!
//! Blob layout (version 1):
//! `version (1) || key id (4) || nonce (24) || XChaCha20-Poly1305 ciphertext+tag`.
//! The version byte and key id are also authenticated as associated data.

use std::fmt;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

/// The blob format this module writes.
const VERSION: u8 = 1;
/// Length of a key id: the first bytes of a SHA-256 over the key.
const KEY_ID_LEN: usize = 4;
/// XChaCha20-Poly1305 nonce length.
const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
const TAG_LEN: usize = 16;
/// Version byte, key id and nonce.
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
/// Domain-separation label for key ids.
const KEY_ID_LABEL: &[u8] = b"ochre vault key id";
/// Domain-separation label for the associated data.
const AD_LABEL: &[u8] = b"ochre vault secret context";

/// Why a vault operation failed. Messages never carry key material or
/// plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The blob is too short or has an unknown format version.
    #[error("malformed vault ciphertext")]
    Malformed,
    /// The blob names a key id that is neither the current nor the previous key.
    #[error("vault ciphertext is sealed under an unknown key")]
    UnknownKey,
    /// Authentication failed: wrong key, wrong context, or tampered bytes.
    #[error("vault ciphertext failed to decrypt")]
    Decrypt,
    /// The plaintext could not be sealed (only possible beyond the AEAD's
    /// ~256 GiB message limit).
    #[error("vault encryption failed")]
    Encrypt,
}

/// A 32-byte vault key and its public 4-byte id. Zeroized on drop; its
/// `Debug` output shows only the id.
pub struct VaultKey {
    key: Zeroizing<[u8; 32]>,
    id: [u8; KEY_ID_LEN],
}

impl VaultKey {
    /// Wraps a copy of `bytes`. The caller remains responsible for wiping
    /// its own copy.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let key = Zeroizing::new(*bytes);
        let digest = Sha256::new()
            .chain_update(KEY_ID_LABEL)
            .chain_update(key.as_slice())
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self { key, id }
    }

    /// A cipher instance; the `chacha20poly1305` crate zeroizes it on drop.
    fn cipher(&self) -> XChaCha20Poly1305 {
        let key: &Key = (&*self.key).into();
        XChaCha20Poly1305::new(key)
    }
}

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VaultKey {{ id: ")?;
        for b in self.id {
            write!(f, "{b:02x}")?;
        }
        write!(f, " }}")
    }
}

/// Where a secret belongs. Encoded into the AEAD associated data, so a blob
/// only opens under exactly the context it was sealed with. Per-user secrets
/// with no org use `org_id = Uuid::nil()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretContext<'a> {
    /// Owning organization, or `Uuid::nil()` for per-user secrets.
    pub org_id: Uuid,
    /// Kind of secret, e.g. `"integration"` or `"user_totp"`.
    pub scope: &'a str,
    /// Owning object: an integration id, a user id.
    pub owner_id: Uuid,
    /// Field name within the owner, e.g. `"api_token"`.
    pub field: &'a str,
}

impl SecretContext<'_> {
    /// Unambiguous encoding: label, version, key id, then each field; the
    /// variable-length ones are prefixed with their length as a big-endian u64.
    fn associated_data(&self, version: u8, key_id: &[u8; KEY_ID_LEN]) -> Vec<u8> {
        fn put(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        let mut ad = Vec::with_capacity(96 + self.scope.len() + self.field.len());
        put(&mut ad, AD_LABEL);
        ad.push(version);
        ad.extend_from_slice(key_id);
        ad.extend_from_slice(self.org_id.as_bytes());
        put(&mut ad, self.scope.as_bytes());
        ad.extend_from_slice(self.owner_id.as_bytes());
        put(&mut ad, self.field.as_bytes());
        ad
    }
}

/// The parts of a blob, not yet authenticated: version, key id, nonce and
/// ciphertext+tag. Any version is accepted here.
type Parts<'b> = (u8, &'b [u8; KEY_ID_LEN], &'b [u8; NONCE_LEN], &'b [u8]);

/// Splits a blob into its [`Parts`], refusing anything too short.
fn parse(blob: &[u8]) -> Result<Parts<'_>, VaultError> {
    if blob.len() < HEADER_LEN + TAG_LEN {
        return Err(VaultError::Malformed);
    }
    let (&version, rest) = blob.split_first().ok_or(VaultError::Malformed)?;
    let (key_id, rest) = rest.split_first_chunk().ok_or(VaultError::Malformed)?;
    let (nonce, body) = rest.split_first_chunk().ok_or(VaultError::Malformed)?;
    Ok((version, key_id, nonce, body))
}

/// The current key plus, during a rotation, the previous one.
#[derive(Debug)]
pub struct Vault {
    current: VaultKey,
    previous: Option<VaultKey>,
}

impl Vault {
    /// Builds a vault that seals under `current` and opens blobs under
    /// `current` or `previous`.
    pub fn new(current: &[u8; 32], previous: Option<&[u8; 32]>) -> Self {
        Self {
            current: VaultKey::from_bytes(current),
            previous: previous.map(VaultKey::from_bytes),
        }
    }

    /// The id of the key new blobs are sealed under.
    pub fn current_key_id(&self) -> [u8; KEY_ID_LEN] {
        self.current.id
    }

    /// Seals `plaintext` for `ctx` under the current key with a fresh random
    /// nonce. Fails only beyond the AEAD's message-size limit.
    pub fn encrypt(
        &self,
        ctx: &SecretContext<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        let key = &self.current;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ad = ctx.associated_data(VERSION, &key.id);
        // Sealed in place; capacity is reserved so no plaintext copy is left
        // behind by a reallocation, and the buffer is wiped if sealing fails.
        let mut out = Zeroizing::new(Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN));
        out.extend_from_slice(&[VERSION]);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let body = out.get_mut(HEADER_LEN..).ok_or(VaultError::Encrypt)?;
        let tag = key
            .cipher()
            .encrypt_in_place_detached(&nonce.into(), &ad, body)
            .map_err(|_| VaultError::Encrypt)?;
        out.extend_from_slice(&tag);
        Ok(std::mem::take(&mut *out))
    }

    /// Opens a blob sealed for `ctx` under the current or previous key.
    pub fn decrypt(
        &self,
        ctx: &SecretContext<'_>,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let (version, key_id, nonce, body) = parse(blob)?;
        if version != VERSION {
            return Err(VaultError::Malformed);
        }
        let (sealed, tag) = body.split_last_chunk().ok_or(VaultError::Malformed)?;
        let ad = ctx.associated_data(version, key_id);
        // Every key whose id matches is tried, so a 4-byte id collision
        // between current and previous still opens correctly.
        let mut known = false;
        for key in self.keys().filter(|k| &k.id == key_id) {
            known = true;
            let (cipher, mut plain) = (key.cipher(), Zeroizing::new(sealed.to_vec()));
            if (cipher.decrypt_in_place_detached(nonce.into(), &ad, &mut plain, tag.into())).is_ok()
            {
                return Ok(plain);
            }
        }
        Err(if known {
            VaultError::Decrypt
        } else {
            VaultError::UnknownKey
        })
    }

    /// Whether `blob` should go through [`Vault::reencrypt`]: it is of an
    /// older format version or not sealed under the current key. Blobs too
    /// short to parse, or of a newer version, report `false`. A `true` answer
    /// does not promise that `reencrypt` succeeds (the key may be unknown).
    pub fn needs_reencrypt(&self, blob: &[u8]) -> bool {
        match parse(blob) {
            Ok((version, key_id, ..)) if version <= VERSION => {
                version < VERSION || key_id != &self.current.id
            }
            _ => false,
        }
    }

    /// Opens `blob` under whichever key it names and seals it afresh under
    /// the current key, for the same `ctx`.
    pub fn reencrypt(&self, ctx: &SecretContext<'_>, blob: &[u8]) -> Result<Vec<u8>, VaultError> {
        let plain = self.decrypt(ctx, blob)?;
        self.encrypt(ctx, &plain)
    }

    fn keys(&self) -> impl Iterator<Item = &VaultKey> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }
}

#[cfg(test)]
mod tests;
