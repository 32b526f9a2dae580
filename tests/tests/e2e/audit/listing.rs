//! `ListAuditEvents`: owners and admins read their org's chain newest
//! first, filtered and paged, with the hashes that link it.

use ochre_sdk::v1::{ListAuditEventsRequest, audit_service_client::AuditServiceClient};
use ochre_tests::prelude::*;
use tonic::transport::Channel;

async fn list(
    app: &TestApp,
    who: &Session,
    org: &str,
    request: ListAuditEventsRequest,
) -> Result<ochre_sdk::v1::ListAuditEventsResponse, tonic::Status> {
    AuditServiceClient::<Channel>::new(app.channel.clone())
        .list_audit_events(with_auth(request, &who.access_token, Some(org)))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn owners_and_admins_page_through_the_chain_newest_first_and_filter_it() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Listed").await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    for who in [&owner, &owner, &admin] {
        create_api_key(&app, who, &org, Role::Agent).await.unwrap();
    }
    // invited, joined, 3 keys.
    let all = list(&app, &owner, &org, ListAuditEventsRequest::default())
        .await
        .unwrap();
    let seqs: Vec<i64> = all.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [5, 4, 3, 2, 1]);
    for pair in all.events.windows(2) {
        assert_eq!(pair[0].prev_hash, pair[1].hash, "linked");
    }
    assert_eq!(all.events[4].prev_hash, vec![0u8; 32]);
    let detail: serde_json::Value = serde_json::from_str(&all.events[0].details_json).unwrap();
    assert_eq!(detail["role"], "agent");
    assert!(!all.events[0].request_id.is_empty());
    assert_eq!(all.events[0].actor_user_id, admin.user_id);

    let by_admin = ListAuditEventsRequest {
        actor_user_id: admin.user_id.clone(),
        action: "api_key.created".into(),
        ..Default::default()
    };
    let theirs = list(&app, &admin, &org, by_admin).await.unwrap();
    assert_eq!(theirs.events.len(), 1);
    let (mut seen, mut token) = (Vec::new(), String::new());
    loop {
        let page = ListAuditEventsRequest {
            page_size: 2,
            page_token: token.clone(),
            ..Default::default()
        };
        let page = list(&app, &owner, &org, page).await.unwrap();
        seen.extend(page.events.iter().map(|e| e.seq));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, seqs);
    let before = ListAuditEventsRequest {
        until: Some(prost_types::Timestamp {
            seconds: unix_now() as i64 - 3600,
            nanos: 0,
        }),
        ..Default::default()
    };
    assert!(
        list(&app, &owner, &org, before)
            .await
            .unwrap()
            .events
            .is_empty()
    );

    let mut c = Checks::default();
    let bad_action = ListAuditEventsRequest {
        action: "x'; DROP TABLE audit_log; --".into(),
        ..Default::default()
    };
    c.call(
        "bad action",
        Code::InvalidArgument,
        list(&app, &owner, &org, bad_action),
    )
    .await;
    let bad_actor = ListAuditEventsRequest {
        actor_user_id: "me".into(),
        ..Default::default()
    };
    c.call(
        "bad actor",
        Code::InvalidArgument,
        list(&app, &owner, &org, bad_actor),
    )
    .await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let agents = list(&app, &agent, &org, ListAuditEventsRequest::default());
    c.call("an agent", Code::PermissionDenied, agents).await;
    // Another org's owner sees only its own (empty but for nothing) chain.
    let outsider = signup_and_login(&app, &unique_email()).await;
    let elsewhere = create_org(&app, &outsider, "Elsewhere").await;
    let theirs = list(
        &app,
        &outsider,
        &elsewhere,
        ListAuditEventsRequest::default(),
    )
    .await;
    c.eq("another org's chain", theirs.unwrap().events.len(), 0);
    let foreign_token = ListAuditEventsRequest {
        page_token: list(
            &app,
            &owner,
            &org,
            ListAuditEventsRequest {
                page_size: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .next_page_token,
        ..Default::default()
    };
    let refused = list(&app, &outsider, &elsewhere, foreign_token);
    c.call(
        "a page token of another org",
        Code::InvalidArgument,
        refused,
    )
    .await;
    c.verify();
}
