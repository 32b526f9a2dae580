//! The pool gauges and histograms under saturation: a server whose pools
//! have one connection each; a table lock held from a superuser connection
//! stalls the first of three concurrent calls on its pool's only
//! connection, and the admin `/metrics` shows the other two waiting for
//! that pool while the lock is held, none once it is released, and the
//! time they waited in the pool's acquire-latency histogram. A webhook
//! delivery waits at most 2 s for the ingress pool, then gets 503.

use std::time::{Duration, Instant};

use ochre_tests::{
    admin::sample,
    identity::{get_org, login},
};
use sea_orm::{ConnectionTrait as _, TransactionTrait as _};

use crate::{
    limits::only,
    webhooks::{
        http::Http,
        providers::P,
        rpc::{connect_hook, new_org},
        signing::Hook,
    },
};
use ochre_tests::prelude::*;

const POOLS: [&str; 3] = ["app", "service", "webhook"];
/// How long the lock is held once the waiters are seen (well under the
/// webhook pool's 2 s wait, so every waiter is admitted in the end).
const HOLD: Duration = Duration::from_millis(400);
const WAITING: &str = "ochre_db_pool_waiting";
const ACQUIRE_COUNT: &str = "ochre_db_pool_acquire_seconds_count";
const ACQUIRE_SUM: &str = "ochre_db_pool_acquire_seconds_sum";

/// What was seen of one saturated pool.
struct Seen {
    /// The most callers `/metrics` showed waiting for the pool.
    most_waiting: f64,
    /// The scrape that showed them.
    scrape: String,
}

/// Locks `table` from a superuser connection, runs `calls` (three
/// concurrent calls on `pool`) and, meanwhile, scrapes `/metrics` until two
/// callers wait for `pool` (at most 1.5 s), keeps the lock [`HOLD`] longer,
/// then releases it; the calls' results and what was seen.
async fn while_locked<T>(
    app: &TestApp,
    table: &str,
    pool: &str,
    calls: impl std::future::Future<Output = T>,
) -> (T, Seen) {
    let su = app.superuser_db().await;
    let lock = su.begin().await.expect("begin");
    lock.execute_unprepared(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
        .await
        .expect("lock");
    let watch = async {
        let deadline = Instant::now() + Duration::from_millis(1500);
        let mut seen = Seen {
            most_waiting: 0.0,
            scrape: String::new(),
        };
        while Instant::now() < deadline {
            let scrape = app.metrics().await;
            let waiting = sample(&scrape, WAITING, &[("pool", pool)]);
            if waiting > seen.most_waiting {
                seen = Seen {
                    most_waiting: waiting,
                    scrape,
                };
            }
            if seen.most_waiting >= 2.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(HOLD).await;
        lock.rollback().await.expect("release the lock");
        seen
    };
    tokio::join!(calls, watch)
}

#[tokio::test]
async fn each_pool_shows_its_waiting_callers_while_its_connection_is_held_and_none_after() {
    // Rate limits off: the same account signs in four times in a row.
    let app = spawn_app_with(AppOptions {
        db_max_connections: 1,
        vars: vec![("OCHRE_RATE_LIMITS", only(&[]))],
        ..AppOptions::default()
    })
    .await;
    let http = Http::new(&app);
    let org = new_org(&app, "Saturated").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let (email, password) = (&org.owner.email, &org.owner.password);
    let token = &org.owner.access_token;
    let mut c = Checks::default();
    let before = app.metrics().await;

    // app: a tenant transaction's identity call reads `sessions`.
    let (reads, app_seen) = while_locked(&app, "sessions", "app", async {
        tokio::join!(
            get_org(&app, token, Some(&org.id)),
            get_org(&app, token, Some(&org.id)),
            get_org(&app, token, Some(&org.id)),
        )
    })
    .await;
    for read in [reads.0, reads.1, reads.2] {
        c.eq("a read that waited", code_of(&read), Code::Ok);
    }

    // service: a sign-in first reads its locks from `login_throttle`.
    let (logins, service_seen) = while_locked(&app, "login_throttle", "service", async {
        tokio::join!(
            login(&app, email, password),
            login(&app, email, password),
            login(&app, email, password),
        )
    })
    .await;
    // Released together, they hash together: past the hashing slots (a
    // core each) a sign-in is refused HASHING_BUSY, after its lookup.
    let mut signed_in = 0;
    for login in [logins.0, logins.1, logins.2] {
        match login {
            Ok(_) => signed_in += 1,
            Err(status) => c.eq(
                "a sign-in that waited, refused",
                ochre_tests::errors::reason(&status).unwrap_or_default(),
                "HASHING_BUSY".to_owned(),
            ),
        }
    }
    c.that(signed_in >= 1, "a sign-in that waited succeeds");

    // webhook: a delivery's signing secrets are read from `integrations`.
    let deliveries = [0; 3].map(|_| Hook::new(P::GitHub, &secret).build(&org.id, &integration));
    let (posted, webhook_seen) = while_locked(&app, "integrations", "webhook", async {
        tokio::join!(
            http.post(&deliveries[0]),
            http.post(&deliveries[1]),
            http.post(&deliveries[2]),
        )
    })
    .await;
    for answer in [posted.0, posted.1, posted.2] {
        c.eq("a delivery that waited", answer.status, 200);
    }

    let after = app.metrics().await;
    for (pool, seen) in [
        ("app", &app_seen),
        ("service", &service_seen),
        ("webhook", &webhook_seen),
    ] {
        c.that(
            seen.most_waiting >= 2.0,
            &format!("{pool}: two callers wait (saw {})", seen.most_waiting),
        );
        let others_waiting: f64 = POOLS
            .iter()
            .filter(|p| **p != pool)
            .map(|p| sample(&seen.scrape, WAITING, &[("pool", p)]))
            .sum();
        c.eq(
            &format!("{pool}: no caller waits for another pool meanwhile"),
            others_waiting,
            0.0,
        );
        c.eq(
            &format!("{pool}: in use while saturated"),
            sample(
                &seen.scrape,
                "ochre_db_pool_connections",
                &[("pool", pool), ("state", "in_use")],
            ),
            1.0,
        );
        c.eq(
            &format!("{pool}: nobody waits once the lock is released"),
            sample(&after, WAITING, &[("pool", pool)]),
            0.0,
        );
        let count = sample(&after, ACQUIRE_COUNT, &[("pool", pool)])
            - sample(&before, ACQUIRE_COUNT, &[("pool", pool)]);
        c.that(
            count >= 3.0,
            &format!("{pool}: every call's acquire is recorded ({count})"),
        );
        let waited = sample(&after, ACQUIRE_SUM, &[("pool", pool)])
            - sample(&before, ACQUIRE_SUM, &[("pool", pool)]);
        c.that(
            waited >= 2.0 * HOLD.as_secs_f64(),
            &format!("{pool}: the two waiters' wait is in the histogram ({waited:.3} s)"),
        );
    }
    c.verify();
}

#[tokio::test]
async fn a_delivery_that_waits_two_seconds_for_the_ingress_pool_gets_503_with_retry_after() {
    let app = spawn_app_with(AppOptions {
        db_max_connections: 1,
        ..AppOptions::default()
    })
    .await;
    let http = Http::new(&app);
    let org = new_org(&app, "Queued").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let [first, second] =
        [0; 2].map(|_| Hook::new(P::GitHub, &secret).build(&org.id, &integration));
    let su = app.superuser_db().await;
    let lock = su.begin().await.expect("begin");
    lock.execute_unprepared("LOCK TABLE integrations IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let started = Instant::now();
    // The first delivery holds the one connection, stalled on the lock; the
    // second waits for it, and is answered when its 2 s are up.
    let (held, queued) = tokio::join!(http.post(&first), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let answer = http.post(&second).await;
        let waited = started.elapsed();
        lock.rollback().await.expect("release the lock");
        (answer, waited)
    });
    let (queued, waited) = queued;
    let mut c = Checks::default();
    c.eq("the queued delivery", queued.status, 503);
    c.that(
        queued.headers.contains_key("retry-after"),
        "its 503 says when to retry",
    );
    c.that(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(6),
        &format!("answered after the ingress pool's 2 s wait ({waited:?})"),
    );
    c.eq("the delivery that held the connection", held.status, 200);
    let retry = http.post(&second).await;
    c.eq("the retry", retry.status, 200);
    c.verify();
}
