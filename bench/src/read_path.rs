//! `ochre-bench read-path`: the request path against the targets,
//! with the server in its own process and pgbench as the yardstick, all in
//! one run on the same test cluster.
//!
//! 1. Seeding as in `conversations`: an in-process server on a fresh
//!    database, 4 orgs × 200 customers (`--customers`), one conversation
//!    each with 3 messages; that server is shut down before anything is
//!    measured, and the database is `VACUUM ANALYZE`d. Two copies
//!    (`CREATE DATABASE … TEMPLATE`): `rls_on` as
//!    migrated, `rls_off` with row-level security disabled and un-forced on
//!    every table; both `VACUUM ANALYZE`d.
//! 2. The release `ochre` binary (built first; the one next to this
//!    executable) runs as a child process, `ochre serve`, with the
//!    configuration `BenchServer::start` builds (but pools of as many
//!    connections as pgbench has clients, the seeding server's secrets so the agent's token is
//!    valid), one at a time, stopped with SIGTERM. The bench process only
//!    generates load, over loopback HTTP/2.
//!    The server and pgbench reach Postgres the same way: over the
//!    cluster's Unix socket (as `ochre serve` does with its embedded
//!    cluster), or over loopback TCP with `--transport tcp`.
//! 3. On `rls_on`: a warm-up, then the closed-loop maximum of
//!    GetConversation (the seeded agent, a random conversation of the main
//!    org per call) with 32 requests in flight in each of [`load::SHAPES`]
//!    (connections × workers), `--duration` each; the best shape is kept.
//!    Then an open-loop fixed-rate schedule at 70 % of the maximum (that
//!    shape's, or h2load's when it did better): a warm-up of `--warmup`,
//!    then `--duration`, latency counted from each call's intended start,
//!    three times: the median p99 is the figure (every run's is printed).
//!    h2load (a C HTTP/2 client, lighter than tonic; see [`h2load`]) runs
//!    the same read with 32 in flight when it is installed.
//! 4. pgbench (`-n -M prepared -c 8 -j 2`) as `ochre_app` on `rls_on`
//!    running the transaction the server runs for GetConversation: BEGIN,
//!    `verify_session(session, proof, org, ip)` with the agent's session and
//!    proof decoded from its access token, the store's SELECT of a random
//!    conversation, COMMIT (a warm-up run, then `--duration`).
//! 5. A server on `rls_off`: warm-up, then the same closed-loop read with
//!    the best shape: RLS on ÷ off.
//! 6. A fresh server on `rls_on`: warm-up reads, then AddMessage (a 200-byte
//!    outbound reply by the agent to a random conversation) closed-loop
//!    with the best shape; then pgbench running the same write transaction
//!    (identity call, then the store's single UPDATE conversations + INSERT
//!    messages statement).
//! 7. One markdown table: each figure, its target, PASS or FAIL. Rates
//!    count successful calls only; errors are listed.

mod child;
mod cpu;
mod h2load;
mod load;
mod pgbench;
mod raw;
mod report;

use std::{sync::Arc, time::Instant};

use anyhow::Context as _;
use ochre_tests::cluster::TestCluster;
use tokio::runtime::Handle;

use self::{
    child::ServerChild,
    load::{Rpc, Shape, Target},
    pgbench::{Caller, Pgbench},
};
use crate::{
    Args,
    seed::{self, Seeded},
    server::{self, Secrets},
    stats::{self, Measured},
};

/// Orgs seeded: the one under load and 3 other tenants.
const TENANTS: usize = 4;

/// The open-loop rate, as a fraction of the closed-loop maximum.
const OPEN_FRACTION: f64 = 0.7;

/// Open-loop runs: on a shared 2-core machine one run's tail can be a
/// neighbour's pause, so the median of three runs' p99 is the figure, and
/// every run's p99 is printed beside it.
const OPEN_RUNS: usize = 3;

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
}

impl Results {
    pub fn best(&self) -> (Shape, &Measured) {
        let (shape, m) = &self.shapes[self.best];
        (*shape, m)
    }
}

/// The databases and what the load needs.
struct Setup<'a> {
    bin: std::path::PathBuf,
    cluster: &'a TestCluster,
    secrets: Secrets,
    target: Target,
    caller: Caller,
    on: String,
    off: String,
    /// The cluster's postmaster (for CPU per call).
    postmaster: u32,
    /// Postgres over loopback TCP instead of the cluster's Unix socket.
    tcp: bool,
}

fn step(start: Instant, what: &str) {
    println!("[{:6.1} s] {what}", start.elapsed().as_secs_f64());
}

/// Runs `f` against a server process on `db`, then stops the process.
async fn with_server<T>(
    s: &Setup<'_>,
    db: &str,
    f: impl AsyncFnOnce(&ServerChild) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let server = ServerChild::start(&s.bin, s.cluster, s.tcp, db, &s.secrets).await?;
    let result = f(&server).await;
    // A failed stop must not throw away what was measured.
    if let Err(e) = server.stop() {
        println!("warning: {e:#}");
    }
    result
}

/// Warm-up reads with the first shape (not counted).
async fn warm_up(args: &Args, server: &ServerChild, t: &Target) -> anyhow::Result<()> {
    if !args.warmup.is_zero() {
        let shape = load::SHAPES[0];
        let channels = server.channels(shape.channels).await?;
        load::closed(&channels, shape, t, Rpc::Get, args.warmup).await?;
    }
    Ok(())
}

/// The closed loop of `rpc` with `shape` for `d`, and its CPU per call.
async fn closed_with_cpu(
    s: &Setup<'_>,
    server: &ServerChild,
    shape: Shape,
    rpc: Rpc,
    d: std::time::Duration,
) -> anyhow::Result<(Measured, cpu::PerCall)> {
    let channels = server.channels(shape.channels).await?;
    let before = cpu::Snapshot::take(server.pid(), s.postmaster);
    let m = load::closed(&channels, shape, &s.target, rpc, d).await?;
    let after = cpu::Snapshot::take(server.pid(), s.postmaster);
    let used = before.per_call(&after, load::ok_rate(&m));
    Ok((m, used))
}

async fn measure(
    args: &Args,
    s: &Setup<'_>,
    rls_tables: usize,
    start: Instant,
) -> anyhow::Result<Results> {
    let d = args.duration;
    step(start, "GetConversation closed loop, RLS on (ochre process)");
    let mut cpu = Vec::new();
    let (shapes, h2, mut open_runs, open_rate) = with_server(s, &s.on, async |server| {
        warm_up(args, server, &s.target).await?;
        let mut shapes = Vec::new();
        for shape in load::SHAPES {
            let (m, used) = closed_with_cpu(s, server, shape, Rpc::Get, d).await?;
            cpu.push((format!("Get {}", shape.label()), used));
            stats::report(&shape.label(), "GetConversation", &m);
            shapes.push((shape, m));
        }
        let h2 = match h2load::binary() {
            Some(bin) => {
                step(start, "GetConversation closed loop from h2load");
                let id = s.target.ids.first().context("a conversation")?.clone();
                let check = server.channels(1).await?;
                load::check_get(check[0].clone(), &s.target, &id).await?;
                let (port, t, i) = (server.port, s.target.clone(), id.clone());
                let task = tokio::task::spawn_blocking(move || h2load::run(&bin, port, &t, &i, d));
                // h2load warms up for a second before it counts.
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let before = cpu::Snapshot::take(server.pid(), s.postmaster);
                let h = task.await.context("h2load task")??;
                let used = before.per_call(&cpu::Snapshot::take(server.pid(), s.postmaster), h.rps);
                cpu.push(("Get h2load".to_owned(), used));
                load::check_get(check[0].clone(), &s.target, &id).await?;
                println!("  h2load: {h:?}");
                Some(h)
            }
            None => {
                println!("  h2load not installed (apt-get install nghttp2-client): skipped");
                None
            }
        };
        // The maximum the report states (`report::table`): the best
        // shape, or h2load when every one of its calls succeeded.
        let h2_max = h2
            .as_ref()
            .filter(|h| h.failed == 0 && h.succeeded > 0)
            .map_or(0.0, |h| h.rps);
        let max = shapes
            .iter()
            .map(|(_, m)| load::ok_rate(m))
            .fold(h2_max, f64::max);
        let rate = max * OPEN_FRACTION;
        let raws = raw::connect(server.port, load::SHAPES[0].channels).await?;
        // Its own warm-up, as every closed-loop phase has: the new
        // connections' first calls are not the server's steady state.
        if !args.warmup.is_zero() {
            step(start, &format!("open loop at {rate:.0}/s, warm-up"));
            load::open(&raws, &s.target, rate, args.warmup).await?;
        }
        let mut runs = Vec::with_capacity(OPEN_RUNS);
        for n in 1..=OPEN_RUNS {
            step(
                start,
                &format!("open loop at {rate:.0}/s, run {n} of {OPEN_RUNS}"),
            );
            let before = cpu::Snapshot::take(server.pid(), s.postmaster);
            let run = load::open(&raws, &s.target, rate, d).await?;
            let used = before.per_call(
                &cpu::Snapshot::take(server.pid(), s.postmaster),
                load::ok_rate(&run),
            );
            cpu.push((format!("Get open loop, run {n}"), used));
            stats::report(&format!("open loop, run {n}"), "GetConversation", &run);
            runs.push(run);
        }
        Ok((shapes, h2, runs, rate))
    })
    .await?;
    let best = (0..shapes.len())
        .max_by(|&a, &b| load::ok_rate(&shapes[a].1).total_cmp(&load::ok_rate(&shapes[b].1)))
        .context("at least one shape")?;
    let shape = shapes[best].0;

    step(start, "pgbench: the GetConversation transaction");
    let read = s.caller.read();
    pgbench::check(s.cluster, &s.on, &read).await?;
    let script = s.caller.script(&read);
    if !args.warmup.is_zero() {
        pgbench::run(s.cluster, s.tcp, &s.on, &script, args.warmup).await?;
    }
    let before = cpu::Snapshot::take(0, s.postmaster);
    let pg_get = pgbench::run(s.cluster, s.tcp, &s.on, &script, d).await?;
    let used = before.per_call(&cpu::Snapshot::take(0, s.postmaster), pg_get.tps);
    cpu.push(("pgbench read".to_owned(), used));
    println!("  pgbench read: {pg_get:?}");
    // The same on the RLS-off copy: what row-level security costs
    // Postgres alone, with no server in between.
    pgbench::check(s.cluster, &s.off, &read).await?;
    let before = cpu::Snapshot::take(0, s.postmaster);
    let pg_get_off = pgbench::run(s.cluster, s.tcp, &s.off, &script, d).await?;
    let used = before.per_call(&cpu::Snapshot::take(0, s.postmaster), pg_get_off.tps);
    cpu.push(("pgbench read, RLS off".to_owned(), used));
    println!("  pgbench read, RLS off: {pg_get_off:?}");

    step(
        start,
        "GetConversation closed loop, RLS on and off alternating (two ochre processes)",
    );
    // RLS on and off alternate (on, off, off, on; half the duration each)
    // with a server on each database, so a drift of the machine's speed
    // over the minutes of a run weighs on both alike.
    let (get_on_paired, get_off, used) = with_server(s, &s.on, async |on| {
        with_server(s, &s.off, async |off| {
            warm_up(args, on, &s.target).await?;
            warm_up(args, off, &s.target).await?;
            let (mut paired_on, mut paired_off) = (Measured::empty(), Measured::empty());
            let (m, _) = closed_with_cpu(s, on, shape, Rpc::Get, d / 2).await?;
            paired_on.merge(m);
            let (m, used) = closed_with_cpu(s, off, shape, Rpc::Get, d / 2).await?;
            paired_off.merge(m);
            let (m, _) = closed_with_cpu(s, off, shape, Rpc::Get, d / 2).await?;
            paired_off.merge(m);
            let (m, _) = closed_with_cpu(s, on, shape, Rpc::Get, d / 2).await?;
            paired_on.merge(m);
            Ok((paired_on, paired_off, used))
        })
        .await
    })
    .await?;
    cpu.push(("Get RLS off".to_owned(), used));
    stats::report(
        "RLS on, alternating with off",
        "GetConversation",
        &get_on_paired,
    );
    stats::report("RLS off", "GetConversation", &get_off);

    step(start, "AddMessage closed loop, RLS on (ochre process)");
    let (add, used) = with_server(s, &s.on, async |server| {
        warm_up(args, server, &s.target).await?;
        closed_with_cpu(s, server, shape, Rpc::Add, d).await
    })
    .await?;
    cpu.push(("AddMessage".to_owned(), used));
    stats::report("AddMessage", "AddMessage", &add);

    step(start, "pgbench: the AddMessage transaction");
    let write = s.caller.write(&load::body());
    pgbench::check(s.cluster, &s.on, &write).await?;
    let before = cpu::Snapshot::take(0, s.postmaster);
    let pg_add = pgbench::run(s.cluster, s.tcp, &s.on, &s.caller.script(&write), d).await?;
    let used = before.per_call(&cpu::Snapshot::take(0, s.postmaster), pg_add.tps);
    cpu.push(("pgbench write".to_owned(), used));
    println!("  pgbench write: {pg_add:?}");
    open_runs.sort_by_key(|m| m.q(0.99));
    Ok(Results {
        shapes,
        best,
        open_runs,
        open_rate,
        h2,
        get_on_paired,
        get_off,
        add,
        pg_get,
        pg_get_off,
        pg_add,
        rls_tables,
        cpu,
    })
}

/// Analyzes the seeded database, copies it twice, disables RLS on one
/// copy, analyzes both: the number of tables that had RLS.
async fn prepare(
    cluster: &TestCluster,
    source: &str,
    on: &str,
    off: &str,
) -> anyhow::Result<usize> {
    // The seeded source too: autovacuum would otherwise visit its freshly
    // written tables in the middle of a measured phase.
    server::superuser_execute(cluster, source, "VACUUM ANALYZE").await?;
    server::copy_database(cluster, source, on).await?;
    server::copy_database(cluster, source, off).await?;
    let rls_tables = server::disable_rls(cluster, off).await?;
    for db in [on, off] {
        server::superuser_execute(cluster, db, "VACUUM ANALYZE").await?;
    }
    Ok(rls_tables)
}

/// The scenario. `server` hosts only the seeding server; everything
/// measured is served by `ochre` processes.
pub async fn run(args: &Args, server: &Handle) -> anyhow::Result<()> {
    let start = Instant::now();
    step(start, "building the ochre binary");
    let bin = tokio::task::spawn_blocking(child::ochre_binary)
        .await
        .context("build task")??;
    step(start, "starting the seeding server and the test cluster");
    let app = server.spawn(crate::spawn_app()).await.context("spawn")?;
    let (cluster, source, secrets) = (app.cluster, app.database.clone(), Secrets::of(&app));
    step(
        start,
        &format!("seeding {TENANTS} orgs x {} customers", args.customers),
    );
    let seeded = seed::seed(&app, TENANTS, args.customers).await;
    step(start, "seeded; stopping the seeding server");
    server.spawn(app.shutdown()).await?.context("shutdown")?;
    let seeded: Seeded = seeded?;
    let (on, off) = (format!("{source}_rls_on"), format!("{source}_rls_off"));
    step(
        start,
        "copying the database, disabling RLS on one copy, VACUUM ANALYZE",
    );
    let prepared = prepare(cluster, &source, &on, &off).await;
    let results = match prepared {
        Ok(rls_tables) => {
            let setup = Setup {
                bin,
                cluster,
                secrets,
                target: Target {
                    token: seeded.agent.access_token.clone(),
                    org: seeded.main.org.clone(),
                    ids: Arc::new(seeded.main.conversations.clone()),
                },
                caller: Caller::new(
                    &seeded.agent.access_token,
                    &seeded.agent.user_id,
                    &seeded.main.org,
                    &seeded.main.conversations,
                )?,
                on: on.clone(),
                off: off.clone(),
                postmaster: cpu::postmaster(cluster).await?,
                tcp: args.tcp,
            };
            measure(args, &setup, rls_tables, start).await
        }
        Err(e) => Err(e),
    };
    step(start, "dropping the databases");
    for db in [&on, &off, &source] {
        server::drop_database(cluster, db).await?;
    }
    let pg = server::pg_version(cluster).await;
    report::table(args, &seeded, &results?, &pg);
    Ok(())
}
