//! The vault's properties: round trips, binding to its context, key ids,
//! rotation, and refusal of tampered or foreign ciphertexts.

#![allow(clippy::unwrap_used, clippy::expect_used)]
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
