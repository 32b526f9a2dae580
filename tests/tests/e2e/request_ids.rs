//! Idempotent creates (AIP-155): a create carrying a `request_id` answers a
//! retry with its first answer and creates nothing, under concurrency too;
//! the same id with another request is refused; ids belong to their caller
//! and org (a CreateOrg's org id is derived from its caller and id);
//! the kept answer is sealed and goes with an erased customer.

use std::collections::HashSet;

use ochre_sdk::v1::{
    ConnectIntegrationRequest, CreateApiKeyRequest, CreateInvitationRequest, CreateOrgRequest,
    EraseCustomerRequest, ListApiKeysRequest, ListMyOrgsRequest, MessageKind, SendSurveyRequest,
    UpsertCustomerRequest,
};
use ochre_tests::{
    concurrent::join_all,
    errors,
    identity::superuser_count as count,
    prelude::*,
    support::{message_request, open_request},
};

/// The creates that do not begin with `Create` (ReserveBudget has its own
/// required `idempotency_key`).
const OTHER_CREATES: &[&str] = &[
    "AddMessage",
    "UpsertCustomer",
    "ConnectIntegration",
    "SendSurvey",
];

#[test]
fn every_create_of_the_contract_takes_a_request_id() {
    let pool = prost_reflect::DescriptorPool::decode(ochre_sdk::FILE_DESCRIPTOR_SET).unwrap();
    let mut creates = 0;
    for service in pool.services() {
        for method in service.methods() {
            let name = method.name();
            if !(name.starts_with("Create") || OTHER_CREATES.contains(&name)) {
                continue;
            }
            creates += 1;
            let field = method.input().get_field_by_name("request_id");
            assert!(
                matches!(field.map(|f| f.kind()), Some(prost_reflect::Kind::String)),
                "{} has no string request_id",
                method.full_name()
            );
        }
    }
    assert_eq!(creates, 8);
}

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn sixteen_concurrent_retries_of_a_create_with_one_request_id_create_one_row() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Retries").await;
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("retry@example.com").await.id;
    let mut open = open_request(&customer, 1, "Where is my order?");
    open.request_id = rid();
    let answers = join_all((0..16).map(|_| api.create(open.clone()))).await;
    let ids: HashSet<String> = answers.into_iter().map(|a| a.unwrap().id).collect();
    assert_eq!(ids.len(), 1, "every retry answers the same conversation");
    let sql = format!("SELECT count(*) FROM conversations WHERE org_id = '{org}'");
    assert_eq!(count(&app, &sql).await, 1);

    let conversation = ids.into_iter().next().unwrap();
    let mut add = message_request(&conversation, MessageKind::InboundChat, "hello?");
    add.request_id = rid();
    let answers = join_all((0..16).map(|_| api.add(add.clone()))).await;
    let ids: HashSet<String> = answers.into_iter().map(|a| a.unwrap().id).collect();
    assert_eq!(ids.len(), 1, "every retry answers the same message");
    let sql = format!("SELECT count(*) FROM messages WHERE org_id = '{org}'");
    assert_eq!(count(&app, &sql).await, 1);
}

#[tokio::test]
async fn every_create_answers_a_retry_with_its_first_answer_and_creates_nothing() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let (token, id) = (owner.access_token.as_str(), rid());
    let mut orgs = app.client::<OrgClient>();
    let create = || CreateOrgRequest {
        name: "Once".into(),
        request_id: id.clone(),
    };
    let first = orgs.create_org(with_auth(create(), token, None)).await;
    let again = orgs.create_org(with_auth(create(), token, None)).await;
    assert_eq!(first.unwrap().into_inner(), again.unwrap().into_inner());
    let mine = orgs
        .list_my_orgs(with_auth(ListMyOrgsRequest::default(), token, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.memberships.len(), 1, "one org, not two");
    let org = mine.memberships[0].org.clone().unwrap().id;
    let o = Some(org.as_str());

    // An API key: the retry gets the same secret, which works.
    let mut keys = app.client::<ApiKeyClient>();
    let key = CreateApiKeyRequest {
        name: "worker".into(),
        role: Role::Agent.into(),
        request_id: rid(),
    };
    let first = keys.create_api_key(with_auth(key.clone(), token, o)).await;
    let again = keys.create_api_key(with_auth(key, token, o)).await;
    let (first, again) = (first.unwrap().into_inner(), again.unwrap().into_inner());
    assert_eq!(first, again);
    let listed = keys
        .list_api_keys(with_auth(ListApiKeysRequest::default(), token, o))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.api_keys.len(), 1);
    let by_key = Caller::new(&app, &again.secret, &org);
    let customer = by_key.customer("key@example.com").await.id;

    // An invitation: the same token.
    let mut members = app.client::<MemberClient>();
    let invite = CreateInvitationRequest {
        email: unique_email(),
        role: Role::Agent.into(),
        request_id: rid(),
    };
    let first = members
        .create_invitation(with_auth(invite.clone(), token, o))
        .await;
    let again = members.create_invitation(with_auth(invite, token, o)).await;
    assert_eq!(first.unwrap().into_inner(), again.unwrap().into_inner());

    // A customer, a conversation, a survey, an integration.
    let api = Caller::user(&app, &owner, &org);
    let upsert = UpsertCustomerRequest {
        email: "once@example.com".into(),
        name: "Ada".into(),
        request_id: rid(),
        ..Default::default()
    };
    let first = api.upsert_customer(upsert.clone()).await.unwrap();
    assert!(first.created);
    assert_eq!(api.upsert_customer(upsert).await.unwrap(), first);
    let mut open = open_request(&customer, 1, "once");
    open.request_id = rid();
    let conversation = api.create(open.clone()).await.unwrap();
    assert_eq!(api.create(open).await.unwrap(), conversation);
    let survey = SendSurveyRequest {
        conversation_id: conversation.id.clone(),
        request_id: rid(),
        ..Default::default()
    };
    let first = api.send_survey(survey.clone()).await.unwrap();
    assert_eq!(api.send_survey(survey).await.unwrap(), first);
    let mut integrations = app.client::<IntegrationClient>();
    let connect = ConnectIntegrationRequest {
        provider: "openai".into(),
        secrets: [("api_key".to_owned(), "sk-FAKE-once".to_owned())].into(),
        request_id: rid(),
        ..Default::default()
    };
    let first = integrations
        .connect_integration(with_auth(connect.clone(), token, o))
        .await;
    let again = integrations
        .connect_integration(with_auth(connect, token, o))
        .await;
    assert_eq!(first.unwrap().into_inner(), again.unwrap().into_inner());

    let per_table = [
        ("api_keys", 1),
        ("invitations", 1),
        ("customers", 2),
        ("conversations", 1),
        ("surveys", 1),
        ("integrations", 1),
        ("request_ids", 7),
    ];
    for (table, expected) in per_table {
        let sql = format!("SELECT count(*) FROM {table} WHERE org_id = '{org}'");
        assert_eq!(count(&app, &sql).await, expected, "{table}");
    }
}

#[tokio::test]
async fn a_request_id_reused_for_another_request_is_refused_and_ids_belong_to_their_caller_and_org()
{
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Mine").await;
    let other_org = create_org(&app, &owner, "Also mine").await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let id = rid();
    let upsert = |email: &str| UpsertCustomerRequest {
        email: email.into(),
        request_id: id.clone(),
        ..Default::default()
    };
    let api = Caller::user(&app, &owner, &org);
    let first = api.upsert(upsert("first@example.com")).await.unwrap();
    let changed = api.upsert(upsert("second@example.com")).await.unwrap_err();
    assert_eq!(changed.code(), Code::InvalidArgument);
    assert_eq!(
        errors::reason(&changed).as_deref(),
        Some("REQUEST_ID_REUSED")
    );
    assert_eq!(errors::fields(&changed), ["request_id"]);
    // Ids are scoped by org (the claim's key starts with org_id): the same
    // id in another org of the same caller is another create there.
    let elsewhere = Caller::user(&app, &owner, &other_org);
    let there = elsewhere.upsert(upsert("first@example.com")).await.unwrap();
    assert_ne!(there.id, first.id);
    let again = elsewhere.upsert(upsert("first@example.com")).await.unwrap();
    assert_eq!(again, there, "and is replayed there");
    let back = api.upsert(upsert("first@example.com")).await.unwrap();
    assert_eq!(back, first, "the first org still replays its own answer");
    // Another caller's id space: the admin's call with the same id acts.
    let by_admin = Caller::user(&app, &admin, &org);
    let theirs = by_admin.upsert(upsert("admin@example.com")).await.unwrap();
    assert_ne!(theirs.id, first.id);
    for bad in ["has space", &"x".repeat(129), "tab\there"] {
        let mut request = upsert("bad@example.com");
        request.request_id = bad.to_owned();
        let refused = api.upsert(request).await;
        assert_eq!(code_of(&refused), Code::InvalidArgument, "{bad:?}");
    }
}

#[tokio::test]
async fn a_kept_answer_is_sealed_and_goes_with_the_customer_it_is_about() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Sealed").await;
    let o = Some(org.as_str());
    let key = CreateApiKeyRequest {
        name: "worker".into(),
        role: Role::Agent.into(),
        request_id: rid(),
    };
    let secret = app
        .client::<ApiKeyClient>()
        .create_api_key(with_auth(key, &owner.access_token, o))
        .await
        .unwrap()
        .into_inner()
        .secret;
    let api = Caller::user(&app, &owner, &org);
    let upsert = UpsertCustomerRequest {
        email: "sealed.person@example.com".into(),
        request_id: rid(),
        ..Default::default()
    };
    let customer = api.upsert(upsert).await.unwrap().id;
    let sql = format!(
        "SELECT count(*) FROM request_ids WHERE org_id = '{org}' AND \
           (position(convert_to('{secret}', 'UTF8') IN response) > 0 \
            OR position(convert_to('sealed.person', 'UTF8') IN response) > 0)"
    );
    assert_eq!(count(&app, &sql).await, 0, "no answer is kept in the clear");
    let request = EraseCustomerRequest {
        customer_id: customer.clone(),
    };
    app.client::<CustomerClient>()
        .erase_customer(with_auth(request, &owner.access_token, o))
        .await
        .unwrap();
    let sql = format!("SELECT count(*) FROM request_ids WHERE org_id = '{org}'");
    assert_eq!(
        count(&app, &sql).await,
        1,
        "only the API key's answer is left"
    );
}

#[tokio::test]
async fn a_create_org_retried_after_its_kept_answer_expired_is_already_exists_and_creates_nothing()
{
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let other = signup_and_login(&app, &unique_email()).await;
    let id = rid();
    let create = || CreateOrgRequest {
        name: "Once".into(),
        request_id: id.clone(),
    };
    let mut orgs = app.client::<OrgClient>();
    let first = orgs
        .create_org(with_auth(create(), &owner.access_token, None))
        .await
        .unwrap()
        .into_inner();
    // Another user's CreateOrg with the same request id: another org.
    let theirs = orgs
        .create_org(with_auth(create(), &other.access_token, None))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(theirs.org.unwrap().id, first.org.clone().unwrap().id);
    // The kept answer is forgotten after 24 hours; the org it made is not.
    ochre_tests::identity::superuser_execute(
        &app,
        "UPDATE request_ids SET created_at = now() - interval '25 hours'",
    )
    .await;
    let late = orgs
        .create_org(with_auth(create(), &owner.access_token, None))
        .await;
    assert_eq!(code_of(&late), Code::AlreadyExists);
    let sql = format!(
        "SELECT count(*) FROM memberships WHERE user_id = '{}'",
        owner.user_id
    );
    assert_eq!(count(&app, &sql).await, 1, "no second org");
    let fresh = orgs
        .create_org(with_auth(
            CreateOrgRequest {
                name: "Twice".into(),
                request_id: rid(),
            },
            &owner.access_token,
            None,
        ))
        .await;
    assert_eq!(code_of(&fresh), Code::Ok, "a new request id creates");
}
