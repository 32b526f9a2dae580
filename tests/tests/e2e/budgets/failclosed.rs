//! Fail closed: when the database cannot answer, nothing is admitted.

use ochre_sdk::v1::{BudgetKind, BudgetPeriod};
use ochre_tests::prelude::*;
use sea_orm::ConnectionTrait as _;

use super::{Shop, counters, numbers};

#[tokio::test]
async fn a_stopped_database_admits_no_reservation_and_answers_unavailable() {
    let app = spawn_app().await;
    let shop = Shop::open(&app, "Fail closed").await;
    let (owner, worker) = (shop.owner(&app), shop.worker(&app));
    owner
        .set(BudgetKind::AiCost, 1_000, BudgetPeriod::Month)
        .await
        .unwrap();
    worker.held(BudgetKind::AiCost, 10, "before").await;

    // The database stops answering this server: no new connection is
    // allowed, and every open one is cut.
    // From another database: a database cannot close itself.
    let admin = app.cluster.connect_superuser("postgres").await;
    let su = app.superuser_db().await;
    let db = &app.database;
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
          WHERE datname = '{db}'"
        ))
        .await
        .expect("stop the database for the server");
    let mut c = Checks::default();
    for i in 0..5 {
        let r = worker
            .reserve(BudgetKind::AiCost, 10, &format!("during-{i}"))
            .await;
        c.code(&format!("reservation {i}"), &r, Code::Unavailable);
        if let Err(s) = &r {
            c.that(
                s.message() == "the service is temporarily unavailable: retry",
                &format!("a safe message: {}", s.message()),
            );
        }
    }
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS true"
        ))
        .await
        .expect("restart");
    c.eq(
        "nothing was held",
        counters(&su, &shop.org, "ai_cost").await,
        (1_000, 0, 10),
    );
    let rows = numbers(
        &su,
        &format!(
            "SELECT count(*) FROM budget_reservations WHERE org_id = '{}'",
            shop.org
        ),
    )
    .await;
    c.eq("one reservation row", rows, vec![1]);
    // Back up: the same key is a new attempt, admitted once.
    let mut after = worker.reserve(BudgetKind::AiCost, 10, "during-0").await;
    for _ in 0..20 {
        if after.as_ref().is_err_and(|s| s.code() == Code::Unavailable) {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            after = worker.reserve(BudgetKind::AiCost, 10, "during-0").await;
        }
    }
    c.that(
        after.as_ref().is_ok_and(|r| !r.replayed),
        &format!("admitted afresh once the database answers: {after:?}"),
    );
    c.verify();
}
