//! Property tests with a seeded xorshift generator (no proptest in the lock).
//!
//! Every public header parser gets 10,000 random strings, 10,000 mutations
//! of valid headers and 2,000 generated round trips; `verify` gets 2,000
//! mutated signature headers and 2,000 random request targets per provider.
//! Parsers must never panic, and whatever they accept must satisfy the
//! grammar's invariants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::test_support::{XorShift, mutate, random_text, secret, signature_header, valid_case};
use super::wire::{hex_encode, parse_digits};
use super::{
    Provider, VerifyError, parse_mercadopago_signature, parse_paddle_signature,
    parse_slack_signature, parse_stripe_signature, parse_svix_signature, verify,
};

const RANDOM: usize = 10_000;
const MUTATED: usize = 10_000;
const ROUND_TRIPS: usize = 2_000;

fn random_tag(rng: &mut XorShift) -> [u8; 32] {
    core::array::from_fn(|_| rng.next_u64() as u8)
}

fn random_ts(rng: &mut XorShift) -> u64 {
    match rng.below(4) {
        0 => 0,
        1 => u64::MAX,
        _ => rng.next_u64() >> rng.below(64),
    }
}

fn b64(tag: &[u8; 32]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(tag)
}

/// A valid header for each grammar from a timestamp and tags.
fn render(kind: usize, ts: u64, tags: &[[u8; 32]]) -> String {
    let hexes = tags.iter().map(|t| hex_encode(t));
    match kind {
        0 => std::iter::once(format!("t={ts}"))
            .chain(hexes.map(|h| format!("v1={h}")))
            .collect::<Vec<_>>()
            .join(","),
        1 => format!("v0={}", hex_encode(&tags[0])),
        2 => tags
            .iter()
            .map(|t| format!("v1,{}", b64(t)))
            .collect::<Vec<_>>()
            .join(" "),
        3 => std::iter::once(format!("ts={ts}"))
            .chain(hexes.map(|h| format!("h1={h}")))
            .collect::<Vec<_>>()
            .join(";"),
        _ => format!("ts={ts},v1={}", hex_encode(&tags[0])),
    }
}

/// Parse with grammar `kind`; on success return (timestamp, tags) and
/// check the invariants every accepted header must satisfy.
fn parse(kind: usize, text: &str) -> Option<(u64, Vec<[u8; 32]>)> {
    let parsed = match kind {
        0 => parse_stripe_signature(text).map(|s| (s.timestamp, s.v1)),
        1 => parse_slack_signature(text).map(|s| (0, vec![s.v0])),
        2 => parse_svix_signature(text).map(|s| (0, s.v1)),
        3 => parse_paddle_signature(text).map(|s| (s.timestamp, s.h1)),
        _ => parse_mercadopago_signature(text).map(|s| {
            assert!(s.unix_seconds() <= s.ts);
            (s.ts, vec![s.v1])
        }),
    };
    match parsed {
        Ok((ts, tags)) => {
            if matches!(kind, 0 | 3 | 4) {
                // The accepted timestamp appears verbatim in the header.
                assert!(text.contains(&ts.to_string()), "{text:?}");
            }
            if kind == 1 || kind == 4 {
                assert_eq!(tags.len(), 1);
            }
            Some((ts, tags))
        }
        Err(e) => {
            assert!(matches!(e, VerifyError::MalformedHeader(_)), "{e:?}");
            None
        }
    }
}

#[test]
fn parsers_never_panic_on_random_input() {
    for kind in 0..5 {
        let mut rng = XorShift::new(0x5eed_0000 + kind as u64);
        let mut accepted = 0;
        for _ in 0..RANDOM {
            let parsed = parse(kind, &random_text(&mut rng));
            accepted += usize::from(parsed.is_some_and(|(_, tags)| !tags.is_empty()));
        }
        // Random noise should essentially never carry a usable signature.
        assert!(accepted < RANDOM / 10, "kind {kind}: {accepted}");
    }
}

#[test]
fn parsers_never_panic_on_mutated_headers() {
    for kind in 0..5 {
        let mut rng = XorShift::new(0xabcd_0000 + kind as u64);
        for _ in 0..MUTATED {
            let n = 1 + rng.below(3);
            let tags: Vec<[u8; 32]> = (0..n).map(|_| random_tag(&mut rng)).collect();
            let valid = render(kind, random_ts(&mut rng), &tags);
            let _ = parse(kind, &mutate(&mut rng, &valid));
        }
    }
}

#[test]
fn parsers_round_trip_generated_headers() {
    for kind in 0..5 {
        let mut rng = XorShift::new(0x7777_0000 + kind as u64);
        for _ in 0..ROUND_TRIPS {
            let n = if kind == 1 || kind == 4 {
                1
            } else {
                1 + rng.below(4)
            };
            let tags: Vec<[u8; 32]> = (0..n).map(|_| random_tag(&mut rng)).collect();
            let ts = random_ts(&mut rng);
            let text = render(kind, ts, &tags);
            let (got_ts, got_tags) = parse(kind, &text).unwrap_or_else(|| panic!("{text:?}"));
            assert_eq!(got_tags, tags, "{text:?}");
            if matches!(kind, 0 | 3 | 4) {
                assert_eq!(got_ts, ts);
            }
        }
    }
}

#[test]
fn digits_agree_with_std_on_canonical_input() {
    let mut rng = XorShift::new(42);
    for _ in 0..RANDOM {
        let n = rng.next_u64() >> rng.below(64);
        assert_eq!(parse_digits(&n.to_string()), Some(n));
        let text = random_text(&mut rng);
        if let Some(v) = parse_digits(&text) {
            assert_eq!(v.to_string(), text);
        }
    }
}

/// Every header a provider reads (signature, timestamp, delivery id),
/// mutated [`MUTATED`] times each and run through the whole of `verify`:
/// no panics, and an accepted mutation must still yield the original
/// delivery (a mutated signature header is rarely accepted).
#[test]
fn verify_survives_mutated_headers() {
    const NOW: u64 = 1_700_000_000;
    for (i, p) in Provider::ALL.into_iter().enumerate() {
        let s = secret(p, 1);
        let base = valid_case(p, &s, NOW);
        let (signature, _) = signature_header(p);
        let names: Vec<String> = base.headers.keys().map(|k| k.as_str().to_owned()).collect();
        for (j, name) in names.iter().enumerate() {
            let mut rng = XorShift::new(0xfeed_0000 + (i as u64) * 64 + j as u64);
            let original = base.get(name);
            let (mut tried, mut accepted) = (0, 0);
            while tried < MUTATED {
                let text = mutate(&mut rng, &original);
                let Ok(value) = http::HeaderValue::from_str(&text) else {
                    continue;
                };
                tried += 1;
                let mut case = base.clone();
                let Ok(header) = http::HeaderName::from_bytes(name.as_bytes()) else {
                    continue;
                };
                case.headers.insert(header, value);
                if let Ok(v) = verify(p, &case.inbound(), &[&s], NOW, 0) {
                    accepted += 1;
                    if name == signature {
                        assert_eq!(v.delivery_id, base.delivery_id, "{p:?} {text:?}");
                    }
                }
            }
            if name == signature {
                assert!(
                    accepted < tried / 4,
                    "{p:?}: {accepted}/{tried} mutations accepted"
                );
            }
        }
    }
}

/// Random request targets (query strings, escapes, absolute URLs) never
/// panic the URI handling of HubSpot and Mercado Pago.
#[test]
fn verify_survives_random_uris() {
    let pieces = [
        "/", "?", "&", "#", "=", "data.id", "%3A", "%2f", "%", "%zz", "https://", "é", "+", "a",
    ];
    for p in [Provider::HubSpot, Provider::MercadoPago] {
        let mut rng = XorShift::new(99 + p as u64);
        let s = secret(p, 1);
        let base = valid_case(p, &s, 1_700_000_000);
        for _ in 0..RANDOM {
            let mut case = base.clone();
            case.uri = (0..rng.below(12)).map(|_| rng.pick(&pieces)).collect();
            let result = verify(p, &case.inbound(), &[&s], 1_700_000_000, 0);
            assert!(
                result.is_err() || case.uri == base.uri,
                "{p:?} {:?}",
                case.uri
            );
        }
    }
}
