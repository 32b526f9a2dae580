//! Correctly signed deliveries for every provider and body size, built
//! here with `hmac` + `sha2` (independently of the server's verifier), for
//! `ochre-bench webhook-verify`.

use anyhow::{Context as _, ensure};
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use http::{HeaderMap, HeaderName, HeaderValue};
use ochre_server::webhooks::verify::{Inbound, Provider};
use sha2::{Digest as _, Sha256};

/// The signed timestamp (Unix seconds) of every delivery, and `now`.
pub const TS: u64 = 1_700_000_000;

const HUBSPOT_HOST: &str = "hooks.example.com";
const HUBSPOT_URI: &str = "/webhooks/in?portal=62515";
const MERCADOPAGO_URI: &str = "/webhooks/in?data.id=123456&type=payment";
const GITHUB_DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
const LINEAR_DELIVERY: &str = "d2a5c4e6-0000-4000-8000-000000000001";
const SVIX_ID: &str = "msg_2Lh9KRb6tLxcZXcYmCrz5pNPAEh";
const MERCADOPAGO_REQUEST: &str = "req-7f3a";

/// One signed delivery, owned.
#[derive(Debug)]
pub struct Delivery {
    pub provider: Provider,
    pub uri: &'static str,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub secret: Vec<u8>,
    /// What `verify` must return as the delivery id.
    pub delivery_id: String,
}

impl Delivery {
    pub fn inbound(&self) -> Inbound<'_> {
        Inbound {
            method: "POST",
            uri: self.uri,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// The work `verify` does after the MAC matched, per provider.
pub fn post_mac(provider: Provider) -> &'static str {
    match provider {
        Provider::Stripe => "reads `id` from the JSON",
        Provider::Slack => "reads `event_id` from the JSON",
        Provider::HubSpot => "reads the `eventId`s from the JSON",
        Provider::Linear => "none (`webhookTimestamp` is read to authenticate)",
        Provider::GitHub => "none (id from header)",
        Provider::Resend => "none (id from header); key base64",
        Provider::Meta => "SHA-256 of the body (id)",
        Provider::Paddle => "reads `event_id` from the JSON",
        Provider::MercadoPago => {
            "reads `data.id` from the JSON (the MAC covers a manifest, not the body)"
        }
    }
}

/// A secret in the shape the provider issues.
fn secret(provider: Provider) -> Vec<u8> {
    match provider {
        Provider::Resend => {
            let key = base64::engine::general_purpose::STANDARD.encode([7u8; 24]);
            format!("whsec_{key}").into_bytes()
        }
        Provider::Paddle => b"pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_bench".to_vec(),
        Provider::Stripe => b"whsec_stripe_bench_secret".to_vec(),
        other => format!("{other:?}-bench-secret").into_bytes(),
    }
}

/// `prefix`, then line items until the body is `size` bytes, then `suffix`.
///
/// Line items look like an order's (several short fields each), the way
/// real payloads are objects of many small members rather than one long
/// string; a last `{"pad":"xx…"}` item makes the size exact.
fn fill(prefix: &str, suffix: &str, size: usize) -> anyhow::Result<Vec<u8>> {
    const PAD_ITEM: usize = r#"{"pad":""}"#.len();
    let mut out = prefix.as_bytes().to_vec();
    for i in 0.. {
        let item = format!(
            r#"{{"id":"item_{i:06}","qty":{},"price":{}.50,"sku":"SKU-{:04}","label":"lorem ipsum dolor"}},"#,
            i % 7 + 1,
            i % 90 + 10,
            i % 9973
        );
        if out.len() + item.len() + PAD_ITEM + suffix.len() > size {
            break;
        }
        out.extend_from_slice(item.as_bytes());
    }
    let pad = size
        .checked_sub(out.len() + PAD_ITEM + suffix.len())
        .context("body size too small for the provider's fields")?;
    out.extend_from_slice(br#"{"pad":""#);
    out.resize(out.len() + pad, b'x');
    out.extend_from_slice(br#""}"#);
    out.extend_from_slice(suffix.as_bytes());
    ensure!(out.len() == size, "body of {} bytes, not {size}", out.len());
    serde_json::from_slice::<serde_json::Value>(&out).context("the body is JSON")?;
    Ok(out)
}

/// The body `provider` would send, `size` bytes.
pub fn body(provider: Provider, size: usize) -> anyhow::Result<Vec<u8>> {
    let ms = TS * 1000;
    let (prefix, suffix) = match provider {
        Provider::Stripe => (
            r#"{"id":"evt_1BenchStripe","object":"event","type":"charge.succeeded","data":{"object":{"items":["#.to_owned(),
            "]}}}",
        ),
        Provider::Slack => (
            r#"{"type":"event_callback","event_id":"Ev0BENCH","event":{"items":["#.to_owned(),
            "]}}",
        ),
        Provider::HubSpot => (
            r#"[{"eventId":11,"objectId":1,"items":["#.to_owned(),
            "]}]",
        ),
        Provider::Linear => (
            format!(
                r#"{{"action":"create","type":"Issue","webhookTimestamp":{ms},"data":{{"items":["#
            ),
            "]}}",
        ),
        Provider::GitHub | Provider::Meta => (
            r#"{"action":"opened","issue":{"number":1,"items":["#.to_owned(),
            "]}}",
        ),
        Provider::Resend => (r#"{"type":"email.sent","data":{"items":["#.to_owned(), "]}}"),
        Provider::Paddle => (
            r#"{"event_id":"evt_01h8bzakzx3hm2fmen703n5q45","event_type":"transaction.paid","data":{"items":["#.to_owned(),
            "]}}",
        ),
        Provider::MercadoPago => (
            r#"{"action":"payment.updated","data":{"id":"123456","items":["#.to_owned(),
            "]}}",
        ),
    };
    fill(&prefix, suffix, size)
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
fn mac(key: &[u8], parts: &[&[u8]]) -> anyhow::Result<[u8; 32]> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).context("an HMAC key")?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

fn header_map(pairs: &[(&str, String)]) -> anyhow::Result<HeaderMap> {
    let mut map = HeaderMap::new();
    map.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_bytes(name.as_bytes())?,
            HeaderValue::from_str(value)?,
        );
    }
    Ok(map)
}

/// A delivery of `provider` with a `size`-byte body, signed at [`TS`].
pub fn signed(provider: Provider, size: usize) -> anyhow::Result<Delivery> {
    let secret = secret(provider);
    let body = body(provider, size)?;
    let ts = TS.to_string();
    let b64 = |tag: [u8; 32]| base64::engine::general_purpose::STANDARD.encode(tag);
    let mut uri = "/webhooks/in";
    let (headers, delivery_id) = match provider {
        Provider::Stripe => {
            let sig = hex::encode(mac(&secret, &[ts.as_bytes(), b".", &body])?);
            (
                vec![("stripe-signature", format!("t={ts},v1={sig}"))],
                "evt_1BenchStripe".to_owned(),
            )
        }
        Provider::Slack => {
            let sig = hex::encode(mac(&secret, &[b"v0:", ts.as_bytes(), b":", &body])?);
            (
                vec![
                    ("x-slack-signature", format!("v0={sig}")),
                    ("x-slack-request-timestamp", ts.clone()),
                ],
                "Ev0BENCH".to_owned(),
            )
        }
        Provider::HubSpot => {
            uri = HUBSPOT_URI;
            let ms = (TS * 1000).to_string();
            let url = format!("https://{HUBSPOT_HOST}{HUBSPOT_URI}");
            let sig = b64(mac(
                &secret,
                &[b"POST", url.as_bytes(), &body, ms.as_bytes()],
            )?);
            (
                vec![
                    ("host", HUBSPOT_HOST.to_owned()),
                    ("x-hubspot-signature-v3", sig),
                    ("x-hubspot-request-timestamp", ms),
                ],
                "11".to_owned(),
            )
        }
        Provider::Linear => (
            vec![
                ("linear-signature", hex::encode(mac(&secret, &[&body])?)),
                ("linear-delivery", LINEAR_DELIVERY.to_owned()),
            ],
            LINEAR_DELIVERY.to_owned(),
        ),
        Provider::GitHub => (
            vec![
                (
                    "x-hub-signature-256",
                    format!("sha256={}", hex::encode(mac(&secret, &[&body])?)),
                ),
                ("x-github-delivery", GITHUB_DELIVERY.to_owned()),
                ("x-github-event", "issues".to_owned()),
            ],
            GITHUB_DELIVERY.to_owned(),
        ),
        Provider::Meta => (
            vec![(
                "x-hub-signature-256",
                format!("sha256={}", hex::encode(mac(&secret, &[&body])?)),
            )],
            hex::encode(Sha256::digest(&body)),
        ),
        Provider::Resend => {
            let encoded = secret.strip_prefix(b"whsec_").unwrap_or(&secret);
            let key = base64::engine::general_purpose::STANDARD.decode(encoded)?;
            let sig = b64(mac(
                &key,
                &[SVIX_ID.as_bytes(), b".", ts.as_bytes(), b".", &body],
            )?);
            (
                vec![
                    ("svix-id", SVIX_ID.to_owned()),
                    ("svix-timestamp", ts.clone()),
                    ("svix-signature", format!("v1,{sig}")),
                ],
                SVIX_ID.to_owned(),
            )
        }
        Provider::Paddle => {
            let sig = hex::encode(mac(&secret, &[ts.as_bytes(), b":", &body])?);
            (
                vec![("paddle-signature", format!("ts={ts};h1={sig}"))],
                "evt_01h8bzakzx3hm2fmen703n5q45".to_owned(),
            )
        }
        Provider::MercadoPago => {
            uri = MERCADOPAGO_URI;
            let manifest = format!("id:123456;request-id:{MERCADOPAGO_REQUEST};ts:{ts};");
            let sig = hex::encode(mac(&secret, &[manifest.as_bytes()])?);
            (
                vec![
                    ("x-signature", format!("ts={ts},v1={sig}")),
                    ("x-request-id", MERCADOPAGO_REQUEST.to_owned()),
                ],
                MERCADOPAGO_REQUEST.to_owned(),
            )
        }
    };
    Ok(Delivery {
        provider,
        uri,
        headers: header_map(&headers)?,
        body,
        secret,
        delivery_id,
    })
}
