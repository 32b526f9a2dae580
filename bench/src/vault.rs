//! `ochre-bench vault`: GetIntegrationToken under concurrency.
//!
//! A server against a fresh database; one owner connects an `openai`
//! integration with an `api_key` secret, then `C` workers call
//! GetIntegrationToken as that owner for `D` seconds (after a warm-up).
//! Every successful read decrypts the secret and writes an audit row in the
//! same transaction: afterwards the superuser counts the audit rows of the
//! integration's reads, which must equal the successful reads (warm-up
//! included).

use std::time::Instant;

use anyhow::{Context as _, ensure};
use ochre_sdk::v1::GetIntegrationTokenRequest;
use ochre_tests::{
    TestApp,
    clients::{GrpcClient as _, IntegrationClient},
    identity::{code_of, with_auth},
};
use tokio::runtime::Handle;
use tonic::transport::Channel;

use crate::{
    Args, seed, server,
    stats::{self, Measured, Stats},
};

/// The owner's token, the org, the integration and the secret it holds.
#[derive(Debug, Clone)]
struct Target {
    token: String,
    org: String,
    integration: String,
    secret: String,
}

async fn read_worker(channel: Channel, t: Target, until: Instant) -> Stats {
    let mut client = IntegrationClient::on(channel);
    let mut stats = Stats::new();
    while Instant::now() < until {
        let request = GetIntegrationTokenRequest {
            integration_id: t.integration.clone(),
            field: "api_key".to_owned(),
        };
        let start = Instant::now();
        let result = client
            .get_integration_token(with_auth(request, &t.token, Some(&t.org)))
            .await;
        stats.record(code_of(&result), start.elapsed());
        if let Ok(r) = result
            && r.into_inner().value != t.secret
        {
            stats.wrong += 1;
        }
    }
    stats
}

async fn phase(
    args: &Args,
    channel: &Channel,
    t: &Target,
    d: std::time::Duration,
) -> anyhow::Result<Measured> {
    stats::run_workers(args.workers, d, |_, until| {
        tokio::spawn(read_worker(channel.clone(), t.clone(), until))
    })
    .await
}

/// An owner, an org and a connected `openai` integration.
async fn setup(app: &TestApp) -> anyhow::Result<Target> {
    let secret = format!("sk-bench-{}", uuid::Uuid::new_v4().simple());
    let (owner, org, integration) =
        seed::owner_with_integration(app, "Vault Bench", "openai", "api_key", &secret).await?;
    Ok(Target {
        token: owner.access_token,
        org,
        integration,
        secret,
    })
}

/// What the audit log holds afterwards.
#[derive(Debug)]
struct Audit {
    reads: u64,
    all: u64,
}

async fn audit(app: &TestApp, integration: &str) -> anyhow::Result<Audit> {
    let count = async |sql: &str| -> anyhow::Result<u64> {
        let rows = server::superuser_column(app.cluster, &app.database, sql).await?;
        Ok(rows.first().context("a count")?.parse()?)
    };
    Ok(Audit {
        reads: count(&format!(
            "SELECT count(*)::text FROM audit_log \
             WHERE action = 'integration.token.read' AND target_id = '{integration}'"
        ))
        .await?,
        all: count("SELECT count(*)::text FROM audit_log").await?,
    })
}

async fn bench(args: &Args, app: &TestApp) -> anyhow::Result<(Measured, u64, Audit)> {
    let target = setup(app).await?;
    let channel = Channel::from_shared(format!("http://{}", app.addr))?
        .connect()
        .await
        .context("connect to the server")?;
    let mut reads = 0;
    if !args.warmup.is_zero() {
        reads += phase(args, &channel, &target, args.warmup)
            .await?
            .stats
            .count("Ok");
    }
    let m = phase(args, &channel, &target, args.duration).await?;
    reads += m.stats.count("Ok");
    stats::report("GetIntegrationToken", "GetIntegrationToken", &m);
    let audit = audit(app, &target.integration).await?;
    Ok((m, reads, audit))
}

/// The scenario: a server on the `server` runtime, the load on this one.
pub async fn run(args: &Args, server: &Handle) -> anyhow::Result<()> {
    println!("starting the server and the test cluster...");
    let app = server.spawn(crate::spawn_app()).await.context("spawn")?;
    let pg = server::pg_version(app.cluster).await;
    let result = bench(args, &app).await;
    server.spawn(app.shutdown()).await?.context("shutdown")?;
    let (m, reads, audit) = result?;
    println!(
        "\n### GetIntegrationToken under concurrency\n\n\
         `ochre-bench vault`: {} workers calling GetIntegrationToken as the org's owner (one \
         `openai` integration, field `api_key`: an audited SECURITY DEFINER read, an AEAD \
         decryption, an audit row in the same transaction), {} s after a {} s warm-up, over \
         loopback gRPC. {}; PostgreSQL {pg}; app and service DB pools of {} connections each.\n",
        args.workers,
        args.duration.as_secs(),
        args.warmup.as_secs(),
        stats::machine(),
        crate::POOL,
    );
    let mut rows = stats::rows(&[&m]);
    rows.push((
        "successful reads (warm-up included)".to_owned(),
        vec![reads.to_string()],
    ));
    rows.push((
        "audit rows of those reads".to_owned(),
        vec![audit.reads.to_string()],
    ));
    stats::print_table(&["GetIntegrationToken"], &rows);
    println!(
        "\naudit_log holds {} rows in all; {} of them are `integration.token.read` of this \
         integration, for {reads} successful reads: {}",
        audit.all,
        audit.reads,
        if audit.reads == reads {
            "equal"
        } else {
            "NOT EQUAL"
        }
    );
    ensure!(
        audit.reads == reads,
        "{reads} successful reads left {} audit rows",
        audit.reads
    );
    Ok(())
}
