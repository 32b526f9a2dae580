//! Access-token and opaque-token properties.

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use super::*;

const NOW: u64 = 1_700_000_000;

fn signer(secret: &str) -> AccessTokenSigner {
    AccessTokenSigner::new(&SecretString::from(secret.to_owned())).unwrap()
}

fn fixture() -> (AccessTokenSigner, Claims, String) {
    let signer = signer("an example session secret of 32+ bytes");
    let claims = Claims::new(
        UserId::generate(),
        SessionId::generate(),
        SessionProof::generate().0,
        NOW,
    );
    let token = signer.sign(&claims);
    (signer, claims, token)
}

/// Replaces the character at `index` with a different base64url one.
fn flip(token: &str, index: usize) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    chars[index] = if chars[index] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[test]
fn a_signed_token_verifies_to_the_same_claims() {
    let (signer, claims, token) = fixture();
    assert!(token.starts_with(ACCESS_TOKEN_PREFIX));
    assert_eq!(signer.verify(&token, NOW), Ok(claims));
    assert_eq!(claims.exp - claims.iat, 15 * 60);
    assert_eq!(parse_prefix(&token), Some(TokenKind::Access));
}

#[test]
fn a_tampered_payload_is_refused() {
    let (signer, _, token) = fixture();
    let tampered = flip(&token, ACCESS_TOKEN_PREFIX.len() + 5);
    assert_eq!(signer.verify(&tampered, NOW), Err(TokenError::BadSignature));
}

#[test]
fn a_tampered_signature_is_refused() {
    let (signer, _, token) = fixture();
    let first_sig_char = token.rfind('.').unwrap() + 1;
    let tampered = flip(&token, first_sig_char);
    assert_eq!(signer.verify(&tampered, NOW), Err(TokenError::BadSignature));
}

#[test]
fn a_token_signed_with_another_key_is_refused() {
    let (_, _, token) = fixture();
    let other = signer("a different session secret, also 32+ bytes");
    assert_eq!(other.verify(&token, NOW), Err(TokenError::BadSignature));
}

#[test]
fn an_expired_token_is_refused() {
    let (signer, claims, token) = fixture();
    assert!(signer.verify(&token, claims.exp - 1).is_ok());
    assert_eq!(signer.verify(&token, claims.exp), Err(TokenError::Expired));
}

#[test]
fn a_token_issued_more_than_a_minute_ahead_is_not_yet_valid() {
    let (signer, claims, token) = fixture();
    assert!(signer.verify(&token, claims.iat - 60).is_ok());
    let early = signer.verify(&token, claims.iat - 61);
    assert_eq!(early, Err(TokenError::NotYetValid));
}

#[test]
fn an_api_key_given_as_an_access_token_is_malformed() {
    let (signer, _, _) = fixture();
    let org = OrgId::generate();
    for (other, _) in [
        new_api_key(org),
        new_refresh_token(),
        new_invitation_token(org),
    ] {
        assert_eq!(signer.verify(&other, NOW), Err(TokenError::Malformed));
    }
}

#[test]
fn a_short_session_secret_is_refused_and_debug_hides_the_key() {
    let short = SecretString::from("too short".to_owned());
    assert_eq!(AccessTokenSigner::new(&short).err(), Some(SecretTooShort));
    let (signer, _, _) = fixture();
    assert_eq!(format!("{signer:?}"), "AccessTokenSigner { .. }");
}

#[test]
fn random_and_mutated_strings_never_panic_and_never_verify() {
    let (signer, _, token) = fixture();
    let alphabet: Vec<char> = "AZaz09-_.=+/ \0\u{e9}\u{1F600}ochre".chars().collect();
    let mut rng = StdRng::seed_from_u64(0x0c4e);
    for i in 0..10_000 {
        // Every fourth case is pure noise; the rest mutate a valid token.
        let noise = i % 4 == 0;
        let mut chars: Vec<char> = token.chars().filter(|_| !noise).collect();
        let edits = rng.random_range(if noise { 0..200 } else { 1..4 });
        for _ in 0..edits {
            let pick = alphabet[rng.random_range(0..alphabet.len())];
            let at = rng.random_range(0..=chars.len());
            match rng.random_range(0..8) {
                0 if at < chars.len() => chars[at] = pick,
                1 if at < chars.len() => drop(chars.remove(at)),
                2 => chars.truncate(at),
                _ => chars.insert(at, pick),
            }
        }
        let candidate: String = chars.into_iter().collect();
        let result = signer.verify(&candidate, NOW);
        if candidate != token {
            assert!(result.is_err(), "{candidate:?} verified");
        }
        let _ = parse_prefix(&candidate);
    }
    let huge = "a".repeat(100_000);
    assert_eq!(signer.verify(&huge, NOW), Err(TokenError::Malformed));
}

#[test]
fn opaque_tokens_carry_their_prefix_and_32_random_bytes() {
    let cases = [
        (new_refresh_token(), TokenKind::Refresh),
        (new_login_ticket(), TokenKind::LoginTicket),
    ];
    for ((token, hash), kind) in cases {
        let body = token.strip_prefix(kind.prefix()).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(body).unwrap().len(), 32);
        assert_eq!(parse_prefix(&token), Some(kind));
        assert_eq!(hash, hash_opaque(&token));
        assert_eq!(org_named(kind, &token), None, "names no org");
    }
}

#[test]
fn api_keys_and_invitation_tokens_carry_32_random_bytes_then_their_org() {
    let org = OrgId::generate();
    let cases = [
        (new_api_key(org), TokenKind::ApiKey),
        (new_invitation_token(org), TokenKind::Invitation),
    ];
    for ((token, hash), kind) in cases {
        let body = token.strip_prefix(kind.prefix()).unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        assert_eq!(bytes.len(), 48);
        assert_eq!(&bytes[32..], org.uuid().as_bytes());
        assert_eq!(parse_prefix(&token), Some(kind));
        assert_eq!(hash, hash_opaque(&token));
        assert_eq!(org_named(kind, &token), Some(org));
        let other = if kind == TokenKind::ApiKey {
            TokenKind::Invitation
        } else {
            TokenKind::ApiKey
        };
        assert_eq!(org_named(other, &token), None, "the prefix is checked");
    }
    let (a, b) = (new_api_key(org), new_api_key(org));
    assert!(a.0 != b.0 && a.1 != b.1, "the random part differs");
    assert_ne!(a.0[..16], b.0[..16], "a key's shown prefix is random");
}

#[test]
fn a_token_in_the_old_form_or_cut_or_padded_names_no_org() {
    let (key, _) = new_api_key(OrgId::generate());
    let old = format!("ochre_sk_{}", URL_SAFE_NO_PAD.encode([7u8; 32]));
    let cut = &key[..key.len() - 1];
    let padded = format!("{key}A");
    let bad = format!("{}!", &key[..key.len() - 1]);
    for token in [old.as_str(), cut, &padded, &bad, "ochre_sk_", ""] {
        assert_eq!(org_named(TokenKind::ApiKey, token), None, "{token:?}");
    }
}

#[test]
fn two_refresh_tokens_differ() {
    let ((a, hash_a), (b, hash_b)) = (new_refresh_token(), new_refresh_token());
    assert!(a != b && hash_a != hash_b);
}

#[test]
fn the_hash_of_a_token_is_stable_sha256() {
    assert_eq!(hash_opaque("ochre_rt_x"), hash_opaque("ochre_rt_x"));
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let hex = hash_opaque("abc").map(|b| format!("{b:02x}")).concat();
    assert_eq!(hex, expected);
}

#[test]
fn unknown_strings_have_no_prefix_kind() {
    let junk_strings = ["", "ochre_rt_", "ochre_at_v1", "Bearer x", "OCHRE_RT_abc"];
    for junk in junk_strings {
        assert_eq!(parse_prefix(junk), None, "{junk:?}");
    }
}
