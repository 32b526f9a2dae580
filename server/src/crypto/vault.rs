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
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use base64::Engine as _;
    use rand::Rng;

    use super::*;

    type S = &'static str;
    const OLD: [u8; 32] = [0x11; 32];
    const NEW: [u8; 32] = [0x22; 32];
    const PLAIN: &[u8] = b"ghp_SECRET-integration-token-0123456789-do-not-leak";

    fn cx(org: u128, scope: S, owner: u128, field: S) -> SecretContext<'static> {
        let (org_id, owner_id) = (Uuid::from_u128(org), Uuid::from_u128(owner));
        SecretContext {
            org_id,
            scope,
            owner_id,
            field,
        }
    }

    fn ctx() -> SecretContext<'static> {
        cx(1, "integration", 2, "api_token")
    }

    fn seal(key: &[u8; 32], pt: &[u8]) -> Vec<u8> {
        Vault::new(key, None).encrypt(&ctx(), pt).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_to_the_same_bytes() {
        let v = Vault::new(&NEW, None);
        for pt in [&b""[..], b"x", PLAIN] {
            let blob = seal(&NEW, pt);
            assert_eq!(blob.len(), HEADER_LEN + pt.len() + TAG_LEN);
            assert_eq!((blob[0], &blob[1..5]), (VERSION, &v.current_key_id()[..]));
            assert_eq!(v.decrypt(&ctx(), &blob).unwrap().as_slice(), pt);
        }
    }

    #[test]
    fn stored_bytes_never_contain_the_plaintext() {
        let pt = b"correct horse battery staple, a very distinctive secret!".repeat(8);
        let blob = seal(&NEW, &pt);
        assert!(!blob.windows(8).any(|w| pt.windows(8).any(|p| p == w)));
    }

    #[test]
    fn two_encryptions_of_one_value_differ_and_nonces_never_repeat() {
        assert_ne!(seal(&NEW, PLAIN), seal(&NEW, PLAIN));
        let v = Vault::new(&NEW, None);
        let nonces: std::collections::HashSet<Vec<u8>> = (0..10_000)
            .map(|_| v.encrypt(&ctx(), b"v").unwrap()[5..HEADER_LEN].to_vec())
            .collect();
        assert_eq!(nonces.len(), 10_000);
    }

    #[test]
    fn flipping_any_single_byte_of_the_blob_fails() {
        let (v, blob) = (Vault::new(&NEW, Some(&OLD)), seal(&NEW, PLAIN));
        for (i, mask) in (0..blob.len()).flat_map(|i| [(i, 0x01), (i, 0x80), (i, 0xff)]) {
            let mut bad = blob.clone();
            bad[i] ^= mask;
            assert!(v.decrypt(&ctx(), &bad).is_err(), "byte {i} mask {mask:#x}");
        }
    }

    #[test]
    fn a_ciphertext_moved_to_another_field_owner_scope_or_org_fails() {
        let (v, blob) = (Vault::new(&NEW, Some(&OLD)), seal(&NEW, PLAIN));
        let moved = [
            cx(1, "integration", 2, "api_secret"),
            cx(1, "integration", 3, "api_token"),
            cx(1, "user_totp", 2, "api_token"),
            cx(0, "integration", 2, "api_token"),
            cx(9, "integration", 2, "api_token"),
            // Shifting bytes between scope and field must not collide.
            cx(1, "integrationapi", 2, "_token"),
        ];
        for other in moved {
            assert_eq!(
                v.decrypt(&other, &blob),
                Err(VaultError::Decrypt),
                "{other:?}"
            );
            assert_eq!(v.reencrypt(&other, &blob), Err(VaultError::Decrypt));
        }
    }

    #[test]
    fn the_wrong_key_fails_as_unknown_and_a_forged_key_id_fails_to_decrypt() {
        let victim = Vault::new(&NEW, None);
        let unknown = victim.decrypt(&ctx(), &seal(&OLD, PLAIN));
        assert_eq!(unknown, Err(VaultError::UnknownKey));
        let mut current = VaultKey::from_bytes(&OLD);
        current.id = victim.current_key_id();
        let forged = Vault {
            current,
            previous: None,
        }
        .encrypt(&ctx(), PLAIN)
        .unwrap();
        assert_eq!(forged[1..5], victim.current_key_id());
        assert_eq!(victim.decrypt(&ctx(), &forged), Err(VaultError::Decrypt));
    }

    #[test]
    fn a_previous_key_ciphertext_survives_rotation() {
        let old_blob = seal(&OLD, PLAIN);
        assert!(!Vault::new(&OLD, None).needs_reencrypt(&old_blob));
        let (c, rotating) = (ctx(), Vault::new(&NEW, Some(&OLD)));
        assert_eq!(*rotating.decrypt(&c, &old_blob).unwrap(), PLAIN);
        assert!(rotating.needs_reencrypt(&old_blob));
        let new_blob = rotating.reencrypt(&c, &old_blob).unwrap();
        assert!(!rotating.needs_reencrypt(&new_blob));
        let after = Vault::new(&NEW, None);
        assert_eq!(*after.decrypt(&c, &new_blob).unwrap(), PLAIN);
        assert_eq!(after.decrypt(&c, &old_blob), Err(VaultError::UnknownKey));
    }

    #[test]
    fn unknown_versions_and_short_inputs_are_malformed() {
        let (v, mut blob) = (Vault::new(&NEW, None), seal(&NEW, PLAIN));
        for cut in 0..HEADER_LEN + TAG_LEN {
            assert_eq!(v.decrypt(&ctx(), &blob[..cut]), Err(VaultError::Malformed));
            assert!(!v.needs_reencrypt(&blob[..cut]));
        }
        for (version, needs) in [(2, false), (0, true)] {
            blob[0] = version;
            assert_eq!(v.decrypt(&ctx(), &blob), Err(VaultError::Malformed));
            assert_eq!(v.needs_reencrypt(&blob), needs);
        }
    }

    #[test]
    fn truncated_empty_and_garbage_inputs_never_panic() {
        let (v, mut rng) = (Vault::new(&NEW, Some(&OLD)), rand::rng());
        for i in 0..10_000 {
            let len = rng.random_range(0..128);
            let mut junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            // Steer half of them past the header checks into the AEAD.
            if i % 2 == 0 && junk.len() >= HEADER_LEN {
                junk[0] = VERSION;
                junk[1..5].copy_from_slice(&v.current_key_id());
            }
            assert!(v.decrypt(&ctx(), &junk).is_err() && v.reencrypt(&ctx(), &junk).is_err());
            let _ = v.needs_reencrypt(&junk);
        }
        let blob = seal(&NEW, PLAIN);
        assert!((0..blob.len()).all(|cut| v.decrypt(&ctx(), &blob[..cut]).is_err()));
    }

    #[test]
    fn debug_output_never_shows_key_bytes() {
        let key: [u8; 32] = std::array::from_fn(|i| 0xa0 ^ (i as u8 * 7));
        let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let (v, k) = (Vault::new(&key, Some(&key)), VaultKey::from_bytes(&key));
        let (key_hex, id_hex) = (hex(&key), hex(&v.current_key_id()));
        let std = base64::engine::general_purpose::STANDARD.encode(key);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key);
        let dec = format!("{key:?}")[1..20].to_string();
        let needles = [
            &key_hex,
            &key_hex.to_uppercase(),
            &key_hex[..8].to_string(),
            &std,
            &url,
            &dec,
        ];
        for out in [format!("{k:?}"), format!("{v:?}"), format!("{v:#?}")] {
            assert!(needles.iter().all(|n| !out.contains(n.as_str())), "{out}");
            assert!(out.contains(&id_hex), "{out}");
        }
        assert_eq!(format!("{k:?}"), format!("VaultKey {{ id: {id_hex} }}"));
    }
}
