//! RPC-level isolation between orgs. Two orgs hold look-alike data (the same
//! customer emails, one conversation each with the same kinds of messages);
//! every RPC of CustomerService and ConversationService that takes an id
//! (and SendSurvey, which takes a conversation's) is
//! called from one org with the other org's ids, by its owner, by a member
//! of both orgs and by an API key: each answers NOT_FOUND with the very text
//! it gives for a random id, and changes nothing. Lists hold only the
//! caller's org's rows, and a page token of one org is refused in the other.

use std::collections::HashSet;

use ochre_sdk::v1::{ConversationStatus as St, MessageKind as Kind};
use ochre_tests::{
    identity::{accept, invite},
    prelude::*,
    support::{
        SeededOrg, list_request, message_request, open_request, random_id, seed_org, set_assignee,
        set_status, upsert_request,
    },
};
use tonic::Status;

const NOT_FOUND: Code = Code::NotFound;
const BAD: Code = Code::InvalidArgument;

/// Two seeded orgs with three customers each.
async fn two_orgs() -> (TestApp, SeededOrg, SeededOrg) {
    let app = spawn_app().await;
    let a = seed_org(&app, "Org A", 3).await;
    let b = seed_org(&app, "Org B", 3).await;
    (app, a, b)
}

/// A new user who is an agent of both orgs.
async fn member_of_both(app: &TestApp, a: &SeededOrg, b: &SeededOrg) -> Session {
    let member = add_member(app, &a.owner, &a.org, Role::Agent).await;
    let invitation = invite(app, &b.owner, &b.org, &member.email, Role::Agent).await;
    accept(app, &member, &invitation.unwrap().token)
        .await
        .unwrap();
    member
}

/// The RPCs that take an id: the customer's for the first two, the
/// conversation's for the others.
#[derive(Debug, Clone, Copy)]
enum ById {
    GetCustomer,
    CreateConversation,
    GetConversation,
    ListMessages,
    UpdateStatus,
    UpdateAssignee,
    AddMessage,
    SendSurvey,
}

const BY_ID: [ById; 8] = [
    ById::GetCustomer,
    ById::CreateConversation,
    ById::GetConversation,
    ById::ListMessages,
    ById::UpdateStatus,
    ById::UpdateAssignee,
    ById::AddMessage,
    ById::SendSurvey,
];

impl ById {
    /// The id of `org`'s first row this RPC takes.
    fn target(self, org: &SeededOrg) -> String {
        match self {
            ById::GetCustomer | ById::CreateConversation => org.customers[0].id.clone(),
            _ => org.conversations[0].id.clone(),
        }
    }

    /// Calls the RPC with `id`; `assignee` is a member of the caller's org.
    async fn call(self, api: &Caller, id: &str, assignee: &str) -> Result<(), Status> {
        let closed = St::Closed.into();
        match self {
            ById::GetCustomer => api.customer_by_id(id).await.map(drop),
            ById::CreateConversation => api.create(open_request(id, 1, "x")).await.map(drop),
            ById::GetConversation => api.conversation_by_id(id).await.map(drop),
            ById::ListMessages => api.messages_page(id, 0, "").await.map(drop),
            ById::UpdateStatus => api.update(set_status(id, closed)).await.map(drop),
            ById::UpdateAssignee => api.update(set_assignee(id, assignee)).await.map(drop),
            ById::AddMessage => {
                let note = message_request(id, Kind::InternalNote, "injected");
                api.add(note).await.map(drop)
            }
            ById::SendSurvey => {
                let request = ochre_sdk::v1::SendSurveyRequest {
                    conversation_id: id.to_owned(),
                    ttl_days: 0,
                    ..Default::default()
                };
                api.send_survey(request).await.map(drop)
            }
        }
    }
}

/// Calls every id-taking RPC as `api` with `other`'s ids: NOT_FOUND, with
/// the text a random id gets, naming neither the id nor the org.
async fn probe(checks: &mut Checks, who: &str, api: &Caller, other: &SeededOrg, assignee: &str) {
    for rpc in BY_ID {
        let target = rpc.target(other);
        let what = format!("{who}: {rpc:?} with the other org's id");
        let foreign = checks
            .call(&what, NOT_FOUND, rpc.call(api, &target, assignee))
            .await;
        let what = format!("{who}: {rpc:?} with a random id");
        let random = checks
            .call(&what, NOT_FOUND, rpc.call(api, &random_id(), assignee))
            .await;
        checks.eq(&format!("{who}: {rpc:?} texts"), &foreign, &random);
        let leaks = foreign.contains(&target) || foreign.contains(&other.org);
        checks.that(
            !leaks,
            &format!("{who}: {rpc:?} names the target: {foreign:?}"),
        );
        let what = format!("{who}: {rpc:?} with a malformed id");
        checks
            .call(&what, BAD, rpc.call(api, "not-a-uuid", assignee))
            .await;
    }
}

/// Asserts that `org` still holds exactly what it was seeded with.
async fn assert_untouched(app: &TestApp, org: &SeededOrg) {
    let api = org.caller(app);
    let customers: HashSet<String> = api.all_customer_ids(0).await.into_iter().collect();
    assert_eq!(customers, org.customer_ids());
    let conversations = api.all_conversation_ids(St::Unspecified, "", 0).await;
    assert_eq!(
        conversations.into_iter().collect::<HashSet<_>>(),
        org.conversation_ids()
    );
    for seeded in &org.conversations {
        let stored = api.conversation_by_id(&seeded.id).await.unwrap();
        assert_eq!(stored.status(), St::Open, "{}", stored.id);
        assert_eq!(stored.assignee_user_id, "");
        assert_eq!(api.all_messages(&seeded.id, 0).await.len(), 2);
    }
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    let sql = format!(
        "SELECT count(*) AS n FROM surveys WHERE org_id = '{}'",
        org.org
    );
    let row = app
        .superuser_db()
        .await
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.try_get::<i64>("", "n").unwrap(),
        0,
        "no survey was sent"
    );
}

#[tokio::test]
async fn every_rpc_given_another_orgs_id_answers_not_found_exactly_like_a_random_id() {
    let (app, a, b) = two_orgs().await;
    let both = member_of_both(&app, &a, &b).await;
    let key = create_api_key(&app, &a.owner, &a.org, Role::Agent)
        .await
        .unwrap();
    let assignee = a.owner.user_id.clone();
    let mut checks = Checks::default();
    probe(&mut checks, "A's owner", &a.caller(&app), &b, &assignee).await;
    let member = Caller::user(&app, &both, &a.org);
    probe(&mut checks, "a member of both in A", &member, &b, &assignee).await;
    let bot = Caller::new(&app, &key.secret, &a.org);
    probe(&mut checks, "A's agent key", &bot, &b, &assignee).await;
    probe(
        &mut checks,
        "B's owner",
        &b.caller(&app),
        &a,
        &b.owner.user_id,
    )
    .await;
    checks.verify();
    assert_untouched(&app, &b).await;
}

#[tokio::test]
async fn a_member_of_both_orgs_reaches_each_orgs_rows_only_under_that_orgs_header() {
    let (app, a, b) = two_orgs().await;
    let both = member_of_both(&app, &a, &b).await;
    let (in_a, in_b) = (
        Caller::user(&app, &both, &a.org),
        Caller::user(&app, &both, &b.org),
    );
    let b_conversation = &b.conversations[1].id;
    let b_customer = &b.customers[1].id;
    assert_eq!(
        in_b.conversation_by_id(b_conversation).await.unwrap().id,
        *b_conversation
    );
    assert_eq!(
        in_b.customer_by_id(b_customer).await.unwrap().id,
        *b_customer
    );
    let mut checks = Checks::default();
    let found = in_a.conversation_by_id(b_conversation).await;
    checks.code("B's conversation under A's header", &found, NOT_FOUND);
    let found = in_a.customer_by_id(b_customer).await;
    checks.code("B's customer under A's header", &found, NOT_FOUND);
    let found = in_a.find(&b.customers[1].email).await;
    checks.eq(
        "B's email under A's header",
        found.unwrap().id,
        a.customers[1].id.clone(),
    );
    checks.verify();
}

#[tokio::test]
async fn find_by_email_and_upsert_reveal_nothing_about_the_other_org() {
    let (app, a, b) = two_orgs().await;
    let (api_a, api_b) = (a.caller(&app), b.caller(&app));
    let only_b = api_b.customer("only-in-b@example.com").await;
    let mut checks = Checks::default();
    let what = "FindCustomerByEmail of B's email in A";
    let foreign = checks
        .call(what, NOT_FOUND, api_a.find("only-in-b@example.com"))
        .await;
    let what = "FindCustomerByEmail of an unknown email";
    let unknown = checks
        .call(what, NOT_FOUND, api_a.find("never@example.com"))
        .await;
    checks.eq("the two texts", &foreign, &unknown);
    let shared = api_a.find("customer-0@example.com").await.unwrap();
    checks.eq(
        "a shared email finds A's own",
        &shared.id,
        &a.customers[0].id,
    );
    let mut request = upsert_request("only-in-b@example.com");
    request.name = "Mallory".to_owned();
    let upserted = api_a.upsert_customer(request).await.unwrap();
    checks.that(
        upserted.created,
        "upserting B's email in A creates a new customer",
    );
    let created = upserted.customer.unwrap();
    checks.that(created.id != only_b.id, "with a new id");
    let kept = api_b.customer_by_id(&only_b.id).await.unwrap();
    checks.eq("B's customer after A's upsert", kept, only_b);
    checks.eq("customers in A", api_a.all_customer_ids(0).await.len(), 4);
    checks.eq("customers in B", api_b.all_customer_ids(0).await.len(), 4);
    checks.verify();
}

#[tokio::test]
async fn lists_in_one_org_hold_only_that_orgs_rows() {
    let (app, a, b) = two_orgs().await;
    let both = member_of_both(&app, &a, &b).await;
    let mut checks = Checks::default();
    for (org, other) in [(&a, &b), (&b, &a)] {
        for (who, api) in [
            ("owner", org.caller(&app)),
            ("member of both", Caller::user(&app, &both, &org.org)),
        ] {
            let what = |list: &str| format!("{who} lists {list} in {}", org.org);
            let customers: HashSet<String> = api.all_customer_ids(1).await.into_iter().collect();
            checks.eq(&what("customers"), &customers, &org.customer_ids());
            for status in [St::Unspecified, St::Open] {
                let listed = api.all_conversation_ids(status, "", 1).await;
                let listed: HashSet<String> = listed.into_iter().collect();
                checks.eq(&what("conversations"), &listed, &org.conversation_ids());
            }
            for conversation in &org.conversations {
                let messages = api.all_messages(&conversation.id, 1).await;
                let foreign = messages
                    .iter()
                    .filter(|m| m.conversation_id != conversation.id);
                checks.eq(&what("messages"), (messages.len(), foreign.count()), (2, 0));
            }
            let by_other_owner = list_request(St::Unspecified, &other.owner.user_id, 0, "");
            let result = api.list_conversations(by_other_owner).await;
            let empty = matches!(&result, Ok(page) if page.conversations.is_empty());
            let refused = code_of(&result) == BAD;
            let what = what("conversations assigned to the other owner");
            checks.that(empty || refused, &format!("{what}: {result:?}"));
        }
    }
    checks.verify();
}

#[tokio::test]
async fn a_page_token_from_one_org_is_refused_in_the_other() {
    let (app, a, b) = two_orgs().await;
    let both = member_of_both(&app, &a, &b).await;
    let mut checks = Checks::default();
    for (from, to) in [(&a, &b), (&b, &a)] {
        let source = Caller::user(&app, &both, &from.org);
        let customers = source.customers_page(1, "").await.unwrap().next_page_token;
        let request = list_request(St::Unspecified, "", 1, "");
        let conversations = source
            .list_conversations(request)
            .await
            .unwrap()
            .next_page_token;
        let seeded = &from.conversations[0].id;
        let messages = source
            .messages_page(seeded, 1, "")
            .await
            .unwrap()
            .next_page_token;
        checks.that(
            ![&customers, &conversations, &messages]
                .iter()
                .any(|t| t.is_empty()),
            "tokens",
        );
        let target = &to.conversations[0].id;
        for (who, api) in [
            ("the same user", Caller::user(&app, &both, &to.org)),
            ("the other owner", to.caller(&app)),
        ] {
            let what =
                |list: &str| format!("{list} token of {} used by {who} in {}", from.org, to.org);
            checks
                .call(&what("customers"), BAD, api.customers_page(1, &customers))
                .await;
            let request = list_request(St::Unspecified, "", 1, &conversations);
            checks
                .call(&what("conversations"), BAD, api.list_conversations(request))
                .await;
            checks
                .call(
                    &what("messages"),
                    BAD,
                    api.messages_page(target, 1, &messages),
                )
                .await;
        }
        let back = source.customers_page(1, &customers).await;
        checks.code("the customers token in its own org", &back, Code::Ok);
    }
    checks.verify();
}
