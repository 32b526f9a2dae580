//! Test helpers: request builders, a per-provider "valid delivery" factory
//! and a seeded xorshift generator for the property tests (no proptest in
//! the workspace lock).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::{HeaderMap, HeaderName, HeaderValue};

use super::{
    Inbound, Provider, Verified, VerifyError, github, hubspot, linear, mercadopago, paddle, slack,
    stripe, svix, wire,
};

/// Build a header map from `(name, value)` pairs (appending repeats).
pub(super) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// Verify a POST to `uri` with the given headers and body.
pub(super) fn run(
    p: Provider,
    uri: &str,
    h: &[(&str, &str)],
    body: &[u8],
    secrets: &[&[u8]],
    now: u64,
) -> Result<Verified, VerifyError> {
    let map = headers(h);
    let inbound = Inbound {
        method: "POST",
        uri,
        headers: &map,
        body,
    };
    super::verify(p, &inbound, secrets, now, 0)
}

/// The success value for `id` and `ts`.
pub(super) fn ok(id: &str, ts: Option<u64>) -> Result<Verified, VerifyError> {
    Ok(Verified {
        delivery_id: id.to_owned(),
        timestamp: ts,
    })
}

/// One complete request, owned.
#[derive(Debug, Clone)]
pub(super) struct Case {
    /// Whose scheme signed it.
    pub provider: Provider,
    /// Request method.
    pub method: String,
    /// Request target.
    pub uri: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Vec<u8>,
    /// The delivery id a successful verification must return.
    pub delivery_id: String,
}

impl Case {
    /// Borrow as an [`Inbound`].
    pub(super) fn inbound(&self) -> Inbound<'_> {
        Inbound {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// Replace (or add) one header.
    pub(super) fn set(&mut self, name: &'static str, value: &str) {
        self.headers
            .insert(name, HeaderValue::from_str(value).unwrap());
    }

    /// The current value of one header.
    pub(super) fn get(&self, name: &str) -> String {
        self.headers.get(name).unwrap().to_str().unwrap().to_owned()
    }
}

/// The signature header of each provider and where its first signature
/// character sits inside the value.
pub(super) fn signature_header(provider: Provider) -> (&'static str, usize) {
    match provider {
        Provider::Stripe => ("stripe-signature", "t=".len() + 10 + ",v1=".len()),
        Provider::Slack => ("x-slack-signature", 3),
        Provider::HubSpot => ("x-hubspot-signature-v3", 0),
        Provider::Linear => ("linear-signature", 0),
        Provider::GitHub | Provider::Meta => ("x-hub-signature-256", 7),
        Provider::Resend => ("svix-signature", 3),
        Provider::Paddle => ("paddle-signature", "ts=".len() + 10 + ";h1=".len()),
        Provider::MercadoPago => ("x-signature", "ts=".len() + 10 + ",v1=".len()),
    }
}

/// Headers each provider cannot do without.
pub(super) fn required_headers(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Stripe => &["stripe-signature"],
        Provider::Slack => &["x-slack-signature", "x-slack-request-timestamp"],
        Provider::HubSpot => &[
            "x-hubspot-signature-v3",
            "x-hubspot-request-timestamp",
            "host",
        ],
        Provider::Linear => &["linear-signature", "linear-delivery"],
        Provider::GitHub => &["x-hub-signature-256", "x-github-delivery"],
        Provider::Resend => &["svix-id", "svix-timestamp", "svix-signature"],
        Provider::Meta => &["x-hub-signature-256"],
        Provider::Paddle => &["paddle-signature"],
        Provider::MercadoPago => &["x-signature", "x-request-id"],
    }
}

/// A secret in the shape the provider issues; `n` picks one of several.
pub(super) fn secret(provider: Provider, n: u8) -> Vec<u8> {
    match provider {
        // base64 of 24 bytes, all equal to `n`: "whsec_" + 32 chars.
        Provider::Resend => {
            use base64::Engine as _;
            let key = base64::engine::general_purpose::STANDARD.encode([n; 24]);
            format!("whsec_{key}").into_bytes()
        }
        Provider::Paddle => format!("pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_secret{n}").into_bytes(),
        Provider::Stripe => format!("whsec_stripe_secret_{n}").into_bytes(),
        other => format!("{other:?}-secret-{n}").into_bytes(),
    }
}

/// A delivery `provider` would send, signed with `secret` at `ts` (Unix
/// seconds; providers without timestamps ignore it).
pub(super) fn valid_case(provider: Provider, secret: &[u8], ts: u64) -> Case {
    let mut case = Case {
        provider,
        method: "POST".to_owned(),
        uri: "/webhooks/in".to_owned(),
        headers: HeaderMap::new(),
        body: Vec::new(),
        delivery_id: String::new(),
    };
    match provider {
        Provider::Stripe => {
            case.body = br#"{"id":"evt_1","object":"event","type":"charge.succeeded"}"#.to_vec();
            let sig = wire::hex_encode(&stripe::sign(secret, ts, &case.body));
            case.set("stripe-signature", &format!("t={ts},v1={sig}"));
            case.delivery_id = "evt_1".to_owned();
        }
        Provider::Slack => {
            case.body = br#"{"type":"event_callback","event_id":"Ev01","event":{}}"#.to_vec();
            let sig = wire::hex_encode(&slack::sign(secret, ts, &case.body));
            case.set("x-slack-signature", &format!("v0={sig}"));
            case.set("x-slack-request-timestamp", &ts.to_string());
            case.delivery_id = "Ev01".to_owned();
        }
        Provider::HubSpot => {
            case.uri = "/webhooks/in?portal=62515&cb=a%3Ab".to_owned();
            case.body = br#"[{"eventId":11,"objectId":1},{"eventId":12,"objectId":2}]"#.to_vec();
            let url = format!("https://hooks.example.com{}", case.uri);
            let sig = hubspot::sign(secret, "POST", &url, &case.body, ts * 1000);
            case.set("host", "hooks.example.com");
            case.set("x-hubspot-signature-v3", &sig);
            case.set("x-hubspot-request-timestamp", &(ts * 1000).to_string());
            case.delivery_id = "11,12".to_owned();
        }
        Provider::Linear => {
            let ms = ts * 1000;
            case.body = format!(r#"{{"action":"create","type":"Issue","webhookTimestamp":{ms}}}"#)
                .into_bytes();
            case.set("linear-signature", &linear::sign(secret, &case.body));
            case.set("linear-delivery", "d2a5c4e6-0000-4000-8000-000000000001");
            case.delivery_id = "d2a5c4e6-0000-4000-8000-000000000001".to_owned();
        }
        Provider::GitHub | Provider::Meta => {
            case.body = br#"{"zen":"Keep it logically awesome."}"#.to_vec();
            case.set(
                "x-hub-signature-256",
                &github::sign_header(secret, &case.body),
            );
            if provider == Provider::GitHub {
                case.set("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
                case.delivery_id = "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_owned();
            } else {
                case.delivery_id = wire::sha256_hex(&case.body);
            }
        }
        Provider::Resend => {
            case.body = br#"{"type":"email.sent","data":{}}"#.to_vec();
            case.set("svix-id", "msg_2Lh9KRb6tLxcZXcYmCrz5pNPAEh");
            case.set("svix-timestamp", &ts.to_string());
            case.set(
                "svix-signature",
                &svix::sign(secret, "msg_2Lh9KRb6tLxcZXcYmCrz5pNPAEh", ts, &case.body),
            );
            case.delivery_id = "msg_2Lh9KRb6tLxcZXcYmCrz5pNPAEh".to_owned();
        }
        Provider::Paddle => {
            case.body =
                br#"{"event_id":"evt_01h8bzakzx3hm2fmen703n5q45","event_type":"transaction.paid"}"#
                    .to_vec();
            let sig = paddle::sign(secret, ts, &case.body);
            case.set("paddle-signature", &format!("ts={ts};h1={sig}"));
            case.delivery_id = "evt_01h8bzakzx3hm2fmen703n5q45".to_owned();
        }
        Provider::MercadoPago => {
            case.uri = "/webhooks/in?data.id=123456&type=payment".to_owned();
            case.body = br#"{"action":"payment.updated","data":{"id":"123456"}}"#.to_vec();
            let header = mercadopago::sign_header(secret, &case.uri, "req-7f3a", ts);
            case.set("x-signature", &header);
            case.set("x-request-id", "req-7f3a");
            case.delivery_id = "req-7f3a".to_owned();
        }
    }
    case
}

/// Marsaglia xorshift64*, seeded: reproducible and dependency-free.
#[derive(Debug, Clone)]
pub(super) struct XorShift(u64);

impl XorShift {
    /// A generator from a non-zero seed.
    pub(super) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One element of a non-empty slice.
    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Characters that matter to the header grammars, plus noise.
const ALPHABET: &[char] = &[
    't', 's', 'v', 'h', '0', '1', '9', 'a', 'f', 'F', 'z', '=', ',', ';', ' ', '\t', '+', '/', '-',
    '.', '_', ':', 'é', '中', '\u{0}', '\u{7f}', '🦀',
];

/// Keys the grammars know, so random strings hit the interesting paths.
const TOKENS: &[&str] = &[
    "t=",
    "v0=",
    "v1=",
    "v0",
    "v1,",
    "v1a,",
    "ts=",
    "h1=",
    "h2=",
    "sha256=",
    "whsec_",
    "1614265330",
    "18446744073709551616",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    "==",
];

/// A random header-ish string.
pub(super) fn random_text(rng: &mut XorShift) -> String {
    let mut out = String::new();
    for _ in 0..rng.below(24) {
        if rng.below(3) == 0 {
            out.push_str(rng.pick(TOKENS));
        } else {
            out.push(rng.pick(ALPHABET));
        }
    }
    out
}

/// `text` with 1–4 random character-level edits (insert, delete, replace,
/// duplicate a slice, truncate).
pub(super) fn mutate(rng: &mut XorShift, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(4) {
        let len = chars.len();
        let at = if len == 0 { 0 } else { rng.below(len) };
        match rng.below(5) {
            0 => chars.insert(at, rng.pick(ALPHABET)),
            1 if len > 0 => {
                chars.remove(at);
            }
            2 if len > 0 => chars[at] = rng.pick(ALPHABET),
            3 if len > 0 => {
                let end = at + rng.below(len - at) + 1;
                let copy: Vec<char> = chars[at..end].to_vec();
                chars.splice(at..at, copy);
            }
            _ => chars.truncate(at),
        }
    }
    chars.into_iter().collect()
}
