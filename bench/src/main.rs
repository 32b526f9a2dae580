//! `ochre-bench`: a load generator with latency percentiles (not a test).
//!
//! Each scenario starts the real server against the shared test cluster,
//! seeds what it needs through the real RPCs, then runs duration-bounded
//! phases of `C` concurrent workers over loopback gRPC and prints the
//! percentiles of each phase and a markdown table:
//!
//! * `login-flood`: GetOrg latency alone, then under a flood of logins;
//! * `conversations`: GetConversation and AddMessage on a seeded org among
//!   other tenants, and the same read on a copy of the database with
//!   row-level security disabled;
//! * `vault`: GetIntegrationToken (the audited decrypting read), and a check
//!   that every successful read left exactly one audit row.
//! * `webhook-verify`: the CPU cost of webhook signature verification per
//!   provider against a raw HMAC-SHA256 of the same body (no server);
//! * `webhook-ingest`: signed GitHub deliveries over HTTP until committed,
//!   then a storm of one duplicate delivery, and the rows stored;
//! * `read-path`: the targets for the request path, with the `ochre`
//!   binary as a separate server process: GetConversation's closed-loop
//!   maximum and its p99 at 70 % of it (open loop), RLS on ÷ off, and
//!   GetConversation and AddMessage against pgbench running the same
//!   transactions on the same cluster.
//! * `guard`: the input guard on the public labelled data (agentdojo,
//!   spikee; no server): recall per attack set, false positives on benign
//!   mail, and the time per screening.
//!
//! Except in `read-path`, the server runs on its own tokio runtime, the load
//! on another, in one process: they share the machine's cores, as a
//! co-located client would.

#![allow(clippy::print_stdout)]

mod conversations;
mod guard;
mod login_flood;
mod read_path;
mod seed;
mod server;
mod stats;
mod vault;
mod webhook_ingest;
mod webhook_load;
mod webhook_signed;
mod webhook_verify;

use std::time::Duration;

use anyhow::{Context as _, bail};

const USAGE: &str = "usage: ochre-bench SCENARIO [--duration SECS] [--warmup SECS] [--workers C] \
                     [--flood F] [--customers N] [--deliveries N] [--duplicates N] \
                     [--transport socket|tcp]\n\
                     scenarios and their defaults:\n  \
                     login-flood    --duration 10 --warmup 2 --workers 16 --flood 32\n  \
                     conversations  --duration 8 --warmup 2 --workers 16 --customers 200\n  \
                     vault          --duration 8 --warmup 2 --workers 16\n  \
                     webhook-verify (CPU only, no server; ignores the flags)\n  \
                     guard          (the input guard on agentdojo + spikee; no server)\n  \
                     webhook-ingest --workers 32 --deliveries 5000 --duplicates 1000\n  \
                     read-path      --duration 8 --warmup 2 --customers 200 --transport socket \
                     (ochre as a child process; 32 in flight; vs pgbench; Postgres over \
                     the cluster's Unix socket, or loopback tcp)";

/// `OCHRE_DB_MAX_CONNECTIONS` of every server the benchmark starts: the
/// production default (the app and the service pools are each this large),
/// not the small pools the test suite uses to run many servers at once.
pub const POOL: u32 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    LoginFlood,
    Conversations,
    Vault,
    WebhookVerify,
    WebhookIngest,
    ReadPath,
    Guard,
}

#[derive(Debug, Clone, Copy)]
pub struct Args {
    scenario: Scenario,
    pub duration: Duration,
    pub warmup: Duration,
    pub workers: usize,
    /// `login-flood`: Login workers in phase B.
    pub flood: usize,
    /// `conversations`: customers (each with one conversation) per org.
    pub customers: usize,
    /// `read-path`: how the server and pgbench reach Postgres (`true`:
    /// loopback TCP; `false`, the default: the cluster's Unix socket).
    pub tcp: bool,
    /// `webhook-ingest`: distinct deliveries in the main phase.
    pub deliveries: usize,
    /// `webhook-ingest`: sends of one delivery in the duplicate storm.
    pub duplicates: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let scenario = match it.next().as_deref() {
        Some("login-flood") => Scenario::LoginFlood,
        Some("conversations") => Scenario::Conversations,
        Some("vault") => Scenario::Vault,
        Some("webhook-verify") => Scenario::WebhookVerify,
        Some("webhook-ingest") => Scenario::WebhookIngest,
        Some("read-path") => Scenario::ReadPath,
        Some("guard") => Scenario::Guard,
        Some("-h" | "--help") => {
            println!("{USAGE}");
            std::process::exit(0);
        }
        other => bail!("unknown or missing scenario {other:?}\n{USAGE}"),
    };
    let login = scenario == Scenario::LoginFlood;
    let ingest = scenario == Scenario::WebhookIngest;
    let mut args = Args {
        scenario,
        duration: Duration::from_secs(if login { 10 } else { 8 }),
        warmup: Duration::from_secs(2),
        workers: if ingest { 32 } else { 16 },
        flood: 32,
        customers: 200,
        deliveries: 5000,
        duplicates: 1000,
        tcp: false,
    };
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        if flag == "--transport" && scenario == Scenario::ReadPath {
            args.tcp = match value.as_str() {
                "socket" => false,
                "tcp" => true,
                other => bail!("--transport: socket or tcp, not {other}"),
            };
            continue;
        }
        let number: u64 = value
            .parse()
            .with_context(|| format!("{flag}: not a number: {value}"))?;
        match flag.as_str() {
            // Every phase is bounded: at most 10 minutes.
            "--duration" => args.duration = Duration::from_secs(number.clamp(1, 600)),
            "--warmup" => args.warmup = Duration::from_secs(number.min(600)),
            "--workers" => args.workers = usize::try_from(number.clamp(1, 4096))?,
            "--flood" if login => args.flood = usize::try_from(number.clamp(1, 4096))?,
            "--customers" if matches!(scenario, Scenario::Conversations | Scenario::ReadPath) => {
                args.customers = usize::try_from(number.clamp(1, 100_000))?;
            }
            "--deliveries" if ingest => {
                args.deliveries = usize::try_from(number.clamp(1, 1_000_000))?;
            }
            "--duplicates" if ingest => {
                args.duplicates = usize::try_from(number.clamp(1, 1_000_000))?;
            }
            _ => bail!("unknown flag {flag} for this scenario\n{USAGE}"),
        }
    }
    Ok(args)
}

/// The server against a fresh migrated database of the shared test cluster,
/// with production-sized pools.
pub async fn spawn_app() -> ochre_tests::TestApp {
    ochre_tests::spawn_app_with(ochre_tests::AppOptions {
        db_max_connections: POOL,
        ..Default::default()
    })
    .await
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // The server on its own runtime, so the load's tasks never queue behind
    // the server's on one scheduler (they still share the CPUs).
    let server = tokio::runtime::Builder::new_multi_thread()
        .thread_name("ochre-server")
        .enable_all()
        .build()?;
    let client = tokio::runtime::Builder::new_multi_thread()
        .thread_name("ochre-bench")
        .enable_all()
        .build()?;
    let handle = server.handle().clone();
    client.block_on(async {
        match args.scenario {
            Scenario::LoginFlood => login_flood::run(&args, &handle).await,
            Scenario::Conversations => conversations::run(&args, &handle).await,
            Scenario::Vault => vault::run(&args, &handle).await,
            Scenario::WebhookVerify => webhook_verify::run(),
            Scenario::WebhookIngest => webhook_ingest::run(&args, &handle).await,
            Scenario::ReadPath => read_path::run(&args, &handle).await,
            Scenario::Guard => guard::run(),
        }
    })
}
