//! `ListWebhookEvents`: which roles may list, org isolation, paging
//! newest first, filters and bad page tokens.

use ochre_tests::prelude::*;

use super::{
    http::{Http, accepted, refused},
    providers::P,
    rpc::{connect_hook, filter, list_all, list_page, new_org},
    signing::Hook,
};

#[tokio::test]
async fn a_delivery_lands_only_in_the_org_its_integration_id_names() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let (a, b) = (new_org(&app, "A").await, new_org(&app, "B").await);
    let (secret_a, secret_b) = (P::GitHub.new_secret(), P::GitHub.new_secret());
    let in_a = connect_hook(&app, &a, P::GitHub, &secret_a).await;
    let in_b = connect_hook(&app, &b, P::GitHub, &secret_b).await;
    let mut c = Checks::default();
    let delivery = Hook::new(P::GitHub, &secret_a).build(&a.id, &in_a);
    let event_id = accepted(&mut c, "to org A", &http.post(&delivery).await);
    let second = Hook::new(P::GitHub, &secret_a).build(&a.id, &in_a);
    let second_id = accepted(&mut c, "to org A again", &http.post(&second).await);
    // Org B's secret does not open org A's integration, nor A's B's.
    let cross = Hook::new(P::GitHub, &secret_b).build(&a.id, &in_a);
    refused(
        &mut c,
        "B's secret to A",
        &http.post(&cross).await,
        401,
        &cross,
    );
    let cross = Hook::new(P::GitHub, &secret_a).build(&b.id, &in_b);
    refused(
        &mut c,
        "A's secret to B",
        &http.post(&cross).await,
        401,
        &cross,
    );
    let in_org_a = list_all(&app, &a.owner.access_token, &a.id, "", "", 100)
        .await
        .unwrap();
    let ids: Vec<&str> = in_org_a.iter().map(|e| e.id.as_str()).collect();
    c.eq("org A", ids, vec![second_id.as_str(), event_id.as_str()]);
    let in_org_b = list_all(&app, &b.owner.access_token, &b.id, "", "", 100)
        .await
        .unwrap();
    c.that(
        in_org_b.is_empty(),
        &format!("org B lists nothing, got {in_org_b:?}"),
    );
    let by_a_id = list_all(&app, &b.owner.access_token, &b.id, "", &in_a, 100).await;
    let leaks = match &by_a_id {
        Ok(events) => !events.is_empty(),
        Err(s) => !matches!(s.code(), Code::NotFound | Code::InvalidArgument),
    };
    c.that(
        !leaks,
        &format!("org B filtering by org A's integration: {by_a_id:?}"),
    );
    // A page token of org A read in org B yields nothing of A.
    let first_page = list_page(&app, &a.owner.access_token, &a.id, filter("", "", 1, ""))
        .await
        .unwrap();
    c.that(
        !first_page.next_page_token.is_empty(),
        "org A's first page of one has a next page",
    );
    let request = filter("", "", 1, &first_page.next_page_token);
    let foreign = list_page(&app, &b.owner.access_token, &b.id, request).await;
    let leaks = match &foreign {
        Ok(page) => !page.events.is_empty(),
        Err(s) => s.code() != Code::InvalidArgument,
    };
    c.that(!leaks, &format!("org A's page token in org B: {foreign:?}"));
    // Org A's owner naming org B in the header sees nothing of A either.
    let mixed = list_all(&app, &a.owner.access_token, &b.id, "", "", 100).await;
    c.eq("A's owner in B", code_of(&mixed), Code::PermissionDenied);
    c.verify();
}

#[tokio::test]
async fn owners_admins_and_agents_list_webhook_events_and_light_agents_are_refused() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Roles").await;
    let secret = P::Stripe.new_secret();
    let integration = connect_hook(&app, &org, P::Stripe, &secret).await;
    let delivery = Hook::new(P::Stripe, &secret).build(&org.id, &integration);
    let mut c = Checks::default();
    let event_id = accepted(&mut c, "delivery", &http.post(&delivery).await);
    let admin = add_member(&app, &org.owner, &org.id, Role::Admin).await;
    let agent = add_member(&app, &org.owner, &org.id, Role::Agent).await;
    let light = add_member(&app, &org.owner, &org.id, Role::LightAgent).await;
    for (who, session) in [("owner", &org.owner), ("admin", &admin), ("agent", &agent)] {
        let events = list_all(&app, &session.access_token, &org.id, "", "", 10).await;
        match events {
            Ok(events) => {
                let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
                c.eq(who, ids, vec![event_id.as_str()]);
            }
            Err(s) => c.that(false, &format!("{who}: {s:?}")),
        }
    }
    let refused = list_all(&app, &light.access_token, &org.id, "", "", 10).await;
    c.eq("light agent", code_of(&refused), Code::PermissionDenied);
    let anonymous = list_page(&app, "not-a-token", &org.id, filter("", "", 10, "")).await;
    c.eq("bad token", code_of(&anonymous), Code::Unauthenticated);
    c.verify();
}

#[tokio::test]
async fn listing_pages_newest_first_and_returns_every_event_once() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Pages").await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let mut c = Checks::default();
    let mut sent = Vec::new();
    for i in 0..5 {
        let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
        let answer = http.post(&delivery).await;
        let event_id = accepted(&mut c, &format!("delivery {i}"), &answer);
        sent.push((event_id, delivery.delivery_id));
    }
    let (mut listed, mut sizes, mut received) = (Vec::new(), Vec::new(), Vec::new());
    let mut page_token = String::new();
    for _ in 0..10 {
        let request = filter("", "", 2, &page_token);
        let page = list_page(&app, &org.owner.access_token, &org.id, request)
            .await
            .unwrap();
        sizes.push(page.events.len());
        for e in page.events {
            received.push(e.received_at.map(|t| (t.seconds, t.nanos)));
            listed.push((e.id, e.delivery_id));
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let newest_first: Vec<(String, String)> = sent.iter().rev().cloned().collect();
    c.eq("events, newest first", listed, newest_first);
    c.eq("page sizes", sizes, vec![2, 2, 1]);
    c.that(
        received.windows(2).all(|w| w[0] >= w[1]),
        &format!("received_at never increases down the list: {received:?}"),
    );
    c.verify();
}

#[tokio::test]
async fn listing_filters_by_provider_and_integration_and_refuses_bad_filters_and_page_tokens() {
    // One integration per provider and org: two GitHub deliveries, one Stripe.
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Filters").await;
    let (gs, ss) = (P::GitHub.new_secret(), P::Stripe.new_secret());
    let g = connect_hook(&app, &org, P::GitHub, &gs).await;
    let s = connect_hook(&app, &org, P::Stripe, &ss).await;
    let mut c = Checks::default();
    let mut ids = std::collections::HashMap::new();
    for (what, p, secret, id) in [
        ("github 1", P::GitHub, &gs, &g),
        ("github 2", P::GitHub, &gs, &g),
        ("stripe", P::Stripe, &ss, &s),
    ] {
        let delivery = Hook::new(p, secret).build(&org.id, id);
        let event_id = accepted(&mut c, what, &http.post(&delivery).await);
        ids.insert(event_id, (p.id().to_owned(), id.clone()));
    }
    let token = &org.owner.access_token;
    // (provider, integration) of each listed event, checked against what
    // its delivery was sent as.
    let shape = |events: Vec<ochre_sdk::v1::WebhookEvent>| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = events
            .into_iter()
            .map(|e| {
                let sent = ids.get(&e.id).cloned();
                assert_eq!(
                    sent,
                    Some((e.provider.clone(), e.integration_id.clone())),
                    "event {} is listed as what was sent",
                    e.id
                );
                (e.provider, e.integration_id)
            })
            .collect();
        v.sort();
        v
    };
    let pair = |p: &str, id: &str| (p.to_owned(), id.to_owned());
    let github = vec![pair("github", &g), pair("github", &g)];
    let mut every = vec![pair("github", &g), pair("github", &g), pair("stripe", &s)];
    every.sort();
    for (what, provider, integration, expected) in [
        ("no filter", "", "", every),
        ("provider github", "github", "", github.clone()),
        ("integration of github", "", g.as_str(), github.clone()),
        ("both", "github", g.as_str(), github),
        ("provider stripe", "stripe", "", vec![pair("stripe", &s)]),
        (
            "integration of stripe",
            "",
            s.as_str(),
            vec![pair("stripe", &s)],
        ),
        ("provider paddle", "paddle", "", vec![]),
        (
            "github with stripe's integration",
            "github",
            s.as_str(),
            vec![],
        ),
    ] {
        let listed = list_all(&app, token, &org.id, provider, integration, 50).await;
        c.eq(what, listed.map(shape).ok(), Some(expected));
    }
    for (what, request) in [
        ("unknown provider", filter("gitlab", "", 10, "")),
        ("bad page token", filter("", "", 10, "not-a-page-token")),
        (
            "bad page token (base64)",
            filter("", "", 10, "AAAAAAAAAAAAAAAA"),
        ),
    ] {
        let answer = list_page(&app, token, &org.id, request).await;
        c.eq(what, code_of(&answer), Code::InvalidArgument);
    }
    c.verify();
}

#[tokio::test]
async fn a_webhook_events_page_token_from_one_org_is_refused_in_another() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    let mut orgs = Vec::new();
    for name in ["First", "Second"] {
        let org = new_org(&app, name).await;
        let secret = P::GitHub.new_secret();
        let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
        for i in 0..2 {
            let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
            accepted(&mut c, &format!("{name} {i}"), &http.post(&delivery).await);
        }
        orgs.push(org);
    }
    let (first, second) = (&orgs[0], &orgs[1]);
    let page = list_page(
        &app,
        &first.owner.access_token,
        &first.id,
        filter("", "", 1, ""),
    )
    .await
    .unwrap();
    c.that(!page.next_page_token.is_empty(), "a next page exists");
    let token = page.next_page_token;
    let elsewhere = list_page(
        &app,
        &second.owner.access_token,
        &second.id,
        filter("", "", 1, &token),
    )
    .await;
    c.eq(
        "the first org's token in the second org",
        code_of(&elsewhere),
        Code::InvalidArgument,
    );
    let home = list_page(
        &app,
        &first.owner.access_token,
        &first.id,
        filter("", "", 1, &token),
    )
    .await;
    c.eq("the token in its own org", code_of(&home), Code::Ok);
    c.verify();
}
