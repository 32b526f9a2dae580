//! The markdown tables of `read-path`: the targets with PASS/FAIL, then
//! the percentiles of every phase.

use super::{
    cpu, h2load,
    load::{Shape, ok_rate},
    open::OPEN_FRACTION,
    pgbench::{self, Pgbench},
};
use crate::{
    Args,
    seed::Seeded,
    stats::{self, Measured, ms},
};

/// GetConversation closed-loop maximum, requests per second.
const MIN_GET_RPS: f64 = 4000.0;
/// Server ÷ pgbench, for the read and for the write.
const MIN_VS_PGBENCH: f64 = 0.6;
/// p99 at 70 % of the maximum, in milliseconds.
const MAX_OPEN_P99_MS: f64 = 10.0;
/// RLS on ÷ RLS off throughput.
const MIN_RLS_RATIO: f64 = 0.9;

/// Everything measured.
#[derive(Debug)]
pub struct Results {
    /// GetConversation on `rls_on`, per shape tried.
    pub shapes: Vec<(Shape, Measured)>,
    /// The index of the best shape in `shapes`.
    pub best: usize,
    /// The open-loop runs, by ascending p99, and their intended rate.
    pub open_runs: Vec<Measured>,
    pub open_rate: f64,
    /// The open loop's fraction of the maximum (the criterion is at
    /// [`OPEN_FRACTION`]).
    pub open_fraction: f64,
    /// The same read from h2load (one conversation), when installed.
    pub h2: Option<h2load::H2load>,
    /// RLS on and off, measured alternately (on, off, off, on).
    pub get_on_paired: Measured,
    pub get_off: Measured,
    pub add: Measured,
    pub pg_get: Pgbench,
    /// pgbench's read on the RLS-off copy.
    pub pg_get_off: Pgbench,
    pub pg_add: Pgbench,
    pub rls_tables: usize,
    /// CPU time per call, by phase.
    pub cpu: Vec<(String, cpu::PerCall)>,
}

impl Results {
    /// The open-loop run with the median p99: it stands for the phase.
    pub fn open(&self) -> &Measured {
        &self.open_runs[self.open_runs.len() / 2]
    }

    pub fn best(&self) -> (Shape, &Measured) {
        let (shape, m) = &self.shapes[self.best];
        (*shape, m)
    }
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}

fn quotient(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// A figure is only a pass when every call of its phase succeeded.
fn clean(m: &Measured) -> bool {
    m.stats.errors() == 0 && m.stats.wrong == 0
}

pub fn table(args: &Args, seeded: &Seeded, r: &Results, pg: &str) {
    let (shape, best) = r.best();
    let get = ok_rate(best);
    // The maximum is the better of the two clients (h2load only when every
    // request succeeded).
    let h2 = r.h2.filter(|h| h.failed == 0 && h.succeeded > 0);
    let max = h2.map_or(get, |h| h.rps.max(get));
    let max_vs_pg = quotient(max, r.pg_get.tps);
    let get_vs_pg = quotient(get, r.pg_get.tps);
    let p99 = r.open().q(0.99) as f64 / 1000.0;
    let (on, off) = (ok_rate(&r.get_on_paired), ok_rate(&r.get_off));
    let rls = quotient(on, off);
    let add = ok_rate(&r.add);
    let add_vs_pg = quotient(add, r.pg_add.tps);
    let secs = args.duration.as_secs();
    println!(
        "\n### Read path: `ochre-bench read-path`\n\n\
         The `ochre` release binary in its own process (`ochre serve`, app and service pools \
         of {pool}), the load generator in another, over loopback HTTP/2; pgbench (`-n -M \
         prepared -c {c} -j {j}`, as `ochre_app`) on the same cluster and database in the same \
         run; both reach Postgres over {transport}. The caller is an agent of an org of {n} customers with one conversation each, \
         among {tenants} orgs seeded alike; each call picks a random conversation of that org. \
         {secs} s per phase after a {w} s warm-up. Closed loop: {inflight} requests in flight, best of \
         {shapes} shapes ({best_shape}). {machine}; PostgreSQL {pg}.\n",
        pool = pgbench::CLIENTS,
        transport = match args.tcp {
            true => "loopback TCP (`--transport tcp`)",
            false => "the cluster's Unix socket",
        },
        c = pgbench::CLIENTS,
        j = pgbench::THREADS,
        n = seeded.main.conversations.len(),
        tenants = 1 + seeded.others.len(),
        w = args.warmup.as_secs(),
        shapes = r.shapes.len(),
        best_shape = shape.label(),
        inflight = shape.in_flight(),
        machine = stats::machine(),
    );
    let h2_cell = r.h2.map_or("not installed".to_owned(), |h| {
        format!(
            "{:.0} (mean {:.2} ms, {} failed)",
            h.rps, h.mean_ms, h.failed
        )
    });
    let rows: Vec<(String, Vec<String>)> = vec![
        (
            "GetConversation, closed loop, tonic client (rps)".to_owned(),
            vec![format!("{get:.0}"), "—".to_owned(), "—".to_owned()],
        ),
        (
            "GetConversation, closed loop, h2load client (rps)".to_owned(),
            vec![h2_cell, "—".to_owned(), "—".to_owned()],
        ),
        (
            "GetConversation, closed-loop max (rps)".to_owned(),
            vec![
                format!("{max:.0}"),
                format!("≥ {MIN_GET_RPS:.0}"),
                verdict(max >= MIN_GET_RPS && clean(best)).to_owned(),
            ],
        ),
        (
            "pgbench, same read transaction (tps)".to_owned(),
            vec![
                format!("{:.0}", r.pg_get.tps),
                "—".to_owned(),
                "—".to_owned(),
            ],
        ),
        (
            "GetConversation max ÷ pgbench".to_owned(),
            vec![
                format!("{max_vs_pg:.2}"),
                format!("≥ {MIN_VS_PGBENCH}"),
                verdict(max_vs_pg >= MIN_VS_PGBENCH && clean(best)).to_owned(),
            ],
        ),
        (
            "GetConversation (tonic client) ÷ pgbench".to_owned(),
            vec![format!("{get_vs_pg:.2}"), "—".to_owned(), "—".to_owned()],
        ),
        (
            format!(
                "p99 at {:.0} % of max, open loop (ms; median of {} runs: {}; {:.0}/s intended, {:.0}/s achieved)",
                r.open_fraction * 100.0,
                r.open_runs.len(),
                r.open_runs
                    .iter()
                    .map(|m| format!("{:.2}", m.q(0.99) as f64 / 1000.0))
                    .collect::<Vec<_>>()
                    .join(", "),
                r.open_rate,
                ok_rate(r.open())
            ),
            vec![
                format!("{p99:.2}"),
                format!("≤ {MAX_OPEN_P99_MS} (at {:.0} %)", OPEN_FRACTION * 100.0),
                if (r.open_fraction - OPEN_FRACTION).abs() < 1e-9 {
                    verdict(p99 <= MAX_OPEN_P99_MS && r.open_runs.iter().all(clean)).to_owned()
                } else {
                    "— (another load)".to_owned()
                },
            ],
        ),
        (
            "GetConversation, RLS on and off alternating (rps)".to_owned(),
            vec![
                format!("{on:.0} on, {off:.0} off"),
                "—".to_owned(),
                "—".to_owned(),
            ],
        ),
        (
            "pgbench's read, RLS on ÷ RLS off (tps)".to_owned(),
            vec![
                format!(
                    "{:.0} / {:.0} = {:.2}",
                    r.pg_get.tps,
                    r.pg_get_off.tps,
                    quotient(r.pg_get.tps, r.pg_get_off.tps)
                ),
                "—".to_owned(),
                "—".to_owned(),
            ],
        ),
        (
            "RLS on ÷ RLS off throughput".to_owned(),
            vec![
                format!("{rls:.2}"),
                format!("≥ {MIN_RLS_RATIO}"),
                verdict(rls >= MIN_RLS_RATIO && clean(&r.get_on_paired) && clean(&r.get_off))
                    .to_owned(),
            ],
        ),
        (
            "AddMessage, closed-loop max (rps)".to_owned(),
            vec![format!("{add:.0}"), "—".to_owned(), "—".to_owned()],
        ),
        (
            "pgbench, same write transaction (tps)".to_owned(),
            vec![
                format!("{:.0}", r.pg_add.tps),
                "—".to_owned(),
                "—".to_owned(),
            ],
        ),
        (
            "AddMessage ÷ pgbench".to_owned(),
            vec![
                format!("{add_vs_pg:.2}"),
                format!("≥ {MIN_VS_PGBENCH}"),
                verdict(add_vs_pg >= MIN_VS_PGBENCH && clean(&r.add)).to_owned(),
            ],
        ),
    ];
    stats::print_table(&["value", "target", "result"], &rows);
    println!(
        "\nRLS off: row-level security disabled and un-forced on all {} tables that had it \
         (every query still filters on the verified org, bound as a parameter).\n\n\
         #### Percentiles (every call, ms)\n",
        r.rls_tables
    );
    let mut header: Vec<String> = r
        .shapes
        .iter()
        .map(|(s, _)| format!("Get {}", s.label()))
        .collect();
    header.extend(
        ["Get open loop", "Get RLS off", "AddMessage"]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut phases: Vec<&Measured> = r.shapes.iter().map(|(_, m)| m).collect();
    phases.extend([r.open(), &r.get_off, &r.add]);
    stats::print_table(&header, &stats::rows(&phases));
    println!(
        "\npgbench: read {:.0} tps, latency average {:.3} ms, {} transactions, {} failed; \
         write {:.0} tps, latency average {:.3} ms, {} transactions, {} failed. \
         Open loop p50 {} ms, p99 {} ms.",
        r.pg_get.tps,
        r.pg_get.latency_ms,
        r.pg_get.transactions,
        r.pg_get.failed,
        r.pg_add.tps,
        r.pg_add.latency_ms,
        r.pg_add.transactions,
        r.pg_add.failed,
        ms(r.open().q(0.50)),
        ms(r.open().q(0.99)),
    );
    println!(
        "\n#### CPU time per call (µs; from /proc: the server process, every \
         process of the cluster, and the load generator with its children)\n"
    );
    let rows: Vec<(String, Vec<String>)> = r
        .cpu
        .iter()
        .map(|(phase, c)| {
            (
                phase.clone(),
                vec![
                    format!("{:.0}", c.server_us),
                    format!("{:.0}", c.postgres_us),
                    format!("{:.0}", c.generator_us),
                    format!("{:.0}", c.server_us + c.postgres_us + c.generator_us),
                ],
            )
        })
        .collect();
    stats::print_table(&["server", "postgres", "load generator", "total"], &rows);
}
