//! `ochre-bench login-flood`: starts the real server against the shared test
//! cluster (`ochre_tests::spawn_app_with`), signs up one user with one org,
//! then runs two duration-bounded phases over loopback gRPC:
//!
//! * A: `C` workers call `OrgService.GetOrg` in a loop (the baseline);
//! * B: the same load plus `F` workers calling `AuthService.Login` with the
//!   correct password (argon2id on a pool of 4 permits; beyond that the server
//!   answers RESOURCE_EXHAUSTED at once).
//!
//! It prints each phase's percentiles and a markdown table comparing them.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use ochre_sdk::v1::{GetOrgRequest, LoginRequest};
use ochre_tests::{
    clients::{AuthClient, GrpcClient as _, OrgClient},
    identity::{self, Session, code_of, with_auth},
};
use tokio::runtime::Handle;
use tonic::{Code, transport::Channel};

use crate::{
    Args,
    stats::{Stats, describe, machine, ms},
};

/// What one phase measured.
#[derive(Debug)]
struct Phase {
    secs: f64,
    get_org: Stats,
    login: Stats,
}

async fn get_org_worker(channel: Channel, token: String, org: String, until: Instant) -> Stats {
    let mut client = OrgClient::on(channel);
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
    let mut client = AuthClient::on(channel);
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
    println!(
        "\n### Login flood vs GetOrg latency\n\n\
         `ochre-bench login-flood`: {} GetOrg workers, {} s per phase; phase B adds {} \
         Login workers (correct password). {}; server and load generator in one process \
         over loopback; app and service DB pools of {} connections each.\n",
        args.workers,
        args.duration.as_secs(),
        args.flood,
        machine(),
        crate::POOL,
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

async fn bench(args: &Args, app: &ochre_tests::TestApp) -> anyhow::Result<()> {
    let addr = app.addr;
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
    table(args, &a, &b);
    Ok(())
}

/// The scenario: a server on the `server` runtime, the load on this one.
pub async fn run(args: &Args, server: &Handle) -> anyhow::Result<()> {
    println!("starting the server and the test cluster...");
    let app = server
        .spawn(crate::spawn_app())
        .await
        .context("spawn the server")?;
    let result = bench(args, &app).await;
    server
        .spawn(app.shutdown())
        .await
        .context("server task")?
        .context("server shutdown")?;
    result
}
