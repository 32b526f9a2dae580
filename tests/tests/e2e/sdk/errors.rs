//! Refusals come back as one `OchreError` with their `google.rpc` details
//! decoded; every service of the contract is reachable from the client.

use std::{collections::BTreeSet, time::Duration};

use ochre_sdk::{
    client::{OchreClient, OchreError, RPCS},
    v1::{BudgetKind, BudgetPeriod, ReserveBudgetRequest, SetBudgetRequest},
};
use ochre_tests::prelude::*;

use super::{key_client, url};

#[tokio::test]
async fn a_rate_limited_read_decodes_its_retry_delay_and_is_not_retried() {
    let app = crate::limits::app_with(&[("read.principal", "2/m:2")]).await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Throttled").await;
    let key = create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .expect("a key")
        .secret;
    let client = key_client(url(&app), &key, &org).await;
    for _ in 0..2 {
        client
            .customers()
            .list_customers(Default::default())
            .await
            .expect("within the limit");
    }
    let started = std::time::Instant::now();
    let err = client
        .customers()
        .list_customers(Default::default())
        .await
        .expect_err("over the limit");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    let delay = err.retry_after().expect("a RetryInfo delay");
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(30),
        "{delay:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "RESOURCE_EXHAUSTED is returned, not waited out"
    );
    assert!(err.message().starts_with("too many "), "{err}");
}

#[tokio::test]
async fn a_refused_reservation_decodes_its_reason_and_metadata() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Budgeted").await;
    let key = create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .expect("a key")
        .secret;
    let admin = OchreClient::builder(url(&app))
        .session(super::tokens_expiring(&app, &owner, Duration::from_secs(600)).await)
        .org(&org)
        .build()
        .await
        .expect("the owner's client");
    admin
        .budgets()
        .set_budget(SetBudgetRequest {
            kind: BudgetKind::AiCost.into(),
            limit: 10,
            period: BudgetPeriod::Day.into(),
        })
        .await
        .expect("set a budget");
    let worker = key_client(url(&app), &key, &org).await;
    let err = worker
        .budgets()
        .reserve_budget(ReserveBudgetRequest {
            kind: BudgetKind::AiCost.into(),
            amount: 100,
            idempotency_key: "FAKE-reservation-1".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("over the budget");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert_eq!(err.reason(), Some("BUDGET_EXHAUSTED"), "{err:?}");
    let info = err.error_info().expect("ErrorInfo");
    assert_eq!(
        info.metadata.get("remaining").map(String::as_str),
        Some("10")
    );
    assert!(err.field_violations().is_empty());
    assert!(err.to_string().contains("[BUDGET_EXHAUSTED]"), "{err}");
}

/// One call through the client per service (what a handler answers
/// matters less than that the call reached it).
async fn call_one(client: &OchreClient, service: &str) -> Result<(), OchreError> {
    match service {
        "ochre.v1.ApiKeyService" => client
            .api_keys()
            .list_api_keys(Default::default())
            .await
            .map(drop),
        "ochre.v1.AuditService" => client
            .audit()
            .get_audit_public_key(Default::default())
            .await
            .map(drop),
        "ochre.v1.AuthService" => client.auth().who_am_i(Default::default()).await.map(drop),
        "ochre.v1.BudgetService" => client
            .budgets()
            .get_budget_usage(Default::default())
            .await
            .map(drop),
        "ochre.v1.ConversationService" => client
            .conversations()
            .list_conversations(Default::default())
            .await
            .map(drop),
        "ochre.v1.CustomerService" => client
            .customers()
            .list_customers(Default::default())
            .await
            .map(drop),
        "ochre.v1.ExportService" => {
            let mut stream = client
                .exports()
                .export_workspace(Default::default())
                .await?;
            stream.message().await.map(drop).map_err(OchreError::from)
        }
        "ochre.v1.GuardService" => client
            .guard()
            .screen_text(Default::default())
            .await
            .map(drop),
        "ochre.v1.IntegrationService" => client
            .integrations()
            .list_integrations(Default::default())
            .await
            .map(drop),
        "ochre.v1.MemberService" => client
            .members()
            .list_members(Default::default())
            .await
            .map(drop),
        "ochre.v1.OrgService" => client.orgs().get_org(Default::default()).await.map(drop),
        "ochre.v1.SurveyService" => client
            .surveys()
            .get_csat_summary(Default::default())
            .await
            .map(drop),
        "ochre.v1.SystemService" => client
            .system()
            .get_server_info(Default::default())
            .await
            .map(drop),
        "ochre.v1.WebhookService" => client
            .webhooks()
            .list_webhook_events(Default::default())
            .await
            .map(drop),
        other => panic!("{other} is not exercised here: add a call for it to call_one"),
    }
}

#[tokio::test]
async fn every_service_of_the_contract_is_reachable_from_the_client() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Everything").await;
    let client = OchreClient::builder(url(&app))
        .session(super::tokens_expiring(&app, &owner, Duration::from_secs(600)).await)
        .org(&org)
        .gzip(true)
        .build()
        .await
        .expect("the owner's client");
    let services: BTreeSet<&str> = RPCS.iter().map(|r| r.service).collect();
    assert!(services.len() >= 14, "{services:?}");
    for service in services {
        match call_one(&client, service).await {
            Ok(()) => {}
            // Answered by the handler: the request was incomplete.
            Err(e) if matches!(e.code(), Code::InvalidArgument | Code::FailedPrecondition) => {}
            Err(e) => panic!("{service}: {e:?}"),
        }
    }
}

#[tokio::test]
async fn a_bad_field_comes_back_as_a_field_violation_naming_it() {
    let app = spawn_app().await;
    let client = OchreClient::builder(url(&app))
        .build()
        .await
        .expect("an anonymous client");
    let err = client
        .auth()
        .sign_up(ochre_sdk::v1::SignUpRequest {
            email: "not-an-email".to_owned(),
            password: ochre_tests::identity::strong_password(),
            display_name: String::new(),
        })
        .await
        .expect_err("a bad email");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let fields: Vec<&str> = err
        .field_violations()
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    assert_eq!(fields, ["email"], "{err:?}");
    assert!(err.reason().is_some(), "an ErrorInfo reason: {err:?}");
}
