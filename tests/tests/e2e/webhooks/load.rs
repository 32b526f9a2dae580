//! Webhook ingress under load: identical deliveries racing each other are
//! stored once, and a thousand distinct deliveries at concurrency 50 are
//! all stored, none lost.

use std::{collections::HashSet, sync::Arc};

use ochre_tests::prelude::*;
use tokio::{
    sync::{Barrier, Semaphore},
    task::JoinSet,
};

use super::{
    http::{Answer, Http},
    providers::P,
    rpc::{connect_hook, list_all, new_org, stored},
    signing::Hook,
};

async fn loaded_app() -> TestApp {
    spawn_app_with(AppOptions {
        db_max_connections: 16,
        ..Default::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_identical_deliveries_at_once_store_one_event_and_are_accepted_once() {
    let app = loaded_app().await;
    let org = new_org(&app, "Race").await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for p in [P::GitHub, P::Stripe] {
        let secret = p.new_secret();
        let integration = connect_hook(&app, &org, p, &secret).await;
        let delivery = Arc::new(Hook::new(p, &secret).build(&org.id, &integration));
        let start = Arc::new(Barrier::new(100));
        let mut tasks = JoinSet::new();
        for _ in 0..100 {
            let (http, delivery, start) = (http.clone(), delivery.clone(), start.clone());
            tasks.spawn(async move {
                start.wait().await;
                http.post(&delivery).await
            });
        }
        let answers = tasks.join_all().await;
        let what = p.id();
        let not_ok: Vec<String> = answers
            .iter()
            .filter(|a| a.status != 200)
            .map(Answer::show)
            .collect();
        c.that(
            not_ok.is_empty(),
            &format!("{what}: every answer is 200, got {not_ok:?}"),
        );
        let outcomes: Vec<String> = answers.iter().map(Answer::outcome).collect();
        let count = |o: &str| outcomes.iter().filter(|x| *x == o).count();
        c.eq(&format!("{what}: accepted answers"), count("accepted"), 1);
        c.eq(
            &format!("{what}: duplicate answers"),
            count("duplicate"),
            99,
        );
        let event_ids: HashSet<String> = answers
            .iter()
            .filter(|a| a.outcome() == "accepted")
            .map(Answer::event_id)
            .collect();
        let events = stored(&app, &org, &integration).await;
        let listed: HashSet<String> = events.iter().map(|e| e.id.clone()).collect();
        c.eq(&format!("{what}: events stored"), events.len(), 1);
        c.eq(&format!("{what}: the accepted event"), listed, event_ids);
    }
    c.verify();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_distinct_deliveries_at_concurrency_fifty_are_all_stored() {
    const TOTAL: usize = 1_000;
    const CONCURRENCY: usize = 50;
    let app = loaded_app().await;
    let org = new_org(&app, "Load").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let http = Http::new(&app);
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut tasks = JoinSet::new();
    let mut sent = HashSet::new();
    for _ in 0..TOTAL {
        let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
        sent.insert(delivery.delivery_id.clone());
        let (http, permits) = (http.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            (delivery.delivery_id.clone(), http.post(&delivery).await)
        });
    }
    let answers = tasks.join_all().await;
    let mut c = Checks::default();
    c.eq("distinct deliveries sent", sent.len(), TOTAL);
    let refused: Vec<String> = answers
        .iter()
        .filter(|(_, a)| a.status != 200 || a.outcome() != "accepted")
        .map(|(id, a)| format!("{id}: {}", a.show()))
        .take(10)
        .collect();
    c.that(
        refused.is_empty(),
        &format!("every delivery is 200 accepted; first refusals: {refused:?}"),
    );
    let accepted_ids: HashSet<String> = answers.iter().map(|(_, a)| a.event_id()).collect();
    c.eq("distinct event ids answered", accepted_ids.len(), TOTAL);
    let events = list_all(&app, &org.owner.access_token, &org.id, "", "", 100)
        .await
        .unwrap();
    c.eq("events listed", events.len(), TOTAL);
    let listed_deliveries: HashSet<String> = events.iter().map(|e| e.delivery_id.clone()).collect();
    c.eq(
        "distinct delivery ids listed",
        listed_deliveries.len(),
        TOTAL,
    );
    c.that(
        listed_deliveries == sent,
        "the listed delivery ids are exactly those sent",
    );
    let listed_ids: HashSet<String> = events.iter().map(|e| e.id.clone()).collect();
    c.that(
        listed_ids == accepted_ids,
        "the listed event ids are exactly those answered",
    );
    c.verify();
}
