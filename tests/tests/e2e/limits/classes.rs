//! Each rate class over its limit: per caller, per org, per client address;
//! the refusal names the class and when to retry; other callers, orgs and
//! classes are not affected.

use ochre_sdk::v1::{BudgetKind, GetServerInfoRequest, ReserveBudgetRequest};
use ochre_tests::{
    admin::sample,
    identity::{get_org, login, sign_up, strong_password},
    prelude::*,
    support::upsert_request,
};

use sea_orm::{ConnectionTrait as _, DbBackend, Statement};

use super::{app_with, throttled};

#[tokio::test]
async fn reads_over_the_per_caller_limit_are_refused_for_that_caller_only() {
    let app = app_with(&[("read.principal", "3/m:3")]).await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Reads").await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let key = create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .expect("a key")
        .secret;
    for i in 0..3 {
        get_org(&app, &owner.access_token, Some(&org))
            .await
            .unwrap_or_else(|e| panic!("read {i}: {e:?}"));
    }
    let wait = throttled(
        "the fourth read",
        get_org(&app, &owner.access_token, Some(&org)).await,
    );
    assert!(wait <= 20, "one interval of 3/m is 20 s: {wait}");
    get_org(&app, &agent.access_token, Some(&org))
        .await
        .expect("another member has a bucket of their own");
    let worker = Caller::new(&app, &key, &org);
    for _ in 0..3 {
        worker.customers_page(10, "").await.expect("a key's reads");
    }
    throttled(
        "an API key's fourth read",
        worker.customers_page(10, "").await,
    );
    // Writes are another class.
    Caller::user(&app, &owner, &org)
        .upsert(upsert_request("w@example.com"))
        .await
        .expect("a write is not a read");
}

#[tokio::test]
async fn reads_over_the_per_org_limit_are_refused_for_every_member_of_that_org_only() {
    let app = app_with(&[("read.org", "4/m:4")]).await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Busy").await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let other_owner = signup_and_login(&app, &unique_email()).await;
    let other_org = create_org(&app, &other_owner, "Quiet").await;
    for who in [&owner, &agent, &owner, &agent] {
        get_org(&app, &who.access_token, Some(&org))
            .await
            .expect("within the org's limit");
    }
    throttled(
        "the owner's read past the org's limit",
        get_org(&app, &owner.access_token, Some(&org)).await,
    );
    throttled(
        "the agent's read past the org's limit",
        get_org(&app, &agent.access_token, Some(&org)).await,
    );
    get_org(&app, &other_owner.access_token, Some(&other_org))
        .await
        .expect("another org has its own limit");
}

#[tokio::test]
async fn writes_and_privileged_calls_have_limits_of_their_own() {
    let app = app_with(&[
        ("write.principal", "3/m:3"),
        ("privileged.principal", "1/h:1"),
    ])
    .await;
    let owner = signup_and_login(&app, &unique_email()).await;
    // CreateOrg is the first write.
    let org = create_org(&app, &owner, "Writes").await;
    let api = Caller::user(&app, &owner, &org);
    for i in 0..2 {
        api.upsert(upsert_request(&format!("c{i}@example.com")))
            .await
            .expect("within the write limit");
    }
    throttled(
        "a fourth write",
        api.upsert(upsert_request("c3@example.com")).await,
    );
    create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .expect("one privileged call");
    let wait = throttled(
        "a second privileged call",
        create_api_key(&app, &owner, &org, Role::Agent).await,
    );
    assert!(
        (3000..=3600).contains(&wait),
        "1/h waits about an hour: {wait}"
    );
    api.customers_page(10, "").await.expect("reads go on");
}

#[tokio::test]
async fn public_calls_and_sign_ups_are_limited_per_client_address() {
    let app = app_with(&[("public.address", "3/m:3"), ("sign_up.address", "2/h:2")]).await;
    let mut system = app.client::<SystemClient>();
    for _ in 0..3 {
        system
            .get_server_info(GetServerInfoRequest {})
            .await
            .expect("within the address's limit");
    }
    throttled(
        "a fourth public call",
        system.get_server_info(GetServerInfoRequest {}).await,
    );
    for _ in 0..2 {
        sign_up(&app, &unique_email(), &strong_password())
            .await
            .expect("a sign-up");
    }
    throttled(
        "a third sign-up from the address",
        sign_up(&app, &unique_email(), &strong_password()).await,
    );
}

#[tokio::test]
async fn sign_ins_are_limited_per_client_address_whatever_the_account() {
    let app = app_with(&[("sign_in.address", "3/m:3")]).await;
    let email = unique_email();
    let password = strong_password();
    // Signing up is not signing in.
    sign_up(&app, &email, &password).await.expect("sign up");
    login(&app, &email, &password).await.expect("a login");
    for _ in 0..2 {
        let wrong = login(&app, &unique_email(), &password).await;
        assert_eq!(code_of(&wrong), Code::Unauthenticated);
    }
    throttled(
        "a fourth sign-in, even with the right password",
        login(&app, &email, &password).await,
    );
}

#[tokio::test]
async fn budget_calls_are_limited_per_caller_and_per_org_in_the_database() {
    let app = app_with(&[("budget.principal", "2/m:2"), ("budget.org", "3/m:3")]).await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Workers").await;
    let mut keys = Vec::new();
    for _ in 0..2 {
        let key = create_api_key(&app, &owner, &org, Role::Agent).await;
        keys.push(key.expect("a worker key").secret);
    }
    let reserve = |key: &str, n: u32| {
        let request = ReserveBudgetRequest {
            kind: BudgetKind::AiCost.into(),
            amount: 1,
            idempotency_key: format!("r-{n}"),
            customer_id: String::new(),
        };
        let mut client = app.client::<BudgetClient>();
        let request = with_auth(request, key, Some(&org));
        async move { client.reserve_budget(request).await }
    };
    reserve(&keys[0], 1).await.expect("first");
    reserve(&keys[0], 2).await.expect("second");
    throttled("the caller's third", reserve(&keys[0], 3).await);
    reserve(&keys[1], 4).await.expect("another worker");
    throttled("past the org's limit", reserve(&keys[1], 5).await);
    let su = app.superuser_db().await;
    let row = su
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) FROM rate_buckets WHERE key LIKE 'budget.%'",
        ))
        .await
        .expect("query")
        .expect("a row");
    let keys_kept: i64 = row.try_get_by_index(0).expect("count");
    assert_eq!(keys_kept, 3, "kept in Postgres: two callers and the org");
}

#[tokio::test]
async fn the_app_role_can_neither_charge_nor_read_nor_reset_the_shared_limits() {
    let app = app_with(&[("budget.org", "1/h:1")]).await;
    let db = app.app_db().await;
    let mut c = Checks::default();
    for (what, sql) in [
        (
            "call rate_limit_take",
            "SELECT rate_limit_take('budget.org|org:x', 1000000, 1)",
        ),
        ("call sweep_rate_buckets", "SELECT sweep_rate_buckets()"),
        ("read rate_buckets", "SELECT count(*) FROM rate_buckets"),
        ("reset a key", "DELETE FROM rate_buckets"),
        (
            "forge a key",
            "INSERT INTO rate_buckets VALUES ('x', now())",
        ),
    ] {
        let refused = db
            .execute_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .is_err();
        c.that(refused, what);
    }
    c.verify();
}

/// GetConversation's identity call travels with its query (the gate leaves
/// the verdict to the handler): the org's limit is charged once the caller
/// is admitted, as for every other read, and a refused stranger's calls
/// are not charged to the org; both refusals are counted as the gate's.
#[tokio::test]
async fn a_read_in_one_round_trip_is_charged_to_the_org_once_the_caller_is_admitted() {
    let app = app_with(&[("read.org", "3/m:3")]).await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "One trip").await;
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("trip@example.com").await;
    let conversation = api.conversation(&customer.id, "Subject").await;
    let stranger = signup_and_login(&app, &unique_email()).await;
    let outside = Caller::user(&app, &stranger, &org);
    let before = app.metrics().await;
    for _ in 0..5 {
        let refused = outside.conversation_by_id(&conversation.id).await;
        assert_eq!(code_of(&refused), Code::PermissionDenied);
    }
    for _ in 0..3 {
        api.conversation_by_id(&conversation.id)
            .await
            .expect("within the org's limit");
    }
    throttled(
        "the read past the org's limit",
        api.conversation_by_id(&conversation.id).await,
    );
    // Counted as the gate counts its refusals.
    let after = app.metrics().await;
    let refusals = |reason| {
        let labels = [("reason", reason)];
        let name = "ochre_gate_refusals_total";
        sample(&after, name, &labels) - sample(&before, name, &labels)
    };
    assert_eq!(refusals("NOT_A_MEMBER"), 5.0);
    assert_eq!(refusals("RATE_LIMITED"), 1.0);
}
