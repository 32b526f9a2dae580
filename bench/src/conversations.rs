//! `ochre-bench conversations`: GetConversation and AddMessage under
//! concurrency, and the cost of row-level security on the read.
//!
//! 1. A server against a fresh database; 4 orgs seeded with `N` customers
//!    each, one conversation per customer, 3 messages per conversation, so
//!    that RLS has other tenants' rows to skip. The server is shut down.
//! 2. Two copies of the seeded database (`CREATE DATABASE ... TEMPLATE`, as
//!    the superuser): `rls_on` as migrated, `rls_off` with row-level security
//!    disabled and un-forced on every table of schema public. Both are
//!    `VACUUM ANALYZE`d.
//! 3. A server on each copy, both warmed up with reads. Phase A: `C`
//!    workers call GetConversation on random conversations of the main org,
//!    as an agent, for `D` seconds on each copy, in rounds alternating on,
//!    off, off, on. Phase B: AddMessage (a 200-byte outbound reply, as the
//!    agent) for `D` seconds on `rls_on`.

use std::{sync::Arc, time::Instant};

use anyhow::Context as _;
use ochre_sdk::v1::{AddMessageRequest, GetConversationRequest, MessageKind};
use ochre_tests::{
    clients::{ConversationClient, GrpcClient as _},
    cluster::TestCluster,
    identity::{code_of, with_auth},
};
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};
use tokio::runtime::Handle;
use tonic::transport::Channel;

use crate::{
    Args,
    seed::{self, Seeded},
    server::{self, BenchServer, Secrets},
    stats::{self, Measured, Stats, ratio},
};

/// Orgs seeded: the one under load and 3 other tenants.
const TENANTS: usize = 4;

/// Rounds of the GetConversation comparison (each `duration / ROUNDS`).
const ROUNDS: u32 = 2;

/// What the load needs: the agent's token, its org, the org's conversations.
#[derive(Debug, Clone)]
struct Target {
    token: String,
    org: String,
    ids: Arc<Vec<String>>,
}

/// A 200-byte reply body.
fn body() -> String {
    let body = format!(
        "{:-<200}",
        "Thanks for your patience: your order ships today. "
    );
    debug_assert_eq!(body.len(), 200);
    body
}

async fn get_worker(channel: Channel, t: Target, seed: u64, until: Instant) -> Stats {
    let mut client = ConversationClient::on(channel);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stats = Stats::new();
    while Instant::now() < until {
        let id = &t.ids[rng.random_range(0..t.ids.len())];
        let request = GetConversationRequest {
            conversation_id: id.clone(),
        };
        let start = Instant::now();
        let result = client
            .get_conversation(with_auth(request, &t.token, Some(&t.org)))
            .await;
        stats.record(code_of(&result), start.elapsed());
        if let Ok(r) = result
            && r.into_inner().conversation.is_none_or(|c| &c.id != id)
        {
            stats.wrong += 1;
        }
    }
    stats
}

async fn add_worker(channel: Channel, t: Target, seed: u64, until: Instant) -> Stats {
    let mut client = ConversationClient::on(channel);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stats = Stats::new();
    let body = body();
    while Instant::now() < until {
        let id = &t.ids[rng.random_range(0..t.ids.len())];
        let request = AddMessageRequest {
            conversation_id: id.clone(),
            kind: MessageKind::OutboundReply.into(),
            body: body.clone(),
            ..Default::default()
        };
        let start = Instant::now();
        let result = client
            .add_message(with_auth(request, &t.token, Some(&t.org)))
            .await;
        stats.record(code_of(&result), start.elapsed());
        if let Ok(r) = result
            && r.into_inner()
                .message
                .is_none_or(|m| &m.conversation_id != id || m.body.len() != 200)
        {
            stats.wrong += 1;
        }
    }
    stats
}

#[derive(Debug, Clone, Copy)]
enum Rpc {
    Get,
    Add,
}

/// `C` workers calling `rpc` for `duration`.
async fn phase(
    args: &Args,
    channel: &Channel,
    target: &Target,
    rpc: Rpc,
    duration: std::time::Duration,
) -> anyhow::Result<Measured> {
    stats::run_workers(args.workers, duration, |i, until| {
        let (c, t, seed) = (channel.clone(), target.clone(), i as u64 + 1);
        match rpc {
            Rpc::Get => tokio::spawn(get_worker(c, t, seed, until)),
            Rpc::Add => tokio::spawn(add_worker(c, t, seed, until)),
        }
    })
    .await
}

/// The load's own connection to a server, driven by this (client) runtime.
async fn connect(running: &BenchServer) -> anyhow::Result<Channel> {
    let endpoint = Channel::from_shared(format!("http://{}", running.addr))?;
    endpoint.connect().await.context("connect to the server")
}

/// The measurements: GetConversation and AddMessage with RLS, the read
/// without.
#[derive(Debug)]
struct Results {
    get_on: Measured,
    add_on: Measured,
    get_off: Measured,
    rls_tables: usize,
}

/// With a server on each copy: warm-up reads on both, the GetConversation
/// phase split in [`ROUNDS`] rounds alternating on, off, off, on (so drift
/// and order weigh on both alike), then AddMessage on `rls_on`.
async fn load(
    args: &Args,
    (on, off): (&BenchServer, &BenchServer),
    target: &Target,
) -> anyhow::Result<Results> {
    let (on, off) = (connect(on).await?, connect(off).await?);
    if !args.warmup.is_zero() {
        for channel in [&on, &off] {
            phase(args, channel, target, Rpc::Get, args.warmup).await?;
        }
    }
    let round = args.duration / ROUNDS;
    let (mut get_on, mut get_off) = (Measured::empty(), Measured::empty());
    for r in 0..ROUNDS {
        let mut sides = [(&on, &mut get_on), (&off, &mut get_off)];
        if r % 2 == 1 {
            sides.reverse();
        }
        for (channel, total) in sides {
            total.merge(phase(args, channel, target, Rpc::Get, round).await?);
        }
    }
    stats::report("A: GetConversation, RLS on", "GetConversation", &get_on);
    stats::report("A: GetConversation, RLS off", "GetConversation", &get_off);
    let add_on = phase(args, &on, target, Rpc::Add, args.duration).await?;
    stats::report("B: AddMessage, RLS on", "AddMessage", &add_on);
    Ok(Results {
        get_on,
        add_on,
        get_off,
        rls_tables: 0,
    })
}

async fn measure(
    args: &Args,
    server: &Handle,
    cluster: &TestCluster,
    secrets: &Secrets,
    seeded: &Seeded,
    (on, off): (&str, &str),
) -> anyhow::Result<Results> {
    let rls_tables = server::disable_rls(cluster, off).await?;
    for db in [on, off] {
        server::superuser_execute(cluster, db, "VACUUM ANALYZE").await?;
    }
    let target = Target {
        token: seeded.agent.access_token.clone(),
        org: seeded.main.org.clone(),
        ids: Arc::new(seeded.main.conversations.clone()),
    };
    let on = BenchServer::start(server, cluster, on, secrets).await?;
    let off = BenchServer::start(server, cluster, off, secrets).await;
    let results = match &off {
        Ok(off) => load(args, (&on, off), &target).await,
        Err(_) => Err(anyhow::anyhow!("no server on the RLS-off copy")),
    };
    on.shutdown().await?;
    off?.shutdown().await?;
    Ok(Results {
        rls_tables,
        ..results?
    })
}

/// The scenario: a server on the `server` runtime, the load on this one.
pub async fn run(args: &Args, server: &Handle) -> anyhow::Result<()> {
    let start = Instant::now();
    let step = |what: &str| println!("[{:5.1} s] {what}", start.elapsed().as_secs_f64());
    step("starting the server and the test cluster");
    let app = server.spawn(crate::spawn_app()).await.context("spawn")?;
    let (cluster, source, secrets) = (app.cluster, app.database.clone(), Secrets::of(&app));
    step(&format!(
        "seeding {TENANTS} orgs x {} customers",
        args.customers
    ));
    let seeded = seed::seed(&app, TENANTS, args.customers).await;
    step("seeded; stopping the server");
    // The copies need the seeded database to themselves.
    server.spawn(app.shutdown()).await?.context("shutdown")?;
    let seeded = seeded?;
    step("copying the database twice");
    let (on, off) = (format!("{source}_rls_on"), format!("{source}_rls_off"));
    server::copy_database(cluster, &source, &on).await?;
    server::copy_database(cluster, &source, &off).await?;
    step("disabling RLS on one copy, VACUUM ANALYZE, load");
    let copies = (on.as_str(), off.as_str());
    let results = measure(args, server, cluster, &secrets, &seeded, copies).await;
    step("servers stopped; dropping the databases");
    for db in [&on, &off, &source] {
        server::drop_database(cluster, db).await?;
    }
    step("done");
    table(args, &seeded, &results?, &server::pg_version(cluster).await);
    Ok(())
}

fn table(args: &Args, seeded: &Seeded, r: &Results, pg: &str) {
    let per_org = seeded.main.conversations.len();
    let tenants = 1 + seeded.others.len();
    println!(
        "\n### GetConversation and AddMessage under concurrency\n\n\
         `ochre-bench conversations`: {} workers, {} s per phase after a {} s warm-up, over \
         loopback gRPC; the caller is an agent of an org of {per_org} customers with one \
         conversation each ({} messages per conversation), among {tenants} orgs seeded alike; \
         each call picks a random conversation of that org. AddMessage writes a 200-byte \
         outbound reply. {}; PostgreSQL {pg}; app and service DB pools of {} connections each.\n",
        args.workers,
        args.duration.as_secs(),
        args.warmup.as_secs(),
        seeded.messages_per_conversation,
        stats::machine(),
        crate::POOL,
    );
    let rows = stats::rows(&[&r.get_on, &r.add_on]);
    stats::print_table(&["GetConversation", "AddMessage"], &rows);
    println!(
        "\n### Row-level security on GetConversation\n\n\
         The same GetConversation load on two copies of the seeded database (`CREATE DATABASE \
         ... TEMPLATE`), each `VACUUM ANALYZE`d and served by its own server, {} s on each \
         in {ROUNDS} rounds alternating on, off, off, on: as migrated, and with row-level \
         security disabled and un-forced on all {} tables that had it (every query still filters on the verified org, bound as a parameter).\n",
        args.duration.as_secs(),
        r.rls_tables,
    );
    let rows = stats::rows(&[&r.get_on, &r.get_off]);
    stats::print_table(&["RLS on", "RLS off"], &rows);
    println!(
        "\nRatios: p50 on/off = {}, p99 on/off = {}, throughput off/on = {}",
        ratio(r.get_on.q(0.50) as f64, r.get_off.q(0.50) as f64),
        ratio(r.get_on.q(0.99) as f64, r.get_off.q(0.99) as f64),
        ratio(r.get_off.rate(), r.get_on.rate()),
    );
}
