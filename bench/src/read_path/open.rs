//! The open loop of `read-path`: GetConversation at a fixed rate, 70 % of
//! the closed-loop maximum, three times after a warm-up, each run's CPU
//! per call taken from /proc. The generator is a thread of its own with a
//! single-threaded runtime (as h2load runs), so that it costs about what
//! the client that measured the maximum cost.

use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::{
    cpu::{self, PerCall},
    load::{self, Target},
    raw, step,
};
use crate::stats::{self, Measured};

/// The open-loop rate, as a fraction of the closed-loop maximum: the
/// criterion's load.
pub const OPEN_FRACTION: f64 = 0.7;

/// The fraction this run uses: [`OPEN_FRACTION`], or `BENCH_OPEN_FRACTION`
/// (above 0, at most 1) to see the tail at another load; the p99 criterion
/// is judged only at [`OPEN_FRACTION`].
pub fn fraction() -> anyhow::Result<f64> {
    match std::env::var("BENCH_OPEN_FRACTION") {
        Err(_) => Ok(OPEN_FRACTION),
        Ok(v) => match v.trim().parse::<f64>() {
            Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
            _ => anyhow::bail!(
                "BENCH_OPEN_FRACTION must be a number above 0 and at most 1, not {v:?}"
            ),
        },
    }
}

/// Open-loop runs: on a shared 2-core machine one run's tail can be a
/// neighbour's pause, so the median of three runs' p99 is the figure, and
/// every run's p99 is printed beside it.
pub const OPEN_RUNS: usize = 3;

/// Where and how hard the open loop calls.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The server's port.
    pub port: u16,
    /// HTTP/2 connections, round-robin.
    pub channels: usize,
    /// Calls started per second.
    pub rate: f64,
    pub warmup: Duration,
    pub duration: Duration,
    /// When the bench started (for its progress lines).
    pub start: Instant,
}

/// A warm-up, then [`OPEN_RUNS`] runs: each run's calls and its CPU per
/// call (the server `pid`, the cluster under `postmaster`, the generator).
pub async fn runs(
    plan: Plan,
    target: Target,
    pid: u32,
    postmaster: u32,
) -> anyhow::Result<(Vec<Measured>, Vec<PerCall>)> {
    let Plan { rate, start, .. } = plan;
    on_own_thread(move || async move {
        let raws = raw::connect(plan.port, plan.channels).await?;
        // Its own warm-up, as every closed-loop phase has: the new
        // connections' first calls are not the server's steady state.
        if !plan.warmup.is_zero() {
            step(start, &format!("open loop at {rate:.0}/s, warm-up"));
            load::open(&raws, &target, rate, plan.warmup).await?;
        }
        let (mut runs, mut used) = (Vec::new(), Vec::new());
        for n in 1..=OPEN_RUNS {
            step(
                start,
                &format!("open loop at {rate:.0}/s, run {n} of {OPEN_RUNS}"),
            );
            let before = cpu::Snapshot::take(pid, postmaster);
            let run = load::open(&raws, &target, rate, plan.duration).await?;
            let after = cpu::Snapshot::take(pid, postmaster);
            used.push(before.per_call(&after, load::ok_rate(&run)));
            stats::report(&format!("open loop, run {n}"), "GetConversation", &run);
            runs.push(run);
        }
        anyhow::Ok((runs, used))
    })
    .await
}

/// Runs `work` on a new thread with a single-threaded runtime of its own
/// and waits for its result without blocking this runtime.
pub async fn on_own_thread<F, Fut, T>(work: F) -> anyhow::Result<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
    T: Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("ochre-bench-open".into())
        .spawn(move || {
            let outcome = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("a runtime for the open loop")
                .and_then(|rt| rt.block_on(work()));
            let _ = done.send(outcome);
        })
        .context("a thread for the open loop")?;
    result.await.context("the open-loop thread ended early")?
}
