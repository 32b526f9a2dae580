//! Latency histograms, outcome counts, load phases and the facts about the
//! machine that every table states.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use tokio::task::JoinHandle;
use tonic::Code;

/// Latencies (microseconds) and outcomes of one kind of call.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Every call, whatever its outcome.
    pub all: Histogram<u64>,
    /// Successful calls only.
    pub ok: Histogram<u64>,
    pub codes: BTreeMap<String, u64>,
    /// Successful calls whose answer was not the expected one.
    pub wrong: u64,
}

impl Stats {
    pub fn new() -> Self {
        let histogram = || Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds");
        Stats {
            all: histogram(),
            ok: histogram(),
            codes: BTreeMap::new(),
            wrong: 0,
        }
    }

    pub fn record(&mut self, code: Code, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.all.saturating_record(micros);
        if code == Code::Ok {
            self.ok.saturating_record(micros);
        }
        *self.codes.entry(format!("{code:?}")).or_default() += 1;
    }

    pub fn merge(&mut self, other: &Stats) {
        self.all.add(&other.all).expect("same bounds");
        self.ok.add(&other.ok).expect("same bounds");
        for (code, n) in &other.codes {
            *self.codes.entry(code.clone()).or_default() += n;
        }
        self.wrong += other.wrong;
    }

    pub fn count(&self, code: &str) -> u64 {
        self.codes.get(code).copied().unwrap_or(0)
    }

    pub fn errors(&self) -> u64 {
        self.all.len() - self.count("Ok")
    }

    /// "0", or the count with the codes that make it up.
    pub fn errors_by_code(&self) -> String {
        let mut parts: Vec<String> = self
            .codes
            .iter()
            .filter(|(code, _)| code.as_str() != "Ok")
            .map(|(code, n)| format!("{code} {n}"))
            .collect();
        if self.wrong > 0 {
            parts.push(format!("wrong answer {}", self.wrong));
        }
        if parts.is_empty() {
            "0".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// One duration-bounded phase: what every worker measured, merged.
#[derive(Debug)]
pub struct Measured {
    pub secs: f64,
    pub stats: Stats,
}

impl Measured {
    /// Nothing measured yet (to merge rounds into).
    pub fn empty() -> Self {
        Measured {
            secs: 0.0,
            stats: Stats::new(),
        }
    }

    /// Adds another round of the same load.
    pub fn merge(&mut self, other: Measured) {
        self.secs += other.secs;
        self.stats.merge(&other.stats);
    }

    /// Calls (any outcome) per second.
    pub fn rate(&self) -> f64 {
        self.stats.all.len() as f64 / self.secs
    }

    /// A quantile of every call, in microseconds.
    pub fn q(&self, quantile: f64) -> u64 {
        self.stats.all.value_at_quantile(quantile)
    }
}

/// Runs `workers` tasks made by `spawn(i, until)`, each looping until
/// `duration` has passed, and merges what they measured.
pub async fn run_workers(
    workers: usize,
    duration: Duration,
    mut spawn: impl FnMut(usize, Instant) -> JoinHandle<Stats>,
) -> anyhow::Result<Measured> {
    let start = Instant::now();
    let until = start + duration;
    let tasks: Vec<JoinHandle<Stats>> = (0..workers).map(|i| spawn(i, until)).collect();
    let mut stats = Stats::new();
    for task in tasks {
        stats.merge(&task.await.context("load worker")?);
    }
    Ok(Measured {
        secs: start.elapsed().as_secs_f64(),
        stats,
    })
}

/// Milliseconds, from a histogram value in microseconds.
pub fn ms(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}

/// `a / b` with two decimals ("—" when `b` is zero).
pub fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 {
        "—".to_owned()
    } else {
        format!("{:.2}", a / b)
    }
}

pub fn describe(name: &str, h: &Histogram<u64>, secs: f64) -> String {
    if h.is_empty() {
        return format!("  {name}: no calls");
    }
    format!(
        "  {name}: n={} ({:.1}/s)  p50={} p90={} p99={} max={} ms",
        h.len(),
        h.len() as f64 / secs,
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    )
}

/// Prints one phase: percentiles of every call, then the outcomes.
pub fn report(label: &str, name: &str, m: &Measured) {
    println!("\n## {label} ({:.1} s)", m.secs);
    println!("{}", describe(name, &m.stats.all, m.secs));
    println!(
        "  outcomes: {:?}; errors: {}",
        m.stats.codes,
        m.stats.errors_by_code()
    );
}

/// The usual rows of a markdown table for phases side by side: throughput,
/// p50/p90/p99/max of every call, errors by code.
pub fn rows(phases: &[&Measured]) -> Vec<(String, Vec<String>)> {
    let each = |f: &dyn Fn(&Measured) -> String| phases.iter().map(|m| f(m)).collect();
    vec![
        ("calls/s".to_owned(), each(&|m| format!("{:.1}", m.rate()))),
        ("p50 (ms)".to_owned(), each(&|m| ms(m.q(0.50)))),
        ("p90 (ms)".to_owned(), each(&|m| ms(m.q(0.90)))),
        ("p99 (ms)".to_owned(), each(&|m| ms(m.q(0.99)))),
        ("max (ms)".to_owned(), each(&|m| ms(m.stats.all.max()))),
        ("calls".to_owned(), each(&|m| m.stats.all.len().to_string())),
        ("errors".to_owned(), each(&|m| m.stats.errors_by_code())),
    ]
}

/// Prints a markdown table: a header row, then `rows`.
pub fn print_table(header: &[&str], rows: &[(String, Vec<String>)]) {
    println!("| | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(header.len()));
    for (name, cells) in rows {
        println!("| {name} | {} |", cells.join(" | "));
    }
}

/// "release build, nproc=N (CPU model)".
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{profile} build, nproc={cores} ({cpu})")
}
