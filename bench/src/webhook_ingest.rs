//! `ochre-bench webhook-ingest`: signed GitHub deliveries over HTTP, each
//! answered once committed in Postgres.
//!
//! A server against a fresh database; one owner connects a `github`
//! integration (`external_account` "acme") with a `webhook_signing_secret`.
//! Then, over plain HTTP/1.1 on the server's port, `C` workers share:
//!
//! 1. a warm-up of `2 × C` distinct deliveries (not measured);
//! 2. `N` distinct deliveries (1 KiB JSON `issues` payloads, distinct
//!    `X-GitHub-Delivery` ids), each
//!    `POST /webhooks/github/{org}/{integration}` with
//!    `X-Hub-Signature-256`; every answer must be 200 `accepted`;
//! 3. a duplicate storm: one new delivery sent `M` times; every answer must
//!    be 200 (`accepted` once, `duplicate` otherwise).
//!
//! Latency is measured from sending the request to reading the whole
//! answer. Afterwards the superuser counts the org's `webhook_events` rows:
//! `N` for phase 2's ids, exactly 1 for the storm's.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use ochre_tests::{TestApp, webhook_path};
use tokio::runtime::Handle;

use crate::{
    Args, seed, server, stats,
    webhook_load::{Phase, deliveries, delivery, phase},
};

/// Bytes of every delivery's body.
pub(crate) const BODY_SIZE: usize = 1024;

/// A phase gives up after this long.
pub(crate) const PHASE_LIMIT: Duration = Duration::from_secs(600);

/// One request gives up after this long (and counts as an error).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Error answers kept verbatim for the report, per phase.
pub(crate) const SAMPLES: usize = 3;

/// The connected integration and where its deliveries go.
#[derive(Debug)]
struct Target {
    org: String,
    integration: String,
    secret: String,
    url: String,
}

/// An owner, an org and a `github` integration with a signing secret.
async fn setup(app: &TestApp) -> anyhow::Result<Target> {
    let secret = format!("whsec-bench-{}", uuid::Uuid::new_v4().simple());
    let (_, org, integration) = seed::owner_with_integration(
        app,
        "Webhook Bench",
        "github",
        "webhook_signing_secret",
        &secret,
    )
    .await?;
    let url = format!(
        "http://{}{}",
        app.addr,
        webhook_path("github", &org, &integration)
    );
    Ok(Target {
        org,
        integration,
        secret,
        url,
    })
}

/// `webhook_events` rows of the org, as the superuser.
async fn stored(app: &TestApp, org: &str, filter: &str) -> anyhow::Result<u64> {
    let sql =
        format!("SELECT count(*)::text FROM webhook_events WHERE org_id::text = '{org}' {filter}");
    let rows = server::superuser_column(app.cluster, &app.database, &sql).await?;
    Ok(rows.first().context("a count")?.parse()?)
}

/// What the bench measured and found stored.
#[derive(Debug)]
struct Report {
    warmup: Phase,
    main: Phase,
    storm: Phase,
    stored_main: u64,
    stored_storm: u64,
    stored_all: u64,
}

async fn bench(args: &Args, app: &TestApp) -> anyhow::Result<Report> {
    let t = setup(app).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.workers)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .context("an HTTP client")?;
    let warm = deliveries(&t.secret, "warm", 2 * args.workers)?;
    let main = deliveries(&t.secret, "main", args.deliveries)?;
    let one = delivery(&t.secret, format!("dup-{}", uuid::Uuid::new_v4()), 0)?;
    let storm = vec![one.clone(); args.duplicates];
    println!(
        "integration {} of org {}: POST {}",
        t.integration, t.org, t.url
    );
    let warmup = phase(args.workers, &client, &t.url, warm).await?;
    println!("warm-up: {:?}", warmup.out.answers);
    let main = phase(args.workers, &client, &t.url, main).await?;
    println!("{}", stats::describe("distinct", &main.out.all, main.secs));
    println!("  answers: {:?}", main.out.answers);
    let storm = phase(args.workers, &client, &t.url, storm).await?;
    println!(
        "{}",
        stats::describe("duplicates", &storm.out.all, storm.secs)
    );
    println!("  answers: {:?}", storm.out.answers);
    Ok(Report {
        stored_main: stored(app, &t.org, "AND delivery_id LIKE 'main-%'").await?,
        stored_storm: stored(app, &t.org, &format!("AND delivery_id = '{}'", one.id)).await?,
        stored_all: stored(app, &t.org, "").await?,
        warmup,
        main,
        storm,
    })
}

fn verdict(ok: bool) -> &'static str {
    if ok { "yes" } else { "NO" }
}

/// The scenario: a server on the `server` runtime, the load on this one.
pub async fn run(args: &Args, server: &Handle) -> anyhow::Result<()> {
    println!("starting the server and the test cluster...");
    let app = server.spawn(crate::spawn_app()).await.context("spawn")?;
    let pg = server::pg_version(app.cluster).await;
    let durability = server::superuser_column(
        app.cluster,
        "postgres",
        "SELECT 'fsync=' || current_setting('fsync') || ', synchronous_commit=' || \
         current_setting('synchronous_commit')",
    )
    .await
    .ok()
    .and_then(|v| v.into_iter().next())
    .unwrap_or_else(|| "durability settings unknown".to_owned());
    let result = bench(args, &app).await;
    server.spawn(app.shutdown()).await?.context("shutdown")?;
    let r = result?;
    let n = args.deliveries as u64;
    let m = args.duplicates as u64;
    println!(
        "\n### Webhook ingest over HTTP\n\n\
         `ochre-bench webhook-ingest`: {} concurrent senders (HTTP/1.1 keep-alive, reqwest) \
         posting signed GitHub `issues` deliveries ({BODY_SIZE}-byte JSON bodies, \
         `X-Hub-Signature-256`) to `POST /webhooks/github/{{org_id}}/{{integration_id}}`; each answer \
         comes once the event is committed. {n} distinct deliveries after a warm-up of {}, \
         then one delivery sent {m} times. Latency from sending a request to reading the whole \
         answer, over loopback. {}; PostgreSQL {pg} ({durability}); app and service DB pools \
         of {} connections each; client, server and PostgreSQL on the same machine.\n",
        args.workers,
        r.warmup.out.all.len(),
        stats::machine(),
        crate::POOL,
    );
    let both = [&r.main, &r.storm];
    let each = |f: &dyn Fn(&Phase) -> String| both.iter().map(|p| f(p)).collect::<Vec<_>>();
    let rows = vec![
        (
            "requests/s".to_owned(),
            each(&|p| format!("{:.1}", p.rate())),
        ),
        (
            "p50 (ms)".to_owned(),
            each(&|p| stats::ms(p.out.all.value_at_quantile(0.50))),
        ),
        (
            "p90 (ms)".to_owned(),
            each(&|p| stats::ms(p.out.all.value_at_quantile(0.90))),
        ),
        (
            "p99 (ms)".to_owned(),
            each(&|p| stats::ms(p.out.all.value_at_quantile(0.99))),
        ),
        ("max (ms)".to_owned(), each(&|p| stats::ms(p.out.all.max()))),
        (
            "requests".to_owned(),
            each(&|p| p.out.all.len().to_string()),
        ),
        (
            "200 accepted".to_owned(),
            each(&|p| p.out.count("200 accepted").to_string()),
        ),
        (
            "200 duplicate".to_owned(),
            each(&|p| p.out.count("200 duplicate").to_string()),
        ),
        ("non-200".to_owned(), each(&|p| p.out.non_200().to_string())),
        (
            "rows stored for these ids".to_owned(),
            vec![r.stored_main.to_string(), r.stored_storm.to_string()],
        ),
    ];
    stats::print_table(
        &[
            &format!("{n} distinct deliveries"),
            &format!("1 delivery × {m}"),
        ],
        &rows,
    );
    for (name, p) in [
        ("warm-up", &r.warmup),
        ("distinct", &r.main),
        ("duplicates", &r.storm),
    ] {
        for sample in &p.out.samples {
            println!("{name}: sample answer: {sample}");
        }
    }
    let main_ok = r.main.out.non_200() == 0 && r.main.out.count("200 accepted") == n;
    let storm_ok = r.storm.out.non_200() == 0;
    let storm_once = r.storm.out.count("200 accepted") == 1;
    let expected_all = r.warmup.out.all.len() + n + 1;
    println!(
        "\nevery distinct delivery answered 200 accepted: {}; {} rows stored for {n} distinct \
         ids: {}\n\
         duplicate storm: every answer 200: {}; `accepted` exactly once: {} ({}); rows for the \
         id: {} (exactly 1: {})\n\
         webhook_events rows of the org in all: {} (warm-up {} + {n} + 1 = {expected_all}: {})",
        verdict(main_ok),
        r.stored_main,
        verdict(r.stored_main == n),
        verdict(storm_ok),
        verdict(storm_once),
        r.storm.out.count("200 accepted"),
        r.stored_storm,
        verdict(r.stored_storm == 1),
        r.stored_all,
        r.warmup.out.all.len(),
        verdict(r.stored_all == expected_all),
    );
    ensure!(
        r.main.out.non_200() == 0 && storm_ok,
        "non-200 answers: {} distinct, {} duplicates",
        r.main.out.non_200(),
        r.storm.out.non_200()
    );
    ensure!(
        r.stored_main == n,
        "{n} deliveries left {} rows",
        r.stored_main
    );
    ensure!(
        r.stored_storm == 1,
        "the duplicate storm left {} rows",
        r.stored_storm
    );
    Ok(())
}
