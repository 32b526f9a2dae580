//! What budgets refuse: bad requests, another org's reservations (NOT_FOUND
//! exactly like an unknown id), callers outside the roles, unknown
//! customers, and the app role writing counters or reservations by hand.

use ochre_sdk::v1::{BudgetKind, BudgetPeriod, ReservationState};
use ochre_tests::{prelude::*, sqlmatrix::Outcome, support::random_id};
use sea_orm::ConnectionTrait as _;

use super::{Budgets, Shop, counters};

#[tokio::test]
async fn bad_requests_are_invalid_argument_and_hold_nothing() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Bad input").await;
    let (owner, worker) = (shop.owner(&app), shop.worker(&app));
    let ai = BudgetKind::AiCost;
    let mut c = Checks::default();
    let invalid = Code::InvalidArgument;
    c.code(
        "unspecified kind",
        &worker.reserve(BudgetKind::Unspecified, 1, "k").await,
        invalid,
    );
    c.code("zero amount", &worker.reserve(ai, 0, "k").await, invalid);
    c.code(
        "negative amount",
        &worker.reserve(ai, -5, "k").await,
        invalid,
    );
    c.code("empty key", &worker.reserve(ai, 1, "").await, invalid);
    c.code(
        "key with a space",
        &worker.reserve(ai, 1, "a b").await,
        invalid,
    );
    c.code(
        "key too long",
        &worker.reserve(ai, 1, &"k".repeat(129)).await,
        invalid,
    );
    c.code(
        "key not ASCII",
        &worker.reserve(ai, 1, "clé").await,
        invalid,
    );
    c.code(
        "customer not an id",
        &worker.reserve_for(ai, 1, "k", "nope").await,
        invalid,
    );
    c.code(
        "negative limit",
        &owner.set(ai, -1, BudgetPeriod::Day).await,
        invalid,
    );
    c.code(
        "unspecified period",
        &owner.set(ai, 1, BudgetPeriod::Unspecified).await,
        invalid,
    );
    c.code(
        "clear without a kind",
        &owner.clear(BudgetKind::Unspecified).await,
        invalid,
    );
    c.code("settle a non-id", &worker.settle("nope", 1).await, invalid);
    c.code(
        "negative actual",
        &worker.settle(&random_id(), -1).await,
        invalid,
    );
    c.code("release a non-id", &worker.release("").await, invalid);
    c.code(
        "key of 128 is fine",
        &worker.reserve(ai, 1, &"k".repeat(128)).await,
        Code::Ok,
    );
    c.verify();
}

#[tokio::test]
async fn another_orgs_reservation_is_not_found_exactly_like_an_unknown_id_and_stays_as_it_was() {
    let app = spawn_app().await;
    let ours = Shop::open(&app, "Ours").await;
    let theirs = Shop::open(&app, "Theirs").await;
    let their_hold = theirs
        .worker(&app)
        .held(BudgetKind::AiCost, 40, "theirs")
        .await;
    let worker = ours.worker(&app);
    let owner = ours.owner(&app);
    let unknown = random_id();
    let mut c = Checks::default();
    let mut messages = Vec::new();
    for (who, caller) in [("worker", &worker), ("owner", &owner)] {
        for (what, id) in [("theirs", &their_hold.id), ("unknown", &unknown)] {
            let settle = caller.settle(id, 1).await;
            c.code(&format!("{who} settles {what}"), &settle, Code::NotFound);
            let release = caller.release(id).await;
            c.code(&format!("{who} releases {what}"), &release, Code::NotFound);
            for r in [settle.map(|_| ()), release.map(|_| ())] {
                messages.push(r.err().map(|s| s.message().to_owned()));
            }
        }
    }
    messages.dedup();
    c.eq("one message for all", messages.len(), 1);
    let su = app.superuser_db().await;
    c.eq(
        "their counters",
        counters(&su, &theirs.org, "ai_cost").await,
        (0, 0, 40),
    );
    // The same key in another org is another reservation.
    let same_key = worker.held(BudgetKind::AiCost, 40, "theirs").await;
    c.that(same_key.id != their_hold.id, "keys are per org");
    c.verify();
}

#[tokio::test]
async fn only_owners_and_admins_set_and_read_budgets_and_light_agents_reserve_nothing() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Roles").await;
    let admin = add_member(&app, &shop.owner, &shop.org, Role::Admin).await;
    let agent = add_member(&app, &shop.owner, &shop.org, Role::Agent).await;
    let light = add_member(&app, &shop.owner, &shop.org, Role::LightAgent).await;
    let light_key = create_api_key(&app, &shop.owner, &shop.org, Role::LightAgent)
        .await
        .unwrap()
        .secret;
    let (ai, month) = (BudgetKind::AiCost, BudgetPeriod::Month);
    let admin = Budgets::new(&app, &admin.access_token, &shop.org);
    let agent_user = Budgets::new(&app, &agent.access_token, &shop.org);
    let light = Budgets::new(&app, &light.access_token, &shop.org);
    let light_key = Budgets::new(&app, &light_key, &shop.org);
    let worker = shop.worker(&app);
    let mut c = Checks::default();
    let denied = Code::PermissionDenied;
    c.code("admin sets", &admin.set(ai, 10, month).await, Code::Ok);
    c.code("admin reads", &admin.usage().await, Code::Ok);
    for (who, b) in [
        ("agent", &agent_user),
        ("agent key", &worker),
        ("light agent", &light),
    ] {
        c.code(
            &format!("{who} sets"),
            &b.set(ai, 1_000, month).await,
            denied,
        );
        c.code(&format!("{who} clears"), &b.clear(ai).await, denied);
        c.code(&format!("{who} reads usage"), &b.usage().await, denied);
    }
    for (who, b) in [("light agent", &light), ("light key", &light_key)] {
        c.code(
            &format!("{who} reserves"),
            &b.reserve(ai, 1, "x").await,
            denied,
        );
    }
    let held = agent_user.reserve(ai, 4, "by-a-person").await;
    c.code("an agent reserves", &held, Code::Ok);
    if let Ok(r) = held {
        let id = r.reservation.unwrap().id;
        c.code(
            "a light agent cannot settle",
            &light.settle(&id, 1).await,
            denied,
        );
        c.code(
            "another worker settles",
            &worker.settle(&id, 3).await,
            Code::Ok,
        );
    }
    c.eq(
        "the limit the admin set",
        admin.usage_of(ai).await.limit,
        10,
    );
    c.verify();
}

#[tokio::test]
async fn a_reservation_names_a_customer_of_the_org_only() {
    let app = spawn_app().await;
    let ours = Shop::open(&app, "Tagged").await;
    let theirs = Shop::open(&app, "Other customers").await;
    let mine = Caller::user(&app, &ours.owner, &ours.org)
        .customer("ada@example.com")
        .await;
    let other = Caller::user(&app, &theirs.owner, &theirs.org)
        .customer("bob@example.com")
        .await;
    let worker = ours.worker(&app);
    let tagged = worker
        .reserve_for(BudgetKind::AiCost, 3, "for-ada", &mine.id)
        .await
        .unwrap()
        .reservation
        .unwrap();
    assert_eq!(tagged.customer_id, mine.id);
    assert_eq!(tagged.state, i32::from(ReservationState::Active));
    let mut c = Checks::default();
    let cases = [
        ("another org's customer", other.id.clone()),
        ("an unknown customer", random_id()),
    ];
    for (i, (what, id)) in cases.into_iter().enumerate() {
        let r = worker
            .reserve_for(BudgetKind::AiCost, 3, &format!("for-{i}"), &id)
            .await;
        c.code(what, &r, Code::NotFound);
    }
    c.verify();
}

#[tokio::test]
async fn the_app_role_cannot_raise_counters_or_limits_nor_insert_or_rewrite_reservations() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "SQL level").await;
    shop.owner(&app)
        .set(BudgetKind::AiCost, 10, BudgetPeriod::Month)
        .await
        .unwrap();
    let held = shop.worker(&app).held(BudgetKind::AiCost, 10, "one").await;
    let db = app.app_db().await;
    let org = &shop.org;
    let owner_id = &shop.owner.user_id;
    let writes = [
        format!("UPDATE budgets SET limit_amount = 1000000 WHERE org_id = '{org}'"),
        format!("UPDATE budgets SET spent = 0, reserved = 0 WHERE org_id = '{org}'"),
        format!("DELETE FROM budgets WHERE org_id = '{org}'"),
        format!(
            "INSERT INTO budgets (org_id, kind, period_start) VALUES ('{org}', 'file_bytes', now())"
        ),
        format!(
            "INSERT INTO budget_reservations (org_id, id, kind, idempotency_key, amount, \
                                              created_by_user_id, expires_at) \
             VALUES ('{org}', gen_random_uuid(), 'ai_cost', 'bypass', 5, '{owner_id}', now() + interval '1 hour')"
        ),
        format!(
            "UPDATE budget_reservations SET state = 'released', closed_at = now() WHERE id = '{}'",
            held.id
        ),
        format!(
            "UPDATE budget_reservations SET amount = 1 WHERE id = '{}'",
            held.id
        ),
        format!("DELETE FROM budget_reservations WHERE id = '{}'", held.id),
        // The internals and the sweeper are not the app role's to call.
        format!("SELECT budget_refresh('{org}', 'ai_cost')"),
        format!("SELECT budget_lock('{org}', 'ai_cost')"),
        "SELECT sweep_budget_reservations()".to_owned(),
    ];
    let mut wrong = Vec::new();
    for sql in &writes {
        let tx = begin_as(&db, &shop.owner, org).await;
        let outcome = ochre_tests::sqlmatrix::run_in(&tx, sql, vec![]).await;
        if !matches!(outcome, Outcome::PermissionDenied) {
            wrong.push(format!("{sql}: {outcome}"));
        }
        let _ = tx.rollback().await;
    }
    // Forged settings (an attacker with the app password) reserve nothing.
    let tx = sea_orm::TransactionTrait::begin(&db).await.unwrap();
    forge_settings(
        &tx,
        org_of(org),
        Some(uuid::Uuid::parse_str(owner_id).unwrap()),
        None,
    )
    .await;
    let forged = tx
        .execute_unprepared("SELECT * FROM reserve_budget('ai_cost', 1, 'forged', NULL, 60)")
        .await;
    if forged.is_ok() {
        wrong.push("reserve_budget with forged settings was admitted".to_owned());
    }
    let _ = tx.commit().await;
    assert!(wrong.is_empty(), "{wrong:#?}");
    let su = app.superuser_db().await;
    assert_eq!(counters(&su, org, "ai_cost").await, (10, 0, 10));
}
