//! The worker protocol: reserve → call the provider → settle or release,
//! with idempotency keys, settlement rules, kinds without a limit, limit
//! changes, period rollover and the audit trail of Set and Clear.

use ochre_sdk::v1::{BudgetKind, BudgetPeriod, ReservationState};
use ochre_tests::{concurrent::join_all, identity::superuser_execute, prelude::*};

use super::{Shop, counters, numbers, remaining_of};

const AI: BudgetKind = BudgetKind::AiCost;

#[tokio::test]
async fn the_same_idempotency_key_answers_the_same_reservation_and_never_holds_twice() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Idempotent").await;
    let (owner, worker) = (shop.owner(&app), shop.worker(&app));
    owner.set(AI, 100, BudgetPeriod::Month).await.unwrap();

    let first = worker.reserve(AI, 30, "req-1").await.unwrap();
    let again = worker.reserve(AI, 30, "req-1").await.unwrap();
    let (a, b) = (first.reservation.unwrap(), again.reservation.unwrap());
    assert!(!first.replayed && again.replayed);
    assert_eq!(a, b, "the same reservation");
    // Concurrent retries of another key: one reservation between them.
    let racing = join_all((0..20).map(|_| worker.reserve(AI, 5, "req-2"))).await;
    let ids: std::collections::BTreeSet<String> = racing
        .into_iter()
        .map(|r| r.expect("admitted or replayed").reservation.unwrap().id)
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let su = app.superuser_db().await;
    assert_eq!(counters(&su, &shop.org, "ai_cost").await, (100, 0, 35));

    let mut c = Checks::default();
    let other_amount = worker.reserve(AI, 31, "req-1").await;
    c.code(
        "the key with another amount",
        &other_amount,
        Code::AlreadyExists,
    );
    let other_kind = worker.reserve(BudgetKind::EmailsSent, 30, "req-1").await;
    c.code(
        "the key with another kind",
        &other_kind,
        Code::AlreadyExists,
    );
    // After settling, the key still answers the same (settled) reservation.
    worker.settle(&a.id, 20).await.unwrap();
    let settled = worker.reserve(AI, 30, "req-1").await.unwrap();
    c.that(settled.replayed, "a settled reservation's key is a replay");
    let settled = settled.reservation.unwrap();
    c.eq("same id", settled.id.as_str(), a.id.as_str());
    c.eq(
        "settled",
        settled.state,
        i32::from(ReservationState::Settled),
    );
    c.eq(
        "counters",
        counters(&su, &shop.org, "ai_cost").await,
        (100, 20, 5),
    );
    c.verify();
}

#[tokio::test]
async fn settling_charges_the_actual_releases_the_rest_and_a_second_settlement_is_a_replay_or_refused()
 {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Settle").await;
    let (owner, worker) = (shop.owner(&app), shop.worker(&app));
    owner.set(AI, 100, BudgetPeriod::Month).await.unwrap();
    let r = worker.held(AI, 40, "call-1").await;
    assert_eq!(r.state, i32::from(ReservationState::Active));
    assert_eq!(owner.usage_of(AI).await.remaining, 60);

    let settled = worker.settle(&r.id, 25).await.unwrap();
    let s = settled.reservation.unwrap();
    assert!(!settled.replayed);
    assert_eq!(
        (s.state, s.actual_amount, s.charged_amount),
        (i32::from(ReservationState::Settled), 25, 25)
    );
    assert!(s.closed_at.is_some());
    let usage = owner.usage_of(AI).await;
    assert_eq!(
        (usage.spent, usage.reserved, usage.remaining, usage.overrun),
        (25, 0, 75, 0)
    );

    let mut c = Checks::default();
    let replay = worker.settle(&r.id, 25).await;
    c.that(
        replay.as_ref().is_ok_and(|r| r.replayed),
        "settling again with the same amount is a replay",
    );
    let other = worker.settle(&r.id, 30).await;
    c.code(
        "settling again with another amount",
        &other,
        Code::FailedPrecondition,
    );
    let release = worker.release(&r.id).await;
    c.code(
        "releasing a settled reservation",
        &release,
        Code::FailedPrecondition,
    );
    c.eq("usage unchanged", owner.usage_of(AI).await.spent, 25);
    c.verify();
}

#[tokio::test]
async fn an_actual_above_the_estimate_is_charged_up_to_the_limit_and_the_rest_is_recorded_as_overrun()
 {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Overrun").await;
    let (owner, worker) = (shop.owner(&app), shop.worker(&app));
    owner.set(AI, 100, BudgetPeriod::Month).await.unwrap();
    let a = worker.held(AI, 50, "a").await;
    let b = worker.held(AI, 40, "b").await;
    // Room left: 100 - 90 = 10; a's hold (50) plus that room can be charged.
    let a = worker.settle(&a.id, 70).await.unwrap().reservation.unwrap();
    assert_eq!((a.actual_amount, a.charged_amount), (70, 60));
    let b = worker.settle(&b.id, 45).await.unwrap().reservation.unwrap();
    assert_eq!((b.actual_amount, b.charged_amount), (45, 40));
    let usage = owner.usage_of(AI).await;
    assert_eq!(
        (usage.spent, usage.reserved, usage.remaining, usage.overrun),
        (100, 0, 0, 15)
    );
    let su = app.superuser_db().await;
    assert_eq!(counters(&su, &shop.org, "ai_cost").await, (100, 100, 0));
    let refused = worker.reserve(AI, 1, "c").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(remaining_of(&refused), Some(0));
    assert!(
        refused.message().contains("0 remaining"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn a_release_returns_the_hold_and_releasing_again_answers_the_same_reservation() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Release").await;
    let (owner, worker) = (shop.owner(&app), shop.worker(&app));
    owner
        .set(BudgetKind::FileBytes, 100, BudgetPeriod::Day)
        .await
        .unwrap();
    let big = worker.held(BudgetKind::FileBytes, 60, "upload-1").await;
    let refused = worker
        .reserve(BudgetKind::FileBytes, 50, "upload-2")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(remaining_of(&refused), Some(40));

    let released = worker.release(&big.id).await.unwrap();
    assert!(!released.replayed);
    assert_eq!(
        released.reservation.unwrap().state,
        i32::from(ReservationState::Released)
    );
    let again = worker.release(&big.id).await.unwrap();
    assert!(again.replayed);
    let mut c = Checks::default();
    let settle = worker.settle(&big.id, 10).await;
    c.code(
        "settling a released reservation",
        &settle,
        Code::FailedPrecondition,
    );
    // The refused attempt recorded nothing: its key is free for a new try.
    let retried = worker.reserve(BudgetKind::FileBytes, 50, "upload-2").await;
    c.that(
        retried.as_ref().is_ok_and(|r| !r.replayed),
        "the refused key admits a new reservation",
    );
    c.eq(
        "counters",
        counters(&app.superuser_db().await, &shop.org, "file_bytes").await,
        (100, 0, 50),
    );
    c.verify();
}

#[tokio::test]
async fn a_kind_without_a_limit_admits_every_reservation_and_still_counts_it() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Unlimited").await;
    let (owner, worker) = (shop.owner(&app), shop.worker(&app));
    let before = owner.usage().await.unwrap();
    assert_eq!(before.len(), 4, "every kind is listed");
    assert!(
        before
            .iter()
            .all(|u| !u.limited && u.spent == 0 && u.reserved == 0)
    );

    let r = worker
        .held(BudgetKind::EmailsSent, 1_000_000, "blast")
        .await;
    worker.settle(&r.id, 999_999).await.unwrap();
    let usage = owner.usage_of(BudgetKind::EmailsSent).await;
    assert_eq!(
        (usage.limited, usage.spent, usage.reserved, usage.remaining),
        (false, 999_999, 0, 0)
    );
    assert_eq!(usage.period, i32::from(BudgetPeriod::Month));

    // Set, then cleared: unlimited again, the count kept.
    owner
        .set(BudgetKind::EmailsSent, 1_000_000, BudgetPeriod::Month)
        .await
        .unwrap();
    let refused = worker
        .reserve(BudgetKind::EmailsSent, 2, "more")
        .await
        .unwrap_err();
    assert_eq!(remaining_of(&refused), Some(1));
    let cleared = owner.clear(BudgetKind::EmailsSent).await.unwrap();
    assert_eq!((cleared.limited, cleared.spent), (false, 999_999));
    worker.held(BudgetKind::EmailsSent, 2, "more").await;
}

#[tokio::test]
async fn set_and_clear_each_append_an_audit_event_naming_the_kind_and_the_limits() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Audited").await;
    let owner = shop.owner(&app);
    owner.set(AI, 5_000_000, BudgetPeriod::Month).await.unwrap();
    let usage = owner.set(AI, 7_000_000, BudgetPeriod::Day).await.unwrap();
    assert_eq!(
        (usage.limit, usage.period, usage.limited),
        (7_000_000, i32::from(BudgetPeriod::Day), true)
    );
    owner.clear(AI).await.unwrap();
    let su = app.superuser_db().await;
    let events = numbers(
        &su,
        &format!(
            "SELECT count(*) FILTER (WHERE action = 'budget.set' AND detail->>'kind' = 'ai_cost'), \
                    count(*) FILTER (WHERE action = 'budget.set' AND (detail->>'previous_limit')::bigint = 5000000 \
                                     AND detail->>'period' = 'day'), \
                    count(*) FILTER (WHERE action = 'budget.cleared' AND (detail->>'previous_limit')::bigint = 7000000), \
                    count(*) FILTER (WHERE action LIKE 'budget.%' AND actor_user_id = '{}') \
               FROM audit_log WHERE org_id = '{}'",
            shop.owner.user_id, shop.org
        ),
    )
    .await;
    assert_eq!(events, vec![2, 1, 1, 3]);
}

#[tokio::test]
async fn lowering_the_limit_below_what_is_held_revokes_nothing_and_admits_nothing_more() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Lowered").await;
    let (owner, worker) = (shop.owner(&app), shop.worker(&app));
    owner.set(AI, 100, BudgetPeriod::Month).await.unwrap();
    let r = worker.held(AI, 80, "long-call").await;
    let lowered = owner.set(AI, 50, BudgetPeriod::Month).await.unwrap();
    assert_eq!((lowered.reserved, lowered.remaining), (80, 0));
    let refused = worker.reserve(AI, 1, "next").await.unwrap_err();
    assert_eq!(remaining_of(&refused), Some(0));
    // The call admitted before is charged its hold, and no more.
    let s = worker.settle(&r.id, 90).await.unwrap().reservation.unwrap();
    assert_eq!(
        (s.charged_amount, owner.usage_of(AI).await.overrun),
        (80, 10)
    );
}

#[tokio::test]
async fn the_counters_roll_over_when_the_period_turns_without_any_job_and_holds_carry_over() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Rollover").await;
    let (owner, worker) = (shop.owner(&app), shop.worker(&app));
    owner.set(AI, 100, BudgetPeriod::Day).await.unwrap();
    let a = worker.held(AI, 60, "morning").await;
    worker.settle(&a.id, 60).await.unwrap();
    let b = worker.held(AI, 30, "evening").await;
    let refused = worker.reserve(AI, 20, "night").await.unwrap_err();
    assert_eq!(remaining_of(&refused), Some(10));
    let today = owner.usage_of(AI).await;

    // The stored window becomes yesterday's, as if the day had turned.
    superuser_execute(
        &app,
        &format!(
            "UPDATE budgets SET period_start = period_start - interval '1 day' \
              WHERE org_id = '{}' AND kind = 'ai_cost'",
            shop.org
        ),
    )
    .await;
    let usage = owner.usage_of(AI).await;
    assert_eq!((usage.spent, usage.reserved, usage.remaining), (0, 30, 70));
    assert_eq!(usage.period_start, today.period_start, "the current window");
    let next = usage.period_end.unwrap().seconds - usage.period_start.unwrap().seconds;
    assert_eq!(next, 86_400);
    worker.held(AI, 70, "night").await;
    worker.settle(&b.id, 30).await.unwrap();
    let su = app.superuser_db().await;
    assert_eq!(counters(&su, &shop.org, "ai_cost").await, (100, 30, 70));
    let start = numbers(
        &su,
        &format!(
            "SELECT extract(epoch FROM period_start)::bigint FROM budgets \
              WHERE org_id = '{}' AND kind = 'ai_cost'",
            shop.org
        ),
    )
    .await;
    assert_eq!(
        start[0],
        today.period_start.unwrap().seconds,
        "rolled over in place"
    );
}
