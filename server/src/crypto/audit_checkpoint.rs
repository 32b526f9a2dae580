//! Signed checkpoints of the audit chain. A checkpoint of an org states
//! "the chain had head hash H at sequence S", signed with Ed25519 under
//! `OCHRE_AUDIT_SIGNING_KEY`, and includes the signature of the org's
//! previous checkpoint, so checkpoints chain too. Whoever holds only the
//! public key can check them, and events cut from the end of the chain
//! before the last checkpoint no longer go unnoticed.
//!
//! Signed message: `"ochre.audit.checkpoint.v1" ‖ org (16 bytes) ‖ seq
//! (i64 BE) ‖ head hash (32) ‖ len(previous signature) (u32 BE) ‖ previous
//! signature (64 bytes, or none for the first)`. The key id is the first 8
//! bytes of SHA-256(public key), in hex.

use std::fmt;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use super::audit_chain::{ChainBreak, ChainHead};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

const DOMAIN: &[u8] = b"ochre.audit.checkpoint.v1";

/// What a checkpoint states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub org: Uuid,
    pub seq: i64,
    pub head_hash: Vec<u8>,
    /// The org's previous checkpoint signature (empty for the first).
    pub prev_signature: Vec<u8>,
    pub key_id: String,
    pub signature: Vec<u8>,
}

fn message(org: Uuid, seq: i64, head_hash: &[u8], prev_signature: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 16 + 8 + 32 + 4 + 64);
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(org.as_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(head_hash);
    m.extend_from_slice(
        &u32::try_from(prev_signature.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    m.extend_from_slice(prev_signature);
    m
}

/// The key id of a public key.
pub fn key_id(public: &[u8; 32]) -> String {
    Sha256::digest(public)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Signs checkpoints. Holds the signing key (zeroized on drop, never
/// printed).
pub struct CheckpointSigner {
    key: SigningKey,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("key_id", &self.key_id())
            .finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// The signer of a 32-byte Ed25519 secret key.
    pub fn new(secret: &[u8; 32]) -> Self {
        CheckpointSigner {
            key: SigningKey::from_bytes(secret),
        }
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub fn key_id(&self) -> String {
        key_id(&self.public_key())
    }

    /// The checkpoint of `org` at `seq` with `head_hash`, after the
    /// checkpoint signed `prev_signature`.
    pub fn sign(&self, org: Uuid, seq: i64, head_hash: &[u8], prev_signature: &[u8]) -> Checkpoint {
        let signature = self.key.sign(&message(org, seq, head_hash, prev_signature));
        Checkpoint {
            org,
            seq,
            head_hash: head_hash.to_vec(),
            prev_signature: prev_signature.to_vec(),
            key_id: self.key_id(),
            signature: signature.to_bytes().to_vec(),
        }
    }
}

/// Whether `c`'s signature verifies under `public` (and names its key id).
pub fn verify_signature(public: &[u8; 32], c: &Checkpoint) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(&c.signature) else {
        return false;
    };
    c.key_id == key_id(public)
        && key
            .verify_strict(
                &message(c.org, c.seq, &c.head_hash, &c.prev_signature),
                &signature,
            )
            .is_ok()
}

/// Checks `checkpoints` (ascending) of a chain whose events verified up to
/// `head`; `hash_at` gives the verified hash of an event. The last
/// checkpointed sequence number, or the first that does not hold: a
/// checkpoint past the head means events were cut from the end.
pub fn check(
    public: &[u8; 32],
    head: &ChainHead,
    hash_at: impl Fn(i64) -> Option<[u8; 32]>,
    checkpoints: &[Checkpoint],
) -> Result<i64, ChainBreak> {
    let mut prev: &[u8] = &[];
    let mut last = 0;
    for c in checkpoints {
        if c.seq > head.seq {
            return Err(ChainBreak::Missing { seq: head.seq + 1 });
        }
        if c.seq <= last || c.prev_signature != prev || !verify_signature(public, c) {
            return Err(ChainBreak::BadCheckpoint { seq: c.seq });
        }
        if hash_at(c.seq).is_none_or(|h| h[..] != c.head_hash[..]) {
            return Err(ChainBreak::Rewritten { seq: c.seq });
        }
        prev = &c.signature;
        last = c.seq;
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc_8032_test_1_public_key_and_signature_hold() {
        // RFC 8032, section 7.1, TEST 1 (empty message).
        let secret: [u8; 32] =
            hex_bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let signer = CheckpointSigner::new(&secret);
        assert_eq!(
            signer.public_key().to_vec(),
            hex_bytes::<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        let sig = signer.key.sign(b"");
        assert_eq!(
            sig.to_bytes().to_vec(),
            hex_bytes::<64>(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            )
        );
    }

    fn hex_bytes<const N: usize>(hex: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn a_checkpoint_verifies_under_its_key_only_and_binds_every_field() {
        let signer = CheckpointSigner::new(&[7; 32]);
        let other = CheckpointSigner::new(&[8; 32]);
        let c = signer.sign(Uuid::now_v7(), 1000, &[1; 32], &[]);
        assert!(verify_signature(&signer.public_key(), &c));
        assert!(!verify_signature(&other.public_key(), &c));
        let mut changed = c.clone();
        changed.seq = 999;
        assert!(!verify_signature(&signer.public_key(), &changed));
        let mut changed = c.clone();
        changed.head_hash[0] ^= 1;
        assert!(!verify_signature(&signer.public_key(), &changed));
        let mut changed = c.clone();
        changed.prev_signature = vec![0; 64];
        assert!(!verify_signature(&signer.public_key(), &changed));
        assert!(
            !format!("{signer:?}").contains("0707070707"),
            "the key never prints"
        );
    }

    #[test]
    fn checkpoints_name_a_cut_tail_a_forged_signature_and_a_rewritten_chain() {
        let signer = CheckpointSigner::new(&[9; 32]);
        let org = Uuid::now_v7();
        let hash = |seq: i64| Some([u8::try_from(seq).unwrap(); 32]);
        let first = signer.sign(org, 2, &[2; 32], &[]);
        let second = signer.sign(org, 4, &[4; 32], &first.signature);
        let head = |seq| ChainHead { seq, hash: [0; 32] };
        let pk = signer.public_key();
        let both = [first.clone(), second.clone()];
        assert_eq!(check(&pk, &head(5), hash, &both), Ok(4));
        assert_eq!(
            check(&pk, &head(3), hash, &both),
            Err(ChainBreak::Missing { seq: 4 }),
            "events cut after 3, before the checkpoint at 4"
        );
        let mut forged = second.clone();
        forged.signature[0] ^= 1;
        let bad = [first.clone(), forged];
        assert_eq!(
            check(&pk, &head(5), hash, &bad),
            Err(ChainBreak::BadCheckpoint { seq: 4 })
        );
        let unlinked = [first.clone(), signer.sign(org, 4, &[4; 32], &[])];
        assert_eq!(
            check(&pk, &head(5), hash, &unlinked),
            Err(ChainBreak::BadCheckpoint { seq: 4 })
        );
        let rehashed = |seq: i64| if seq == 4 { Some([7; 32]) } else { hash(seq) };
        assert_eq!(
            check(&pk, &head(5), rehashed, &both),
            Err(ChainBreak::Rewritten { seq: 4 })
        );
    }
}
