//! `ochre-bench`: a load generator with latency percentiles (not a test).
//!
//! `ochre-bench login-flood` starts the real server against the shared test
//! cluster (`ochre_tests::spawn_app`), signs up one user with one org, then
//! runs two duration-bounded phases over loopback gRPC:
//!
//! * A: `C` workers call `OrgService.GetOrg` in a loop (the baseline);
//! * B: the same load plus `F` workers calling `AuthService.Login` with the
//!   correct password (argon2id on a pool of 4 permits; beyond that the server
//!   answers RESOURCE_EXHAUSTED at once).
//!
//! It prints each phase's percentiles and a markdown table comparing them.
//! The server runs on its own tokio runtime, the load on another, in one
//! process: they share the machine's cores, as a co-located client would.

#![allow(clippy::print_stdout)]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use ochre_sdk::v1::{
    GetOrgRequest, LoginRequest, auth_service_client::AuthServiceClient,
    org_service_client::OrgServiceClient,
};
use ochre_tests::identity::{self, Session, code_of, with_auth};
use tonic::{Code, transport::Channel};

const USAGE: &str = "usage: ochre-bench login-flood [--duration SECS] [--workers C] \
                     [--flood F] [--warmup SECS]\n  defaults: --duration 10 --workers 16 \
                     --flood 32 --warmup 2";

#[derive(Debug, Clone, Copy)]
struct Args {
    duration: Duration,
    warmup: Duration,
    workers: usize,
    flood: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(2),
        workers: 16,
        flood: 32,
    };
    let mut it = std::env::args().skip(1);
    match it.next().as_deref() {
        Some("login-flood") => {}
        Some("-h" | "--help") => {
            println!("{USAGE}");
            std::process::exit(0);
        }
        other => bail!("unknown or missing scenario {other:?}\n{USAGE}"),
    }
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        let number: u64 = value
            .parse()
            .with_context(|| format!("{flag}: not a number: {value}"))?;
        match flag.as_str() {
            "--duration" => args.duration = Duration::from_secs(number.max(1)),
            "--warmup" => args.warmup = Duration::from_secs(number),
            "--workers" => args.workers = usize::try_from(number.max(1))?,
            "--flood" => args.flood = usize::try_from(number.max(1))?,
            _ => bail!("unknown flag {flag}\n{USAGE}"),
        }
    }
    Ok(args)
}

/// Latencies (microseconds) and outcomes of one kind of call.
#[derive(Debug, Clone)]
struct Stats {
    /// Every call, whatever its outcome.
    all: Histogram<u64>,
    /// Successful calls only.
    ok: Histogram<u64>,
    codes: BTreeMap<String, u64>,
}

impl Stats {
    fn new() -> Self {
        let histogram = || Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds");
        Stats {
            all: histogram(),
            ok: histogram(),
            codes: BTreeMap::new(),
        }
    }

    fn record(&mut self, code: Code, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.all.saturating_record(micros);
        if code == Code::Ok {
            self.ok.saturating_record(micros);
        }
        *self.codes.entry(format!("{code:?}")).or_default() += 1;
    }

    fn merge(&mut self, other: &Stats) {
        self.all.add(&other.all).expect("same bounds");
        self.ok.add(&other.ok).expect("same bounds");
        for (code, n) in &other.codes {
            *self.codes.entry(code.clone()).or_default() += n;
        }
    }

    fn count(&self, code: &str) -> u64 {
        self.codes.get(code).copied().unwrap_or(0)
    }

    fn errors(&self) -> u64 {
        self.all.len() - self.count("Ok")
    }
}

/// Milliseconds, from a histogram value in microseconds.
fn ms(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}

fn describe(name: &str, h: &Histogram<u64>, secs: f64) -> String {
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

/// What one phase measured.
#[derive(Debug)]
struct Phase {
    secs: f64,
    get_org: Stats,
    login: Stats,
}

async fn get_org_worker(channel: Channel, token: String, org: String, until: Instant) -> Stats {
    let mut client = OrgServiceClient::new(channel);
    let mut stats = Stats::new();
    while Instant::now() < until {
        let start = Instant::now();
        let result = client
            .get_org(with_auth(GetOrgRequest {}, &token, Some(&org)))
            .await;
        stats.record(code_of(&result), start.elapsed());
    }
    stats
}

async fn login_worker(channel: Channel, email: String, password: String, until: Instant) -> Stats {
    let mut client = AuthServiceClient::new(channel);
    let mut stats = Stats::new();
    while Instant::now() < until {
        let start = Instant::now();
        let request = LoginRequest {
            email: email.clone(),
            password: password.clone(),
        };
        let result = client.login(request).await;
        let code = code_of(&result);
        stats.record(code, start.elapsed());
        if code == Code::ResourceExhausted {
            // A real client backs off a little; a zero-delay retry loop would
            // only measure how fast this process can spin.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    stats
}

/// Runs `workers` GetOrg loops and `flood` Login loops for `duration`.
async fn run_phase(
    channel: &Channel,
    session: &Session,
    org: &str,
    workers: usize,
    flood: usize,
    duration: Duration,
) -> anyhow::Result<Phase> {
    let start = Instant::now();
    let until = start + duration;
    let mut get_orgs = Vec::with_capacity(workers);
    for _ in 0..workers {
        let task = get_org_worker(
            channel.clone(),
            session.access_token.clone(),
            org.to_owned(),
            until,
        );
        get_orgs.push(tokio::spawn(task));
    }
    let mut logins = Vec::with_capacity(flood);
    for _ in 0..flood {
        let task = login_worker(
            channel.clone(),
            session.email.clone(),
            session.password.clone(),
            until,
        );
        logins.push(tokio::spawn(task));
    }
    let mut phase = Phase {
        secs: 0.0,
        get_org: Stats::new(),
        login: Stats::new(),
    };
    for task in get_orgs {
        phase.get_org.merge(&task.await.context("GetOrg worker")?);
    }
    for task in logins {
        phase.login.merge(&task.await.context("Login worker")?);
    }
    phase.secs = start.elapsed().as_secs_f64();
    Ok(phase)
}

fn report(label: &str, phase: &Phase) {
    println!("\n## {label} ({:.1} s)", phase.secs);
    println!(
        "{}",
        describe("GetOrg (all)", &phase.get_org.all, phase.secs)
    );
    println!("  GetOrg outcomes: {:?}", phase.get_org.codes);
    if !phase.login.all.is_empty() {
        println!("{}", describe("Login OK", &phase.login.ok, phase.secs));
        let mut rejected = phase.login.all.clone();
        rejected.subtract(&phase.login.ok).expect("ok is a subset");
        println!("{}", describe("Login not OK", &rejected, phase.secs));
        println!("  Login outcomes: {:?}", phase.login.codes);
    }
}

fn table(args: &Args, a: &Phase, b: &Phase) {
    let q = |p: &Phase, q: f64| ms(p.get_org.all.value_at_quantile(q));
    let rate = |n: u64, p: &Phase| format!("{:.1}", n as f64 / p.secs);
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
    println!(
        "\n### Login flood vs GetOrg latency\n\n\
         `ochre-bench login-flood`: {} GetOrg workers, {} s per phase; phase B adds {} \
         Login workers (correct password). {} build, nproc={cores} ({cpu}); server and \
         load generator in one process over loopback; DB pools of 16 connections (the default).\n",
        args.workers,
        args.duration.as_secs(),
        args.flood,
        profile,
    );
    println!("| | A: GetOrg only | B: GetOrg + login flood |");
    println!("|---|---:|---:|");
    let rows = [
        (
            "GetOrg calls/s",
            rate(a.get_org.all.len(), a),
            rate(b.get_org.all.len(), b),
        ),
        ("GetOrg p50 (ms)", q(a, 0.50), q(b, 0.50)),
        ("GetOrg p90 (ms)", q(a, 0.90), q(b, 0.90)),
        ("GetOrg p99 (ms)", q(a, 0.99), q(b, 0.99)),
        (
            "GetOrg max (ms)",
            ms(a.get_org.all.max()),
            ms(b.get_org.all.max()),
        ),
        (
            "GetOrg errors",
            a.get_org.errors().to_string(),
            b.get_org.errors().to_string(),
        ),
        ("Login OK/s", "—".to_owned(), rate(b.login.count("Ok"), b)),
        (
            "Login RESOURCE_EXHAUSTED/s",
            "—".to_owned(),
            rate(b.login.count("ResourceExhausted"), b),
        ),
        (
            "Login OK p50 / p99 (ms)",
            "—".to_owned(),
            format!(
                "{} / {}",
                ms(b.login.ok.value_at_quantile(0.50)),
                ms(b.login.ok.value_at_quantile(0.99))
            ),
        ),
    ];
    for (name, x, y) in rows {
        println!("| {name} | {x} | {y} |");
    }
}

async fn bench(args: Args, app: &ochre_tests::TestApp, addr: SocketAddr) -> anyhow::Result<()> {
    let session = identity::signup_and_login(app, &identity::unique_email()).await;
    let org = identity::create_org(app, &session, "Bench Org").await;
    identity::get_org(app, &session.access_token, Some(&org))
        .await
        .context("GetOrg before the benchmark")?;
    // The load's own connection, driven by this (client) runtime.
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await
        .context("connect to the server")?;
    println!(
        "server at {addr}; warm-up {} s, then 2 phases of {} s",
        args.warmup.as_secs(),
        args.duration.as_secs()
    );
    if !args.warmup.is_zero() {
        run_phase(&channel, &session, &org, args.workers, 0, args.warmup).await?;
    }
    let a = run_phase(&channel, &session, &org, args.workers, 0, args.duration).await?;
    report("A: GetOrg only", &a);
    let b = run_phase(
        &channel,
        &session,
        &org,
        args.workers,
        args.flood,
        args.duration,
    )
    .await?;
    report("B: GetOrg + login flood", &b);
    table(&args, &a, &b);
    Ok(())
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
    println!("starting the server and the test cluster...");
    // Production-like pools (the default OCHRE_DB_MAX_CONNECTIONS), not the
    // small ones the test suite uses to run many servers at once.
    let app = server.block_on(ochre_tests::spawn_app_with(ochre_tests::AppOptions {
        db_max_connections: 16,
        ..Default::default()
    }));
    let addr = app.addr;
    let result = client.block_on(bench(args, &app, addr));
    server.block_on(app.shutdown()).context("server shutdown")?;
    result
}
