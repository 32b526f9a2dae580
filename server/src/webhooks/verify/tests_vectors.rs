//! Known-answer tests, part 1 (Standard Webhooks / Svix, Slack, GitHub,
//! Meta, HubSpot). Each vector names its source; "computed" vectors
//! (providers that publish none) were produced twice, independently of this
//! code: Python 3 `hmac.new(key, msg, hashlib.sha256)` and
//! `openssl dgst -sha256 -hmac`, and both agreed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::test_support::{ok, run};
use super::{Provider, VerifyError};

// Standard Webhooks: standard-webhooks/standard-webhooks,
// libraries/go/webhook_test.go (TestWebhookSign, TestWebhook, TestWebhookPrefix).
const SW_SECRET: &[u8] = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const SW_OTHER: &str = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";

#[test]
fn standard_webhooks_published_vector() {
    let now = 1_614_265_330;
    for prefix in ["webhook", "svix"] {
        let (id, ts, sig) = (
            format!("{prefix}-id"),
            format!("{prefix}-timestamp"),
            format!("{prefix}-signature"),
        );
        let h = |s: &str| {
            vec![
                (id.clone(), SW_ID.to_owned()),
                (ts.clone(), now.to_string()),
                (sig.clone(), s.to_owned()),
            ]
        };
        let call = |s: &str, secret: &[u8], body: &[u8], now: u64| {
            let pairs = h(s);
            let refs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            run(Provider::Resend, "/", &refs, body, &[secret], now)
        };
        assert_eq!(call(SW_SIG, SW_SECRET, SW_BODY, now), ok(SW_ID, Some(now)));
        // TestWebhookPrefix: the secret works with and without "whsec_".
        assert_eq!(
            call(SW_SIG, b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SW_BODY, now),
            ok(SW_ID, Some(now))
        );
        // "valid multi sig is valid".
        let multi = format!("{SW_OTHER} v2,{} {SW_SIG} {SW_OTHER}", &SW_OTHER[3..]);
        assert_eq!(call(&multi, SW_SECRET, SW_BODY, now), ok(SW_ID, Some(now)));
        // "invalid signature is invalid", tampered body, old/new timestamps.
        assert_eq!(
            call(SW_OTHER, SW_SECRET, SW_BODY, now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            call(SW_SIG, SW_SECRET, br#"{"test": 2432232315}"#, now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            call(SW_SIG, SW_SECRET, SW_BODY, now + 301),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            call(SW_SIG, SW_SECRET, SW_BODY, now - 301),
            Err(VerifyError::Future)
        );
    }
}

// Slack: https://docs.slack.dev/authentication/verifying-requests-from-slack/
// (also slackapi/python-slack-sdk tests/slack_sdk/signature/test_signature_verifier.py).
const SLACK_SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

#[test]
fn slack_published_vector() {
    let h = [
        ("x-slack-request-timestamp", "1531420618"),
        ("x-slack-signature", SLACK_SIG),
    ];
    let now = 1_531_420_618;
    // A slash-command form body has no event_id: timestamp + body hash.
    let id = format!(
        "1531420618:{}",
        super::wire::sha256_hex(SLACK_BODY.as_bytes())
    );
    assert_eq!(
        run(
            Provider::Slack,
            "/",
            &h,
            SLACK_BODY.as_bytes(),
            &[SLACK_SECRET],
            now
        ),
        ok(&id, Some(now))
    );
    let tampered = format!("{SLACK_BODY}------");
    assert_eq!(
        run(
            Provider::Slack,
            "/",
            &h,
            tampered.as_bytes(),
            &[SLACK_SECRET],
            now
        ),
        Err(VerifyError::BadSignature)
    );
    // "test_is_valid_request_expiration": the real clock is long past.
    assert_eq!(
        run(
            Provider::Slack,
            "/",
            &h,
            SLACK_BODY.as_bytes(),
            &[SLACK_SECRET],
            1_700_000_000
        ),
        Err(VerifyError::Stale)
    );
}

// GitHub: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
// ("Testing the webhook payload validation").
#[test]
fn github_published_vector() {
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let h = [("x-hub-signature-256", sig), ("x-github-delivery", "abc-1")];
    let secret: &[u8] = b"It's a Secret to Everybody";
    assert_eq!(
        run(Provider::GitHub, "/", &h, b"Hello, World!", &[secret], 0),
        ok("abc-1", None)
    );
    assert_eq!(
        run(Provider::GitHub, "/", &h, b"Hello, World?", &[secret], 0),
        Err(VerifyError::BadSignature)
    );
}

// Meta: WhatsApp/WhatsApp-Nodejs-SDK (Meta's official Cloud API SDK),
// src/__tests__/utils.test.ts, test "signature match": generate_x_hub_256_sig
// ("test", sdk_config.M4D_APP_SECRET) === "0c61947b…8221", where M4D_APP_SECRET
// is "TEST_APP_SECRET" (jest.config.ts, globals.sdk_config). The SDK compares
// the hex after stripping "sha256=" from X-Hub-Signature-256 (src/api/webhooks.ts).
// The body is not JSON; Meta's delivery id is the hex SHA-256 of the body
// (sha256("test"), the FIPS 180-2 value).
#[test]
fn meta_whatsapp_sdk_published_vector() {
    let sig = "sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221";
    let h = [("x-hub-signature-256", sig)];
    let secret: &[u8] = b"TEST_APP_SECRET";
    let id = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    assert_eq!(
        run(Provider::Meta, "/", &h, b"test", &[secret], 0),
        ok(id, None)
    );
    assert_eq!(
        run(Provider::Meta, "/", &h, b"test ", &[secret], 0),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        run(Provider::Meta, "/", &h, b"test", &[b"TEST_APP_SECRET2"], 0),
        Err(VerifyError::BadSignature)
    );
}

// Meta with a WhatsApp-shaped JSON body: computed, not published (the only
// published Meta triple found is the non-JSON "test" one above; Meta's
// webhook docs describe the algorithm without a secret+payload+signature
// example). HMAC-SHA256("meta-app-secret-for-tests", body) via Python hmac
// + openssl.
#[test]
fn meta_computed_vector() {
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[]}]}"#;
    let sig = "sha256=edd2d32a8b5e88bc4a9a207ae15d824997fc688f98b7275f5444ff94a948af62";
    let id = "d9fedaef7aa3998fc905205b752b8c6526590613cd0be9062cfe940955217a2c"; // sha256(body), same tools
    let secret: &[u8] = b"meta-app-secret-for-tests";
    assert_eq!(
        run(
            Provider::Meta,
            "/",
            &[("x-hub-signature-256", sig)],
            body,
            &[secret],
            0
        ),
        ok(id, None)
    );
}

// HubSpot v3: HubSpot/hubspot-api-python tests/spec/utils/test_signature.py
// (test_get_signature__v3). Its body is not JSON, so a matching MAC ends in
// MalformedBody (the body is only parsed after the MAC matched); any
// mismatch is BadSignature.
#[test]
fn hubspot_published_vector() {
    let secret: &[u8] = b"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    let body = b"{'example_field':'example_value'}";
    let sig = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=";
    let h = [
        ("x-hubspot-signature-v3", sig),
        ("x-hubspot-request-timestamp", "15000000"),
        ("host", "www.example.com"),
    ];
    let now = 15_000; // 15000000 ms
    for uri in ["https://www.example.com/webhook_uri", "/webhook_uri"] {
        assert_eq!(
            run(Provider::HubSpot, uri, &h, body, &[secret], now),
            Err(VerifyError::MalformedBody)
        );
        assert_eq!(
            run(Provider::HubSpot, uri, &h, b"{}", &[secret], now),
            Err(VerifyError::BadSignature)
        );
    }
    assert_eq!(
        run(Provider::HubSpot, "/other", &h, body, &[secret], now),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        run(
            Provider::HubSpot,
            "/webhook_uri",
            &h,
            body,
            &[secret],
            now + 301
        ),
        Err(VerifyError::Stale)
    );
}

// HubSpot v3 with escapes and a real event body: computed (Python hmac +
// openssl) over "POSThttps://www.example.com/webhook_uri?state=a:b/c@d" + body + "1700000000000".
#[test]
fn hubspot_computed_vector_with_escapes() {
    let secret: &[u8] = b"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    let body = br#"[{"eventId":100,"subscriptionId":4849549,"portalId":62515,"occurredAt":1700000000000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123},{"eventId":101,"subscriptionId":4849549,"portalId":62515,"occurredAt":1700000000000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":124}]"#;
    let h = [
        (
            "x-hubspot-signature-v3",
            "Yk3SRMXhLa3NeHsLM9bQvZ+4ndroZcRWIFCl69nn/XA=",
        ),
        ("x-hubspot-request-timestamp", "1700000000000"),
        ("host", "www.example.com"),
    ];
    let uri = "/webhook_uri?state=a%3Ab%2Fc%40d";
    assert_eq!(
        run(Provider::HubSpot, uri, &h, body, &[secret], 1_700_000_000),
        ok("100,101", Some(1_700_000_000))
    );
}
