//! Behaviour every provider must share: tampering, wrong and rotated
//! secrets, timestamp windows, missing and malformed headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::test_support::{Case, required_headers, secret, signature_header, valid_case};
use super::{Provider, Verified, VerifyError, verify};

const NOW: u64 = 1_700_000_000;

fn check(
    case: &Case,
    secrets: &[&[u8]],
    now: u64,
    tolerance: u64,
) -> Result<Verified, VerifyError> {
    verify(case.provider, &case.inbound(), secrets, now, tolerance)
}

fn has_window(p: Provider) -> bool {
    p.default_tolerance_secs().is_some()
}

#[test]
fn valid_deliveries_verify() {
    for p in Provider::ALL {
        let s = secret(p, 1);
        let case = valid_case(p, &s, NOW);
        let expected = Verified {
            delivery_id: case.delivery_id.clone(),
            timestamp: has_window(p).then_some(NOW),
        };
        assert_eq!(check(&case, &[&s], NOW, 0), Ok(expected), "{p:?}");
    }
}

#[test]
fn tampered_body_is_refused() {
    for p in Provider::ALL {
        let s = secret(p, 1);
        let mut case = valid_case(p, &s, NOW);
        // Mercado Pago signs only the manifest (data.id from the query,
        // x-request-id, ts), never the body: tampering is caught only when
        // it breaks the body or changes its data.id (checked against the
        // signed one); otherwise the body stays untrusted (fetch by id).
        let judge = |got: Result<super::Verified, VerifyError>| match p {
            Provider::MercadoPago => {
                assert!(
                    matches!(got, Ok(_) | Err(VerifyError::MalformedBody)),
                    "{got:?}"
                );
            }
            _ => assert_eq!(got, Err(VerifyError::BadSignature), "{p:?}"),
        };
        for i in [0, case.body.len() / 2, case.body.len() - 1] {
            let mut tampered = case.clone();
            tampered.body[i] ^= 0x01;
            judge(check(&tampered, &[&s], NOW, 0));
        }
        case.body.push(b' ');
        judge(check(&case, &[&s], NOW, 0));
    }
}

#[test]
fn a_mercado_pago_body_about_another_resource_is_refused() {
    let p = Provider::MercadoPago;
    let s = secret(p, 1);
    let mut case = valid_case(p, &s, NOW);
    case.body = br#"{"action":"payment.updated","data":{"id":"999"}}"#.to_vec();
    assert_eq!(check(&case, &[&s], NOW, 0), Err(VerifyError::MalformedBody));
    // A numeric id, or no data at all, is fine when it agrees.
    case.body = br#"{"data":{"id":123456}}"#.to_vec();
    assert!(check(&case, &[&s], NOW, 0).is_ok());
    case.body = br#"{"action":"test"}"#.to_vec();
    assert!(check(&case, &[&s], NOW, 0).is_ok());
}

#[test]
fn tampered_signature_is_refused() {
    for p in Provider::ALL {
        let s = secret(p, 1);
        let mut case = valid_case(p, &s, NOW);
        let (name, at) = signature_header(p);
        let mut value: Vec<char> = case.get(name).chars().collect();
        // '0' and '1' differ in value in both hex and base64.
        value[at] = if value[at] == '0' { '1' } else { '0' };
        case.set(name, &value.into_iter().collect::<String>());
        assert_eq!(
            check(&case, &[&s], NOW, 0),
            Err(VerifyError::BadSignature),
            "{p:?}"
        );
    }
}

/// Every signed header field, changed without breaking its syntax.
#[test]
fn tampered_signed_headers_are_refused() {
    let edits: &[(Provider, &str, &str, &str)] = &[
        (
            Provider::Stripe,
            "stripe-signature",
            "t=1700000000",
            "t=1700000001",
        ),
        (
            Provider::Slack,
            "x-slack-request-timestamp",
            "1700000000",
            "1700000001",
        ),
        (
            Provider::HubSpot,
            "x-hubspot-request-timestamp",
            "1700000000000",
            "1700000000001",
        ),
        (
            Provider::HubSpot,
            "host",
            "hooks.example.com",
            "hooks.example.org",
        ),
        (
            Provider::Resend,
            "svix-timestamp",
            "1700000000",
            "1700000001",
        ),
        (Provider::Resend, "svix-id", "msg_2Lh9", "msg_2Lh8"),
        (
            Provider::Paddle,
            "paddle-signature",
            "ts=1700000000",
            "ts=1700000001",
        ),
        (
            Provider::MercadoPago,
            "x-signature",
            "ts=1700000000",
            "ts=1700000001",
        ),
        (
            Provider::MercadoPago,
            "x-request-id",
            "req-7f3a",
            "req-7f3b",
        ),
    ];
    for &(p, name, from, to) in edits {
        let s = secret(p, 1);
        let mut case = valid_case(p, &s, NOW);
        let edited = case.get(name).replace(from, to);
        assert_ne!(edited, case.get(name), "{p:?} {name}");
        case.set(name, &edited);
        assert_eq!(
            check(&case, &[&s], NOW, 0),
            Err(VerifyError::BadSignature),
            "{p:?} {name}"
        );
    }
    // Signed request-line parts: HubSpot's method and URI, Mercado Pago's data.id.
    let s = secret(Provider::HubSpot, 1);
    let mut case = valid_case(Provider::HubSpot, &s, NOW);
    case.method = "PUT".to_owned();
    assert_eq!(check(&case, &[&s], NOW, 0), Err(VerifyError::BadSignature));
    let mut case = valid_case(Provider::HubSpot, &s, NOW);
    case.uri = case.uri.replace("a%3Ab", "a%3Ac");
    assert_eq!(check(&case, &[&s], NOW, 0), Err(VerifyError::BadSignature));
    let s = secret(Provider::MercadoPago, 1);
    let mut case = valid_case(Provider::MercadoPago, &s, NOW);
    case.uri = case.uri.replace("123456", "123457");
    assert_eq!(check(&case, &[&s], NOW, 0), Err(VerifyError::BadSignature));
}

#[test]
fn wrong_or_no_secret_is_refused() {
    for p in Provider::ALL {
        let (right, wrong) = (secret(p, 1), secret(p, 2));
        let case = valid_case(p, &right, NOW);
        assert_eq!(
            check(&case, &[&wrong], NOW, 0),
            Err(VerifyError::BadSignature),
            "{p:?}"
        );
        assert_eq!(
            check(&case, &[], NOW, 0),
            Err(VerifyError::BadSignature),
            "{p:?}"
        );
        assert_eq!(
            check(&case, &[b""], NOW, 0),
            Err(VerifyError::BadSignature),
            "{p:?}"
        );
    }
}

#[test]
fn rotation_second_secret_matches() {
    for p in Provider::ALL {
        let (old, new) = (secret(p, 1), secret(p, 2));
        let case = valid_case(p, &new, NOW);
        assert!(check(&case, &[&old, &new], NOW, 0).is_ok(), "{p:?}");
        assert!(
            check(&case, &[b"", &new], NOW, 0).is_ok(),
            "{p:?} empty secret skipped"
        );
        assert_eq!(
            check(&case, &[&old], NOW, 0),
            Err(VerifyError::BadSignature),
            "{p:?}"
        );
    }
}

/// Headers carrying signatures under two secrets: either secret verifies.
#[test]
fn multi_signature_headers() {
    for (p, name, sep) in [
        (Provider::Stripe, "stripe-signature", ","),
        (Provider::Paddle, "paddle-signature", ";"),
        (Provider::Resend, "svix-signature", " "),
    ] {
        let (a, b) = (secret(p, 1), secret(p, 2));
        let mut case = valid_case(p, &a, NOW);
        let other = valid_case(p, &b, NOW).get(name);
        let extra = match p {
            Provider::Resend => other,
            _ => other.split(sep).nth(1).unwrap().to_owned(),
        };
        case.set(name, &format!("{}{sep}{extra}", case.get(name)));
        for s in [&a, &b] {
            assert!(check(&case, &[s], NOW, 0).is_ok(), "{p:?}");
        }
        assert_eq!(
            check(&case, &[&secret(p, 3)], NOW, 0),
            Err(VerifyError::BadSignature)
        );
    }
}

#[test]
fn windows_refuse_stale_and_future() {
    for p in Provider::ALL {
        let s = secret(p, 1);
        let Some(tol) = p.default_tolerance_secs() else {
            // GitHub, Meta: no signed timestamp, so any clock is fine.
            let case = valid_case(p, &s, NOW);
            for now in [0, NOW, u64::MAX] {
                assert!(check(&case, &[&s], now, 0).is_ok(), "{p:?}");
            }
            continue;
        };
        let at = |ts: u64, tolerance: u64| check(&valid_case(p, &s, ts), &[&s], NOW, tolerance);
        assert!(at(NOW - tol, 0).is_ok(), "{p:?} oldest allowed");
        assert!(at(NOW + tol, 0).is_ok(), "{p:?} newest allowed");
        assert_eq!(at(NOW - tol - 1, 0), Err(VerifyError::Stale), "{p:?}");
        assert_eq!(at(NOW + tol + 1, 0), Err(VerifyError::Future), "{p:?}");
        assert_eq!(at(NOW - 86_400, 0), Err(VerifyError::Stale), "{p:?}");
        // An explicit tolerance overrides the default.
        assert!(at(NOW - 1_000, 1_000).is_ok(), "{p:?}");
        assert_eq!(at(NOW - 11, 10), Err(VerifyError::Stale), "{p:?}");
        assert_eq!(at(NOW + 11, 10), Err(VerifyError::Future), "{p:?}");
    }
}

#[test]
fn missing_headers() {
    for p in Provider::ALL {
        let s = secret(p, 1);
        for &name in required_headers(p) {
            let mut case = valid_case(p, &s, NOW);
            case.headers.remove(name);
            assert_eq!(
                check(&case, &[&s], NOW, 0),
                Err(VerifyError::MissingHeader(name)),
                "{p:?} {name}"
            );
        }
    }
}

#[test]
fn malformed_headers() {
    for p in Provider::ALL {
        let s = secret(p, 1);
        for &name in required_headers(p) {
            // Empty, repeated and non-ASCII values are malformed for every header.
            let mut case = valid_case(p, &s, NOW);
            case.set(name, "");
            assert_eq!(
                check(&case, &[&s], NOW, 0),
                Err(VerifyError::MalformedHeader(name)),
                "{p:?} {name}"
            );
            let mut case = valid_case(p, &s, NOW);
            let value = case.get(name);
            case.headers.append(name, value.parse().unwrap());
            assert_eq!(
                check(&case, &[&s], NOW, 0),
                Err(VerifyError::MalformedHeader(name)),
                "{p:?} {name}"
            );
            let mut case = valid_case(p, &s, NOW);
            case.headers
                .insert(name, http::HeaderValue::from_bytes(b"\xe9t\xe9").unwrap());
            assert_eq!(
                check(&case, &[&s], NOW, 0),
                Err(VerifyError::MalformedHeader(name)),
                "{p:?} {name}"
            );
        }
    }
    // Syntax errors in signature and timestamp headers.
    let garbage: &[(Provider, &str, &str)] = &[
        (Provider::Stripe, "stripe-signature", "garbage"),
        (Provider::Slack, "x-slack-signature", "v0=xyz"),
        (Provider::Slack, "x-slack-request-timestamp", "soon"),
        (Provider::HubSpot, "x-hubspot-signature-v3", "%%%"),
        (Provider::HubSpot, "x-hubspot-request-timestamp", "-1"),
        (Provider::Linear, "linear-signature", "sha256=00"),
        (Provider::GitHub, "x-hub-signature-256", "sha1=00"),
        (Provider::Meta, "x-hub-signature-256", "garbage"),
        (Provider::Resend, "svix-signature", "v1"),
        (Provider::Resend, "svix-timestamp", "1.5"),
        (Provider::Paddle, "paddle-signature", "h1=00"),
        (Provider::MercadoPago, "x-signature", "ts=1"),
    ];
    for &(p, name, value) in garbage {
        let s = secret(p, 1);
        let mut case = valid_case(p, &s, NOW);
        case.set(name, value);
        assert_eq!(
            check(&case, &[&s], NOW, 0),
            Err(VerifyError::MalformedHeader(name)),
            "{p:?} {name}"
        );
    }
}

/// The body is parsed only after the MAC matched: a forged non-JSON body
/// is BadSignature, an authentic body without the id is MalformedBody.
#[test]
fn body_parsed_only_after_mac() {
    for p in [
        Provider::Stripe,
        Provider::HubSpot,
        Provider::Linear,
        Provider::Paddle,
    ] {
        let s = secret(p, 1);
        let mut case = valid_case(p, &s, NOW);
        case.body = b"not json".to_vec();
        assert_eq!(
            check(&case, &[&s], NOW, 0),
            Err(VerifyError::BadSignature),
            "{p:?}"
        );
    }
    let s = secret(Provider::Stripe, 1);
    let mut case = valid_case(Provider::Stripe, &s, NOW);
    case.body = br#"{"object":"event"}"#.to_vec();
    let sig = super::wire::hex_encode(&super::stripe::sign(&s, NOW, &case.body));
    case.set("stripe-signature", &format!("t={NOW},v1={sig}"));
    assert_eq!(check(&case, &[&s], NOW, 0), Err(VerifyError::MalformedBody));
    // Linear requires the signed webhookTimestamp.
    let s = secret(Provider::Linear, 1);
    let mut case = valid_case(Provider::Linear, &s, NOW);
    case.body = br#"{"action":"create"}"#.to_vec();
    case.set("linear-signature", &super::linear::sign(&s, &case.body));
    assert_eq!(check(&case, &[&s], NOW, 0), Err(VerifyError::MalformedBody));
}

/// Standard Webhooks headers (`webhook-*`) work like `svix-*`.
#[test]
fn standard_webhook_header_family() {
    let s = secret(Provider::Resend, 1);
    let svix = valid_case(Provider::Resend, &s, NOW);
    let mut std = svix.clone();
    std.headers.clear();
    for (from, to) in [
        ("svix-id", "webhook-id"),
        ("svix-timestamp", "webhook-timestamp"),
        ("svix-signature", "webhook-signature"),
    ] {
        std.set(to, &svix.get(from));
    }
    assert!(check(&std, &[&s], NOW, 0).is_ok());
    std.headers.remove("webhook-timestamp");
    assert_eq!(
        check(&std, &[&s], NOW, 0),
        Err(VerifyError::MissingHeader("webhook-timestamp"))
    );
}
