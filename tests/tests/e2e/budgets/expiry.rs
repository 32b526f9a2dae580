//! Reservations neither settled nor released expire: their holds stop
//! counting at once (admission returns them) and the purge job sweeps the
//! rest.

use std::time::Duration;

use ochre_sdk::v1::{BudgetKind, BudgetPeriod, ReservationState};
use ochre_tests::{identity::superuser_execute, prelude::*};

use super::{Shop, counters, numbers, remaining_of};

#[tokio::test]
async fn a_reservation_expires_after_the_configured_lifetime_and_its_hold_stops_counting() {
    let app = spawn_app_with(AppOptions {
        vars: vec![("OCHRE_BUDGET_RESERVATION_TTL_SECS", "1".to_owned())],
        ..Default::default()
    })
    .await;
    let shop = Shop::open(&app, "Short holds").await;
    let (owner, worker) = (shop.owner(&app), shop.worker(&app));
    owner
        .set(BudgetKind::AiCost, 10, BudgetPeriod::Month)
        .await
        .unwrap();
    let leaked = worker.held(BudgetKind::AiCost, 10, "crashed-worker").await;
    let lifetime = leaked.expires_at.unwrap().seconds - leaked.created_at.unwrap().seconds;
    assert!((0..=1).contains(&lifetime), "{lifetime}");
    let refused = worker
        .reserve(BudgetKind::AiCost, 1, "next")
        .await
        .unwrap_err();
    assert_eq!(remaining_of(&refused), Some(0));

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let usage = owner.usage_of(BudgetKind::AiCost).await;
    assert_eq!(
        (usage.reserved, usage.remaining),
        (0, 10),
        "an expired hold does not count"
    );
    worker.held(BudgetKind::AiCost, 10, "next").await;
    let su = app.superuser_db().await;
    let state = numbers(
        &su,
        &format!(
            "SELECT count(*) FROM budget_reservations WHERE id = '{}' AND state = 'expired'",
            leaked.id
        ),
    )
    .await;
    assert_eq!(state, vec![1], "admission returned the expired hold");
    assert_eq!(counters(&su, &shop.org, "ai_cost").await, (10, 0, 10));

    // A late settlement is recorded, charging only the room left (none).
    let late = worker
        .settle(&leaked.id, 7)
        .await
        .unwrap()
        .reservation
        .unwrap();
    assert_eq!(
        (late.state, late.charged_amount),
        (i32::from(ReservationState::Settled), 0)
    );
    assert_eq!(owner.usage_of(BudgetKind::AiCost).await.overrun, 7);
}

#[tokio::test]
async fn the_purge_job_returns_the_holds_of_expired_reservations() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Swept").await;
    let worker = shop.worker(&app);
    let kept = worker.held(BudgetKind::EmbeddingTokens, 5, "fresh").await;
    let gone = worker.held(BudgetKind::EmbeddingTokens, 30, "stale").await;
    superuser_execute(
        &app,
        &format!(
            "UPDATE budget_reservations SET expires_at = created_at + interval '1 microsecond' \
              WHERE id = '{}'",
            gone.id
        ),
    )
    .await;
    let su = app.superuser_db().await;
    assert_eq!(
        counters(&su, &shop.org, "embedding_tokens").await,
        (0, 0, 35),
        "not yet swept"
    );
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/cron/purge-expired", app.addr))
        .bearer_auth(&app.cron_secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["deleted"]["expired_budget_reservations"], 1, "{body}");
    assert_eq!(
        counters(&su, &shop.org, "embedding_tokens").await,
        (0, 0, 5)
    );
    let states = numbers(
        &su,
        &format!(
            "SELECT count(*) FILTER (WHERE id = '{}' AND state = 'active'), \
                    count(*) FILTER (WHERE id = '{}' AND state = 'expired') \
               FROM budget_reservations",
            kept.id, gone.id
        ),
    )
    .await;
    assert_eq!(states, vec![1, 1]);
    // Releasing the swept one answers it unchanged.
    let released = worker.release(&gone.id).await.unwrap();
    assert!(released.replayed);
    assert_eq!(
        released.reservation.unwrap().state,
        i32::from(ReservationState::Expired)
    );
}
