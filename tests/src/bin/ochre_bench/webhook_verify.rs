//! `ochre-bench webhook-verify`: the CPU cost of
//! `ochre_server::webhooks::verify` per provider, against a raw
//! HMAC-SHA256 of the same body bytes under the same key.
//!
//! For each body size and each of the nine providers, the bench builds a
//! correctly signed delivery (signature computed here with `hmac` + `sha2`,
//! `now` = the signed timestamp), checks that it verifies with the expected
//! delivery id, warms up, then alternates timed batches of `verify` calls and
//! of raw HMAC calls until the cell's time budget is spent. A batch is sized
//! to last about [`BATCH_TARGET`]; its mean per-call time is one histogram
//! sample, so the percentiles are over batch means (they hide a single slow
//! call inside a batch, not a slow stretch).
//!
//! The raw HMAC is `Hmac<Sha256>` over the body alone, keyed with the
//! provider's secret bytes. What `verify` does on top: header parsing and
//! hex / base64 decoding, the provider's signed prefix (timestamp, id,
//! method and URL for HubSpot), a constant-time compare, and after the MAC
//! matched, a look-up of the delivery id, which for five providers is a full
//! `serde_json::Value` parse of the body. Mercado Pago signs no body bytes at
//! all (a short manifest only), so its cost does not grow with the body.
//!
//! Single-threaded, on the calling thread; nothing else runs meanwhile.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use anyhow::{Context as _, ensure};
use base64::Engine as _;
use hdrhistogram::Histogram;
use hmac::{Hmac, Mac as _};
use http::{HeaderMap, HeaderName, HeaderValue};
use ochre_server::webhooks::{self, Inbound, Provider};
use sha2::{Digest as _, Sha256};

use crate::stats;

/// Body sizes measured.
const SIZES: [usize; 3] = [1024, 64 * 1024, 1024 * 1024];

/// The signed timestamp (Unix seconds) of every delivery, and `now`.
const TS: u64 = 1_700_000_000;

/// Warm-up per cell (both functions, alternating).
const WARMUP: Duration = Duration::from_millis(60);

/// Timed budget per cell (both functions together), extended until each
/// function has [`MIN_SAMPLES`] batches, but never beyond [`MAX_CELL`].
const BUDGET: Duration = Duration::from_millis(400);

/// Batches per function that a cell's budget is extended to reach.
const MIN_SAMPLES: u64 = 200;

/// The most a cell's timed part may take.
const MAX_CELL: Duration = Duration::from_secs(5);

/// How long one timed batch should last.
const BATCH_TARGET: Duration = Duration::from_micros(20);

const HUBSPOT_HOST: &str = "hooks.example.com";
const HUBSPOT_URI: &str = "/webhooks/in?portal=62515";
const MERCADOPAGO_URI: &str = "/webhooks/in?data.id=123456&type=payment";
const GITHUB_DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
const LINEAR_DELIVERY: &str = "d2a5c4e6-0000-4000-8000-000000000001";
const SVIX_ID: &str = "msg_2Lh9KRb6tLxcZXcYmCrz5pNPAEh";
const MERCADOPAGO_REQUEST: &str = "req-7f3a";

/// One signed delivery, owned.
#[derive(Debug)]
struct Delivery {
    provider: Provider,
    uri: &'static str,
    headers: HeaderMap,
    body: Vec<u8>,
    secret: Vec<u8>,
    /// What `verify` must return as the delivery id.
    delivery_id: String,
}

impl Delivery {
    fn inbound(&self) -> Inbound<'_> {
        Inbound {
            method: "POST",
            uri: self.uri,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// The work `verify` does after the MAC matched, per provider.
fn post_mac(provider: Provider) -> &'static str {
    match provider {
        Provider::Stripe => "JSON parse (`id`)",
        Provider::Slack => "JSON parse (`event_id`)",
        Provider::HubSpot => "JSON parse (`eventId`s); URL escapes",
        Provider::Linear => "JSON parse (`webhookTimestamp`)",
        Provider::GitHub => "none (id from header)",
        Provider::Resend => "none (id from header); key base64",
        Provider::Meta => "SHA-256 of the body (id)",
        Provider::Paddle => "JSON parse (`event_id`)",
        Provider::MercadoPago => "none; MAC over a manifest, not the body",
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
fn body(provider: Provider, size: usize) -> anyhow::Result<Vec<u8>> {
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
fn signed(provider: Provider, size: usize) -> anyhow::Result<Delivery> {
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

/// Nanosecond histograms (1 ns to 100 s).
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid bounds")
}

/// Runs `f` `n` times; the mean nanoseconds per call.
fn batch(n: u64, f: &mut impl FnMut()) -> u64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    let ns = start.elapsed().as_nanos() / u128::from(n.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX).max(1)
}

/// Calls per batch so that one batch lasts about [`BATCH_TARGET`].
fn batch_size(per_call_ns: u64) -> u64 {
    let target = u64::try_from(BATCH_TARGET.as_nanos()).unwrap_or(u64::MAX);
    (target / per_call_ns.max(1)).clamp(1, 100_000)
}

/// One provider at one size.
#[derive(Debug)]
struct Cell {
    provider: Provider,
    size: usize,
    verify: Histogram<u64>,
    hmac: Histogram<u64>,
    verify_batch: u64,
    hmac_batch: u64,
}

impl Cell {
    fn ratio(&self) -> f64 {
        self.verify.value_at_quantile(0.5) as f64 / self.hmac.value_at_quantile(0.5) as f64
    }
}

fn measure(d: &Delivery) -> anyhow::Result<Cell> {
    let inbound = d.inbound();
    let secrets: [&[u8]; 1] = [&d.secret];
    let verified = webhooks::verify(d.provider, &inbound, &secrets, TS, 0)
        .map_err(|e| anyhow::anyhow!("{:?} does not verify: {e}", d.provider))?;
    ensure!(
        verified.delivery_id == d.delivery_id,
        "{:?}: delivery id {:?}, expected {:?}",
        d.provider,
        verified.delivery_id,
        d.delivery_id
    );
    let mut verify = || {
        let result = webhooks::verify(
            black_box(d.provider),
            black_box(&inbound),
            black_box(&secrets),
            black_box(TS),
            0,
        );
        let _ = black_box(result);
    };
    let key: &[u8] = &d.secret;
    let body: &[u8] = &d.body;
    let mut hmac = || {
        if let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(black_box(key)) {
            mac.update(black_box(body));
            black_box(mac.finalize().into_bytes());
        }
    };
    // Warm-up, and the mean cost of each call (which sizes the batches).
    let (mut v_ns, mut h_ns, mut calls) = (0, 0, 0);
    let warm_until = Instant::now() + WARMUP;
    while Instant::now() < warm_until || calls < 3 {
        v_ns += batch(1, &mut verify);
        h_ns += batch(1, &mut hmac);
        calls += 1;
    }
    let mut cell = Cell {
        provider: d.provider,
        size: d.body.len(),
        verify: histogram(),
        hmac: histogram(),
        verify_batch: batch_size(v_ns / calls),
        hmac_batch: batch_size(h_ns / calls),
    };
    let start = Instant::now();
    // Alternate, so drift (frequency, a noisy neighbour) hits both alike.
    while (start.elapsed() < BUDGET || cell.verify.len() < MIN_SAMPLES)
        && start.elapsed() < MAX_CELL
    {
        cell.verify
            .saturating_record(batch(cell.verify_batch, &mut verify));
        cell.hmac
            .saturating_record(batch(cell.hmac_batch, &mut hmac));
    }
    Ok(cell)
}

/// `serde_json::Value` parse of `body` alone (what five providers do after
/// the MAC): p50 and p99 ns per call.
fn json_parse(body: &[u8]) -> (u64, u64) {
    let mut parse = || {
        let _ = black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)));
    };
    let (mut ns, mut calls) = (0, 0);
    let warm_until = Instant::now() + WARMUP;
    while Instant::now() < warm_until || calls < 3 {
        ns += batch(1, &mut parse);
        calls += 1;
    }
    let n = batch_size(ns / calls);
    let mut h = histogram();
    let start = Instant::now();
    while (start.elapsed() < BUDGET / 2 || h.len() < MIN_SAMPLES) && start.elapsed() < MAX_CELL {
        h.saturating_record(batch(n, &mut parse));
    }
    (h.value_at_quantile(0.5), h.value_at_quantile(0.99))
}

fn size_name(size: usize) -> String {
    if size >= 1024 * 1024 && size.is_multiple_of(1024 * 1024) {
        format!("{} MiB", size / (1024 * 1024))
    } else if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn print_size(cells: &[Cell], size: usize, json: (u64, u64)) {
    println!(
        "\n#### Body {} ({size} bytes)\n\n\
         | provider | verify p50 (ns) | verify p99 (ns) | HMAC p50 (ns) | HMAC p99 (ns) | \
         p50 verify / HMAC | batches (verify × calls, HMAC × calls) | after the MAC |\n\
         |---|---:|---:|---:|---:|---:|---:|---|",
        size_name(size)
    );
    for c in cells.iter().filter(|c| c.size == size) {
        println!(
            "| {:?} | {} | {} | {} | {} | {:.2} | {} × {}, {} × {} | {} |",
            c.provider,
            c.verify.value_at_quantile(0.50),
            c.verify.value_at_quantile(0.99),
            c.hmac.value_at_quantile(0.50),
            c.hmac.value_at_quantile(0.99),
            c.ratio(),
            c.verify.len(),
            c.verify_batch,
            c.hmac.len(),
            c.hmac_batch,
            post_mac(c.provider),
        );
    }
    let hmac_p50: Vec<u64> = cells
        .iter()
        .filter(|c| c.size == size)
        .map(|c| c.hmac.value_at_quantile(0.5))
        .collect();
    if let Some(min) = hmac_p50.iter().min() {
        let mib_s = size as f64 / (1024.0 * 1024.0) / (*min as f64 / 1e9);
        println!("\nraw HMAC-SHA256 at this size: {mib_s:.0} MiB/s (best p50 of the nine rows)");
    }
    let mib_s = size as f64 / (1024.0 * 1024.0) / (json.0 as f64 / 1e9);
    println!(
        "`serde_json::Value` parse of the (Stripe) body alone: p50 {} ns, p99 {} ns \
         ({mib_s:.0} MiB/s)",
        json.0, json.1
    );
}

/// The scenario: synchronous, on this thread.
pub fn run() -> anyhow::Result<()> {
    println!(
        "webhook-verify: {} providers × {} body sizes, {} ms warm-up + {} ms per cell; {}",
        Provider::ALL.len(),
        SIZES.len(),
        WARMUP.as_millis(),
        BUDGET.as_millis(),
        stats::machine()
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before: {}", load.trim());
    let mut cells = Vec::new();
    let mut json = Vec::new();
    for size in SIZES {
        for provider in Provider::ALL {
            let delivery = signed(provider, size)?;
            let cell = measure(&delivery)?;
            println!(
                "  {:>8} {:<12} verify p50 {:>9} ns  HMAC p50 {:>9} ns  ratio {:.2}",
                size_name(size),
                format!("{provider:?}"),
                cell.verify.value_at_quantile(0.5),
                cell.hmac.value_at_quantile(0.5),
                cell.ratio()
            );
            cells.push(cell);
        }
        // After the size's cells: the allocator has grown to this size's
        // parses (measured first, a 1 MiB parse came out much slower).
        json.push(json_parse(&body(Provider::Stripe, size)?));
    }
    println!(
        "\n### Webhook signature verification, CPU cost\n\n\
         `ochre-bench webhook-verify`: `ochre_server::webhooks::verify(provider, &inbound, \
         &[secret], now, 0)` on a correctly signed delivery (`now` = the signed timestamp, one \
         secret), against a raw HMAC-SHA256 (`hmac` + `sha2`) of the same body bytes under the \
         same secret bytes. JSON bodies of order-like line items (many short members), padded \
         to the exact size. One thread; {} ms warm-up, then {} ms of alternating batches per \
         cell, each batch sized to about {} µs; each sample is a batch's mean per call, so the \
         percentiles are over batch means (at least {MIN_SAMPLES} batches per function unless \
         a cell reached {} s). {}.",
        WARMUP.as_millis(),
        BUDGET.as_millis(),
        BATCH_TARGET.as_micros(),
        MAX_CELL.as_secs(),
        stats::machine()
    );
    for (size, json) in SIZES.into_iter().zip(json) {
        print_size(&cells, size, json);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nload average after: {}", load.trim());
    Ok(())
}
