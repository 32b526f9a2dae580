//! Admission under concurrency: one statement under the budget row's lock,
//! so `spent + reserved` never passes the limit, however the calls race.

use ochre_sdk::v1::{BudgetKind, BudgetPeriod};
use ochre_tests::{
    concurrent::{join_all, retry_unavailable},
    prelude::*,
};
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};
use sea_orm::ConnectionTrait as _;

use super::{Shop, counters, numbers, remaining_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_reservations_against_room_for_ten_admit_exactly_ten() {
    let app = spawn_app_with(AppOptions {
        db_max_connections: 16,
        ..Default::default()
    })
    .await;
    let shop = Shop::open(&app, "Concurrent").await;
    shop.owner(&app)
        .set(BudgetKind::AiCost, 100, BudgetPeriod::Month)
        .await
        .expect("the owner sets a limit");

    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let (channel, key, org) = (
                app.channel.clone(),
                shop.worker_key.clone(),
                shop.org.clone(),
            );
            tokio::spawn(async move {
                let request = ochre_sdk::v1::ReserveBudgetRequest {
                    kind: BudgetKind::AiCost.into(),
                    amount: 10,
                    idempotency_key: format!("call-{i}"),
                    customer_id: String::new(),
                };
                // A burst of a thousand on a pool of 16: UNAVAILABLE (no
                // connection within the pool's wait) is retried, as a client
                // does; the idempotency key makes a retry safe.
                retry_unavailable(|| {
                    let mut client = BudgetClient::on(channel.clone());
                    let request = with_auth(request.clone(), &key, Some(&org));
                    async move { client.reserve_budget(request).await }
                })
                .await
            })
        })
        .collect();
    let (mut admitted, mut exhausted, mut other) = (0, 0, Vec::new());
    for task in tasks {
        match task.await.expect("the task ran") {
            Ok(_) => admitted += 1,
            Err(s) if s.code() == Code::ResourceExhausted => {
                assert_eq!(remaining_of(&s), Some(0), "{s:?}");
                exhausted += 1;
            }
            Err(s) => other.push(format!("{:?} {}", s.code(), s.message())),
        }
    }
    assert!(
        other.is_empty(),
        "neither admitted nor exhausted: {other:?}"
    );
    assert_eq!((admitted, exhausted), (10, 990));

    let su = app.superuser_db().await;
    let (limit, spent, reserved) = counters(&su, &shop.org, "ai_cost").await;
    assert_eq!((limit, spent, reserved), (100, 0, 100));
    let held = numbers(
        &su,
        &format!(
            "SELECT count(*), sum(amount)::bigint FROM budget_reservations \
              WHERE org_id = '{}' AND state = 'active'",
            shop.org
        ),
    )
    .await;
    assert_eq!(held, vec![10, 100], "one row per admitted reservation");
    let usage = shop.owner(&app).usage_of(BudgetKind::AiCost).await;
    assert_eq!((usage.reserved, usage.remaining), (100, 0));
}

/// What one randomized step did.
#[derive(Debug, Clone, Copy)]
enum Step {
    Reserve,
    Settle,
    Release,
    Expire,
    Sweep,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_random_interleaving_of_reserve_settle_release_and_expiry_never_lets_spent_pass_the_limit()
 {
    let app = spawn_app_with(AppOptions {
        db_max_connections: 12,
        ..Default::default()
    })
    .await;
    let shop = Shop::open(&app, "Interleaved").await;
    let limit = 500;
    shop.owner(&app)
        .set(BudgetKind::EmbeddingTokens, limit, BudgetPeriod::Day)
        .await
        .expect("the owner sets a limit");
    let seed: u64 = rand::random();
    println!("interleaving seed {seed}");

    // Six workers race; each keeps its own live reservations and picks
    // its next step at random. Expiry is time passing for one reservation:
    // the superuser moves its expires_at into the past (the server has no
    // clock of its own here: the database's now() decides).
    let (su, service) = (app.superuser_db().await, app.service_db().await);
    let workers: Vec<_> = (0..6u64)
        .map(|w| {
            let (channel, key, org) = (app.channel.clone(), shop.worker_key.clone(), shop.org.clone());
            let (su, service) = (su.clone(), service.clone());
            async move {
                let client = BudgetClient::on(channel);
                let mut rng = StdRng::seed_from_u64(seed ^ (w * 0x9e37_79b9));
                let mut live: Vec<String> = Vec::new();
                let mut seen = Vec::new();
                for i in 0..60 {
                    let step = match rng.random_range(0..10) {
                        0..=3 => Step::Reserve,
                        4..=5 => Step::Settle,
                        6 => Step::Release,
                        7..=8 => Step::Expire,
                        _ => Step::Sweep,
                    };
                    let pick = |rng: &mut StdRng, live: &mut Vec<String>| {
                        (!live.is_empty()).then(|| live.swap_remove(rng.random_range(0..live.len())))
                    };
                    match step {
                        Step::Reserve => {
                            let request = ochre_sdk::v1::ReserveBudgetRequest {
                                kind: BudgetKind::EmbeddingTokens.into(),
                                amount: rng.random_range(1..=120),
                                idempotency_key: format!("w{w}-{i}"),
                                customer_id: String::new(),
                            };
                            match client.clone().reserve_budget(with_auth(request, &key, Some(&org))).await {
                                Ok(r) => live.push(r.into_inner().reservation.unwrap().id),
                                Err(s) => assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}"),
                            }
                        }
                        Step::Settle => {
                            if let Some(id) = pick(&mut rng, &mut live) {
                                // The actual may pass the estimate.
                                let request = ochre_sdk::v1::SettleBudgetRequest {
                                    reservation_id: id,
                                    actual_amount: rng.random_range(0..=200),
                                };
                                client.clone().settle_budget(with_auth(request, &key, Some(&org))).await.expect("settled");
                            }
                        }
                        Step::Release => {
                            if let Some(id) = pick(&mut rng, &mut live) {
                                let request = ochre_sdk::v1::ReleaseBudgetRequest { reservation_id: id };
                                client.clone().release_budget(with_auth(request, &key, Some(&org))).await.expect("released");
                            }
                        }
                        Step::Expire => {
                            if let Some(id) = pick(&mut rng, &mut live) {
                                su.execute_unprepared(&format!(
                                    "UPDATE budget_reservations SET expires_at = created_at + interval '1 microsecond' \
                                      WHERE id = '{id}'"
                                ))
                                .await
                                .expect("time passes for it");
                            }
                        }
                        Step::Sweep => {
                            service.execute_unprepared("SELECT sweep_budget_reservations()").await.expect("swept");
                        }
                    }
                    let n = numbers(&su, &format!(
                        "SELECT limit_amount, spent, reserved FROM budgets \
                          WHERE org_id = '{org}' AND kind = 'embedding_tokens'"
                    )).await;
                    seen.push((step, n[1], n[2]));
                    assert!(n[1] + n[2] <= n[0], "after {step:?}: spent {} + reserved {} > limit {}", n[1], n[2], n[0]);
                }
                seen
            }
        })
        .collect();
    let histories = join_all(workers).await;
    assert!(histories.iter().all(|h| h.len() == 60));

    // Once every expired hold is swept, the counters are the rows' sums.
    service
        .execute_unprepared("SELECT sweep_budget_reservations()")
        .await
        .unwrap();
    let (limit_now, spent, reserved) = counters(&su, &shop.org, "embedding_tokens").await;
    let sums = numbers(
        &su,
        &format!(
            "SELECT coalesce(sum(charged_amount) FILTER (WHERE state = 'settled'), 0)::bigint, \
                    coalesce(sum(amount) FILTER (WHERE state = 'active' AND expires_at > now()), 0)::bigint, \
                    count(*) FILTER (WHERE state = 'settled') \
               FROM budget_reservations WHERE org_id = '{}'",
            shop.org
        ),
    )
    .await;
    assert_eq!(limit_now, limit);
    assert!(spent <= limit, "spent {spent} > limit {limit}");
    assert_eq!(
        (spent, reserved),
        (sums[0], sums[1]),
        "the counters match the rows"
    );
    assert!(sums[2] > 0, "some reservations were settled (seed {seed})");
}
