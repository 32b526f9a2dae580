//! `ochre-bench webhook-verify`: the CPU cost of signature verification
//! per provider against a raw HMAC-SHA256 of the same body bytes under the
//! same key.
//!
//! For each body size and each of the nine providers, the bench builds a
//! correctly signed delivery (`webhook_signed`, `now` = the signed
//! timestamp), checks that it verifies with the expected delivery id, warms
//! up, then alternates timed batches of three functions until the cell's
//! time budget is spent: `webhooks::authenticate` (verification alone:
//! headers, the provider's signed prefix, the MAC, a constant-time compare,
//! the window), `webhooks::verify` (the same, then the delivery id, which
//! five providers read from the body), and a raw `Hmac<Sha256>` over the
//! body. A batch is sized to last about [`BATCH_TARGET`]; its mean per-call
//! time is one histogram sample, so the percentiles are over batch means.
//! Mercado Pago signs no body bytes (a short manifest only), so its cost
//! does not grow with the body.
//!
//! Single-threaded, on the calling thread; nothing else runs meanwhile.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use anyhow::ensure;
use hdrhistogram::Histogram;
use hmac::{Hmac, Mac as _};
use ochre_server::webhooks::verify::{self as webhooks, Provider};
use sha2::Sha256;

use crate::{
    stats,
    webhook_signed::{Delivery, TS, post_mac, signed},
};

/// Body sizes measured.
const SIZES: [usize; 3] = [1024, 64 * 1024, 1024 * 1024];

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
    authenticate: Histogram<u64>,
    verify: Histogram<u64>,
    hmac: Histogram<u64>,
    auth_batch: u64,
    verify_batch: u64,
    hmac_batch: u64,
}

impl Cell {
    fn p50(h: &Histogram<u64>) -> f64 {
        h.value_at_quantile(0.5) as f64
    }
    /// p50 of authentication alone over p50 of the raw HMAC.
    fn auth_ratio(&self) -> f64 {
        Self::p50(&self.authenticate) / Self::p50(&self.hmac)
    }
    /// p50 of the full verify (with the delivery id) over the raw HMAC.
    fn ratio(&self) -> f64 {
        Self::p50(&self.verify) / Self::p50(&self.hmac)
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
    let mut authenticate = || {
        let result = webhooks::authenticate(
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
    let (mut a_ns, mut v_ns, mut h_ns, mut calls) = (0, 0, 0, 0);
    let warm_until = Instant::now() + WARMUP;
    while Instant::now() < warm_until || calls < 3 {
        a_ns += batch(1, &mut authenticate);
        v_ns += batch(1, &mut verify);
        h_ns += batch(1, &mut hmac);
        calls += 1;
    }
    let mut cell = Cell {
        provider: d.provider,
        size: d.body.len(),
        authenticate: histogram(),
        verify: histogram(),
        hmac: histogram(),
        auth_batch: batch_size(a_ns / calls),
        verify_batch: batch_size(v_ns / calls),
        hmac_batch: batch_size(h_ns / calls),
    };
    let start = Instant::now();
    // Alternate, so drift (frequency, a noisy neighbour) hits both alike.
    while (start.elapsed() < BUDGET || cell.verify.len() < MIN_SAMPLES)
        && start.elapsed() < MAX_CELL
    {
        cell.authenticate
            .saturating_record(batch(cell.auth_batch, &mut authenticate));
        cell.verify
            .saturating_record(batch(cell.verify_batch, &mut verify));
        cell.hmac
            .saturating_record(batch(cell.hmac_batch, &mut hmac));
    }
    Ok(cell)
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

fn print_size(cells: &[Cell], size: usize) {
    println!(
        "\n#### Body {} ({size} bytes)\n\n\
         | provider | authenticate p50 / p99 (ns) | verify p50 / p99 (ns) | HMAC p50 / p99 (ns) | \
         authenticate / HMAC | verify / HMAC | verify adds, after the MAC |\n\
         |---|---:|---:|---:|---:|---:|---|",
        size_name(size)
    );
    for c in cells.iter().filter(|c| c.size == size) {
        let q = |h: &Histogram<u64>| {
            format!(
                "{} / {}",
                h.value_at_quantile(0.50),
                h.value_at_quantile(0.99)
            )
        };
        println!(
            "| {:?} | {} | {} | {} | {:.2} | {:.2} | {} |",
            c.provider,
            q(&c.authenticate),
            q(&c.verify),
            q(&c.hmac),
            c.auth_ratio(),
            c.ratio(),
            post_mac(c.provider),
        );
    }
    let best = cells
        .iter()
        .filter(|c| c.size == size)
        .map(|c| c.hmac.value_at_quantile(0.5))
        .min();
    if let Some(min) = best {
        let mib_s = size as f64 / (1024.0 * 1024.0) / (min as f64 / 1e9);
        println!("\nraw HMAC-SHA256 at this size: {mib_s:.0} MiB/s (best p50 of the nine rows)");
    }
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
    for size in SIZES {
        for provider in Provider::ALL {
            let delivery = signed(provider, size)?;
            let cell = measure(&delivery)?;
            println!(
                "  {:>8} {:<12} authenticate/HMAC {:.2}  verify/HMAC {:.2}  (HMAC p50 {} ns)",
                size_name(size),
                format!("{provider:?}"),
                cell.auth_ratio(),
                cell.ratio(),
                cell.hmac.value_at_quantile(0.5),
            );
            cells.push(cell);
        }
    }
    println!(
        "\n### Webhook signature verification, CPU cost\n\n\
         `ochre-bench webhook-verify`: `ochre_server::webhooks::verify::authenticate` and `verify` \
         `(provider, &inbound, &[secret], now, 0)` on a correctly signed delivery (`now` = the \
         signed timestamp, one secret), against a raw HMAC-SHA256 (`hmac` + `sha2`) of the same body bytes under the \
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
    for size in SIZES {
        print_size(&cells, size);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nload average after: {}", load.trim());
    Ok(())
}
