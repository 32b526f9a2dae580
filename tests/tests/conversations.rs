//! Customers, conversations and messages end to end: what is stored and read
//! back, how lists page, who may write, and bad input refused with
//! INVALID_ARGUMENT. Other orgs', unknown and malformed ids: `rpc_isolation`.

#![allow(clippy::unwrap_used)]

use ochre_sdk::v1::{
    Attachment, Channel as Chan, Conversation, ConversationStatus as St, CustomFieldValue,
    HubSpotContext, MessageKind as Kind, Role, StripeContext, UpdateConversationRequest,
    custom_field_value::Value,
};
use ochre_tests::{
    TestApp,
    identity::{Session, add_member, create_api_key, create_org, signup_and_login, unique_email},
    spawn_app,
    support::{
        Actor, Checks, attachment, field, list_request, message_request, number_field,
        open_request, random_id, set_assignee, set_status, string_field, tamper, upsert_request,
    },
};
use tonic::Code;

const BAD: Code = Code::InvalidArgument;
const OK: Code = Code::Ok;

/// A fresh app with a signed-in owner of a new org, acting in it.
async fn app_with_org() -> (TestApp, Session, Actor) {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme Support").await;
    let api = Actor::user(&app, &owner, &org);
    (app, owner, api)
}

/// A new customer with one conversation; returns the conversation id.
async fn conversation(api: &Actor, email: &str) -> String {
    let customer = api.customer(email).await;
    api.conversation(&customer.id, "Subject").await.id
}

/// A signed-in user with an org of their own.
async fn outsider(app: &TestApp) -> Session {
    let outsider = signup_and_login(app, &unique_email()).await;
    create_org(app, &outsider, "Elsewhere").await;
    outsider
}

fn state(conversation: Conversation) -> (St, String) {
    (conversation.status(), conversation.assignee_user_id)
}

#[tokio::test]
async fn a_second_upsert_of_a_normalized_email_replaces_every_field() {
    let (_app, _owner, api) = app_with_org().await;
    let stamp = prost_types::Timestamp::date(2024, 2, 29).unwrap();
    let mut sent = upsert_request("  Ada.Lovelace@Example.COM ");
    (sent.name, sent.phone) = ("Ada".into(), "+44 (20) 7946-0958".into());
    let fields = [
        ("plan_tier", string_field("gold")),
        ("seats", number_field(42.5)),
        ("vip", field(Value::BoolValue(true))),
        ("renewal", field(Value::TimestampValue(stamp))),
    ];
    sent.custom_fields = fields.map(|(k, v)| (k.to_owned(), v)).into();
    let mut stripe = StripeContext::default();
    (stripe.customer_id, stripe.plan) = ("cus_1".into(), "pro".into());
    (stripe.currency, stripe.mrr_cents) = ("eur".into(), 4_900);
    stripe.subscription_status = "active".into();
    let mut hubspot = HubSpotContext::default();
    (hubspot.contact_id, hubspot.lifecycle_stage) = ("501".into(), "customer".into());
    (hubspot.lead_status, hubspot.company) = ("open".into(), "Engines Ltd".into());
    hubspot.deal_stage = "closedwon".into();
    (sent.stripe, sent.hubspot) = (Some(stripe), Some(hubspot));
    let created = api.upsert_customer(sent.clone()).await.unwrap();
    assert!(created.created, "the first upsert creates");
    let got = created.customer.unwrap();
    assert_eq!(got.email, "ada.lovelace@example.com");
    assert_eq!((&got.name, &got.phone), (&sent.name, &sent.phone));
    assert_eq!(got.custom_fields, sent.custom_fields);
    assert_eq!((&got.stripe, &got.hubspot), (&sent.stripe, &sent.hubspot));
    assert_eq!(api.customer_by_id(&got.id).await.unwrap(), got);
    assert_eq!(api.find(" ADA.lovelace@Example.com").await.unwrap(), got);
    let mut second = upsert_request("ada.lovelace@example.com");
    let plan = "enterprise".to_owned();
    second.stripe = Some(StripeContext {
        plan,
        ..Default::default()
    });
    second.name = "Augusta Ada King".into();
    let updated = api.upsert_customer(second.clone()).await.unwrap();
    assert!(!updated.created, "the second upsert updates");
    assert_eq!(updated.customer.unwrap().id, got.id);
    let again = api.customer_by_id(&got.id).await.unwrap();
    assert_eq!((&*again.name, &*again.phone), ("Augusta Ada King", ""));
    assert!(again.custom_fields.is_empty(), "custom fields are replaced");
    assert_eq!(again.stripe, second.stripe);
    let hubspot = again.hubspot.unwrap_or_default();
    assert_eq!(hubspot, HubSpotContext::default(), "hubspot is replaced");
    assert_eq!(api.all_customer_ids(0).await, vec![got.id]);
}

#[tokio::test]
async fn email_name_and_phone_are_validated() {
    let (_app, _owner, api) = app_with_org().await;
    let mut c = Checks::default();
    let long = format!("{}@example.com", "a".repeat(250));
    for email in ["", " ", "plainaddress", "@example.com", "user@", &long] {
        let w = format!("email {email:?}");
        c.call(&w, BAD, api.upsert(upsert_request(email))).await;
    }
    for (n, ch, code) in [(200, "a", OK), (200, "é", OK), (201, "a", BAD)] {
        let mut request = upsert_request("name@example.com");
        request.name = ch.repeat(n);
        let w = format!("a name of {n} {ch:?}");
        c.call(&w, code, api.upsert(request)).await;
    }
    let (fifty, fifty_one) = ("1".repeat(50), "1".repeat(51));
    let good = ["+1 (555) 010-0199.", &fifty].map(|p| (p, OK));
    let bad = [
        "555-CALL-NOW",
        "555;0100",
        "555\n0100",
        "５５５",
        &fifty_one,
    ];
    for (phone, code) in good.into_iter().chain(bad.map(|p| (p, BAD))) {
        let mut request = upsert_request("phone@example.com");
        request.phone = phone.to_owned();
        let w = format!("phone {phone:?}");
        c.call(&w, code, api.upsert(request)).await;
    }
    c.verify();
}

#[tokio::test]
async fn custom_fields_are_limited_in_number_key_shape_and_value() {
    let (_app, _owner, api) = app_with_org().await;
    let mut c = Checks::default();
    let upsert = |fields: Vec<(String, CustomFieldValue)>| {
        let mut request = upsert_request("fields@example.com");
        request.custom_fields = fields.into_iter().collect();
        api.upsert(request)
    };
    for (count, code) in [(100, OK), (101, BAD)] {
        let field = |i| (format!("f_{i}"), number_field(1.0));
        let fields = (0..count).map(field).collect();
        c.call(&format!("{count} fields"), code, upsert(fields))
            .await;
    }
    let (k64, k65) = ("k".repeat(64), "k".repeat(65));
    let keys = [(&*k64, OK), ("a_1_z", OK), ("", BAD), (&k65, BAD)];
    let bad = [
        "Upper",
        "with-dash",
        "with space",
        "émoji",
        "dot.ted",
        "a/b",
    ];
    for (key, code) in keys.into_iter().chain(bad.map(|k| (k, BAD))) {
        let fields = vec![(key.to_owned(), string_field("x"))];
        c.call(&format!("key {key:?}"), code, upsert(fields)).await;
    }
    let values = [
        ("a 2048-char string", string_field(&"v".repeat(2048)), OK),
        ("a 2049-char string", string_field(&"v".repeat(2049)), BAD),
        ("NaN", number_field(f64::NAN), BAD),
        ("infinity", number_field(f64::INFINITY), BAD),
        ("-infinity", number_field(f64::NEG_INFINITY), BAD),
        ("no oneof set", CustomFieldValue { value: None }, BAD),
    ];
    for (w, value, code) in values {
        c.call(w, code, upsert(vec![("field".into(), value)])).await;
    }
    c.verify();
}

#[tokio::test]
async fn lists_default_to_fifty_per_page_and_refuse_other_sizes() {
    let (_app, _owner, api) = app_with_org().await;
    let id = conversation(&api, "c0@example.com").await;
    for i in 1..=50 {
        api.customer(&format!("c{i}@example.com")).await;
        api.message(&id, Kind::InboundChat, &format!("m{i}")).await;
    }
    api.message(&id, Kind::InboundChat, "m51").await;
    let first = api.customers_page(0, "").await.unwrap();
    assert_eq!(first.customers.len(), 50, "page_size 0 means 50");
    let token = first.next_page_token;
    let last = api.customers_page(0, &token).await.unwrap();
    assert_eq!((last.customers.len(), &*last.next_page_token), (1, ""));
    let messages = api.messages_page(&id, 0, "").await.unwrap().messages;
    assert_eq!(messages.len(), 50, "page_size 0 means 50");
    let all = api.customers_page(100, "").await.unwrap().customers;
    assert_eq!(all.len(), 51);
    let all = api.messages_page(&id, 100, "").await.unwrap().messages;
    assert_eq!(all.len(), 51);
    let mut c = Checks::default();
    for size in [-1, 101, i32::MIN, i32::MAX] {
        let w = |list: &str| format!("{list}, page_size {size}");
        c.call(&w("customers"), BAD, api.customers_page(size, ""))
            .await;
        let messages = api.messages_page(&id, size, "");
        c.call(&w("messages"), BAD, messages).await;
        let request = list_request(St::Unspecified, "", size, "");
        let conversations = api.list_conversations(request);
        c.call(&w("conversations"), BAD, conversations).await;
    }
    c.verify();
}

#[tokio::test]
async fn paging_yields_every_row_once_newest_first_and_messages_oldest_first() {
    let (_app, _owner, api) = app_with_org().await;
    let (mut customers, mut conversations, mut messages) = (vec![], vec![], vec![]);
    for i in 0..7 {
        let customer = api.customer(&format!("page-{i}@example.com")).await;
        conversations.push(api.conversation(&customer.id, "paging").await.id);
        customers.push(customer.id);
    }
    let first = conversations[0].clone();
    for i in 0..7 {
        let body = format!("m{i}");
        messages.push(api.message(&first, Kind::InboundEmail, &body).await.id);
    }
    customers.reverse();
    conversations.reverse();
    for size in [1, 2, 3, 7, 100] {
        let listed = api.all_customer_ids(size).await;
        assert_eq!(listed, customers, "customers, page size {size}");
        let listed = api.all_conversation_ids(St::Unspecified, "", size).await;
        assert_eq!(listed, conversations, "conversations, page size {size}");
        let listed = api.all_messages(&first, size).await;
        let listed: Vec<String> = listed.into_iter().map(|m| m.id).collect();
        assert_eq!(listed, messages, "messages, page size {size}");
    }
    let exact = api.customers_page(7, "").await.unwrap();
    assert_eq!(exact.next_page_token, "", "a page ending on the last row");
}

#[tokio::test]
async fn a_page_token_is_refused_on_another_list_another_filter_or_when_tampered() {
    let (app, owner, api) = app_with_org().await;
    let agent = add_member(&app, &owner, &api.org, Role::Agent).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = conversation(&api, &format!("tok-{i}@example.com")).await;
        api.update(set_assignee(&id, &agent.user_id)).await.unwrap();
        api.message(&id, Kind::InboundChat, "one").await;
        api.message(&id, Kind::InboundChat, "two").await;
        ids.push(id);
    }
    let page = api.list_conversations(list_request(St::Open, "", 1, ""));
    let open = page.await.unwrap().next_page_token;
    let customers = api.customers_page(1, "").await.unwrap().next_page_token;
    let messages = api.messages_page(&ids[0], 1, "").await.unwrap();
    let messages = messages.next_page_token;
    let (who, extended) = (agent.user_id.as_str(), format!("{open}x"));
    let cases = [
        ("the same filter", St::Open, "", &*open, OK),
        ("OPEN token, CLOSED", St::Closed, "", &open, BAD),
        ("OPEN token, any status", St::Unspecified, "", &open, BAD),
        ("OPEN token, an assignee", St::Open, who, &open, BAD),
        ("a customers token", St::Open, "", &customers, BAD),
        ("a messages token", St::Open, "", &messages, BAD),
        ("a tampered token", St::Open, "", &tamper(&open), BAD),
        ("an extended token", St::Open, "", &extended, BAD),
        ("garbage", St::Open, "", "garbage", BAD),
        ("not base64", St::Open, "", "%%%", BAD),
    ];
    let mut c = Checks::default();
    for (w, status, assignee, token, code) in cases {
        let request = list_request(status, assignee, 1, token);
        let w = format!("ListConversations, {w}");
        c.call(&w, code, api.list_conversations(request)).await;
    }
    let tampered = tamper(&customers);
    for token in [&open, &messages, &tampered] {
        let w = format!("ListCustomers, token {token:?}");
        c.call(&w, BAD, api.customers_page(1, token)).await;
    }
    let cases = [
        ("a conversations token", &ids[0], open),
        ("a customers token", &ids[0], customers),
        ("a tampered token", &ids[0], tamper(&messages)),
        ("another conversation's", &ids[1], messages),
    ];
    for (w, id, token) in cases {
        let w = format!("ListMessages, {w}");
        c.call(&w, BAD, api.messages_page(id, 1, &token)).await;
    }
    c.verify();
}

#[tokio::test]
async fn a_new_conversation_is_open_and_unassigned_and_its_input_is_validated() {
    let (_app, _owner, api) = app_with_org().await;
    let customer = api.customer("conv@example.com").await;
    let subject = "s".repeat(500);
    let request = open_request(&customer.id, Chan::Slack.into(), &subject);
    let created = api.create(request).await.unwrap();
    assert_eq!(created.channel(), Chan::Slack);
    assert_eq!(state(created.clone()), (St::Open, String::new()));
    assert_eq!(
        (&created.customer_id, &created.subject),
        (&customer.id, &subject)
    );
    assert!(created.last_message_at.is_none(), "no message yet");
    assert_eq!(api.conversation_by_id(&created.id).await.unwrap(), created);
    let mut c = Checks::default();
    for channel in [0, 4, 99, -1] {
        let request = open_request(&customer.id, channel, "x");
        c.call(&format!("channel {channel}"), BAD, api.create(request))
            .await;
    }
    let request = open_request(&customer.id, 1, &"s".repeat(501));
    c.call("a 501-char subject", BAD, api.create(request)).await;
    c.verify();
}

#[tokio::test]
async fn updating_a_conversation_sets_its_status_and_assigns_members_only() {
    let (app, owner, api) = app_with_org().await;
    let agent = add_member(&app, &owner, &api.org, Role::Agent).await;
    let outsider = outsider(&app).await;
    let id = conversation(&api, "update@example.com").await;
    let pending = api.update(set_status(&id, 2)).await.unwrap();
    assert_eq!(state(pending), (St::Pending, String::new()));
    let assigned = api.update(set_assignee(&id, &agent.user_id)).await.unwrap();
    assert_eq!(state(assigned), (St::Pending, agent.user_id.clone()));
    let mut both = set_assignee(&id, &owner.user_id);
    both.status = Some(St::Closed.into());
    let closed = api.update(both).await.unwrap();
    assert_eq!(state(closed), (St::Closed, owner.user_id));
    let unassigned = api.update(set_assignee(&id, "")).await.unwrap();
    assert_eq!(state(unassigned), (St::Closed, String::new()));
    let mut c = Checks::default();
    for status in [0, 4, 99, -1] {
        let w = format!("status {status}");
        c.call(&w, BAD, api.update(set_status(&id, status))).await;
    }
    let mut texts = Vec::new();
    for who in [&*outsider.user_id, &random_id(), "not-a-uuid"] {
        let w = format!("assignee {who:?}");
        texts.push(c.call(&w, BAD, api.update(set_assignee(&id, who))).await);
    }
    let text = "assignee must be a member of this org";
    c.that(texts[0].contains(text), &format!("texts {texts:?}"));
    c.eq("outsider and random id texts", &texts[0], &texts[1]);
    let conversation_id = id.clone();
    let nothing = UpdateConversationRequest {
        conversation_id,
        ..Default::default()
    };
    let text = c.call("neither field", BAD, api.update(nothing)).await;
    c.that(
        text.contains("nothing to update"),
        &format!("text {text:?}"),
    );
    c.verify();
    let stored = api.conversation_by_id(&id).await.unwrap();
    assert_eq!(state(stored), (St::Closed, String::new()));
}

#[tokio::test]
async fn conversations_are_filtered_by_status_and_by_assignee() {
    let (app, owner, api) = app_with_org().await;
    let agent = add_member(&app, &owner, &api.org, Role::Agent).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(conversation(&api, &format!("f{i}@example.com")).await);
    }
    api.update(set_status(&ids[1], St::Closed.into()))
        .await
        .unwrap();
    api.update(set_status(&ids[2], St::Pending.into()))
        .await
        .unwrap();
    for i in [1, 3] {
        api.update(set_assignee(&ids[i], &agent.user_id))
            .await
            .unwrap();
    }
    let (agent, owner) = (agent.user_id.as_str(), owner.user_id.as_str());
    let cases = [
        (St::Closed, "", vec![1]),
        (St::Pending, "", vec![2]),
        (St::Open, "", vec![4, 3, 0]),
        (St::Unspecified, agent, vec![3, 1]),
        (St::Open, agent, vec![3]),
        (St::Unspecified, owner, vec![]),
        (St::Unspecified, "", vec![4, 3, 2, 1, 0]),
    ];
    for (status, who, expected) in cases {
        let expected: Vec<String> = expected.into_iter().map(|i| ids[i].clone()).collect();
        let listed = api.all_conversation_ids(status, who, 2).await;
        assert_eq!(listed, expected, "status {status:?}, assignee {who:?}");
    }
}

#[tokio::test]
async fn message_kinds_and_bodies_are_validated_and_bodies_measured_in_bytes() {
    let (_app, _owner, api) = app_with_org().await;
    let id = conversation(&api, "body@example.com").await;
    let mut c = Checks::default();
    let hello = || "hello".to_owned();
    let cases = [
        (0, hello(), BAD),
        (6, hello(), BAD),
        (99, hello(), BAD),
        (-3, hello(), BAD),
        (1, String::new(), BAD),
        (1, "a".repeat(65_536), OK),
        (1, "a".repeat(65_537), BAD),
        (1, "é".repeat(32_768), OK),
        (1, "é".repeat(32_769), BAD),
    ];
    for (kind, body, code) in cases {
        let mut request = message_request(&id, Kind::InboundEmail, &body);
        request.kind = kind;
        let w = format!("kind {kind}, a body of {} bytes", body.len());
        c.call(&w, code, api.add(request)).await;
    }
    c.verify();
    assert_eq!(api.all_messages(&id, 0).await.len(), 2, "stored: the 2 OKs");
}

#[tokio::test]
async fn mentions_must_be_members_of_the_org_and_at_most_fifty() {
    let (app, owner, api) = app_with_org().await;
    let agent = add_member(&app, &owner, &api.org, Role::Agent).await;
    let light = add_member(&app, &owner, &api.org, Role::LightAgent).await;
    let outsider = outsider(&app).await;
    let id = conversation(&api, "mention@example.com").await;
    let mention = |users: Vec<String>| {
        let mut request = message_request(&id, Kind::InternalNote, "@team look");
        request.mention_user_ids = users;
        api.add(request)
    };
    let members = vec![agent.user_id.clone(), light.user_id.clone()];
    let note = mention(members.clone()).await.unwrap();
    assert_eq!(note.mention_user_ids, members);
    assert_eq!(
        note.author_user_id, owner.user_id,
        "the author is the caller"
    );
    let mut c = Checks::default();
    for user in [outsider.user_id, random_id(), "not-a-uuid".to_owned()] {
        let w = format!("a mention of {user:?}");
        c.call(&w, BAD, mention(vec![user.clone()])).await;
        let with_member = mention(vec![agent.user_id.clone(), user]);
        c.call(&format!("{w} and a member"), BAD, with_member).await;
    }
    let many = mention(vec![agent.user_id.clone(); 51]);
    c.call("51 mentions", BAD, many).await;
    c.verify();
    let listed = api.all_messages(&id, 0).await;
    assert_eq!(listed.len(), 1, "refusals store nothing");
    assert_eq!(listed[0].mention_user_ids, members);
}

#[tokio::test]
async fn attachments_round_trip_and_bad_metadata_is_refused() {
    let (_app, _owner, api) = app_with_org().await;
    let id = conversation(&api, "files@example.com").await;
    let attach = |attachments: Vec<Attachment>| {
        let mut request = message_request(&id, Kind::OutboundReply, "attached");
        request.attachments = attachments;
        api.add(request)
    };
    let mut edge = attachment("edge case (1).tar.gz");
    (edge.size_bytes, edge.storage_key) = (104_857_600, "k".repeat(1024));
    let files = (0..19).map(|i| attachment(&format!("f{i}.pdf")));
    let twenty: Vec<_> = files.chain([edge]).collect();
    assert_eq!(attach(twenty.clone()).await.unwrap().attachments, twenty);
    assert_eq!(api.all_messages(&id, 0).await[0].attachments, twenty);
    let mut c = Checks::default();
    c.call("21 attachments", BAD, attach(vec![attachment("a"); 21]))
        .await;
    type Edit = fn(&mut Attachment);
    let bad: [(&str, Edit); 16] = [
        ("empty file name", |a| a.file_name.clear()),
        ("slash", |a| a.file_name = "dir/a.pdf".into()),
        ("backslash", |a| a.file_name = "dir\\a.pdf".into()),
        ("newline", |a| a.file_name = "a\n.pdf".into()),
        ("NUL", |a| a.file_name = "a\u{0}.pdf".into()),
        ("DEL", |a| a.file_name = "a\u{7f}.pdf".into()),
        ("content type without /", |a| a.content_type = "pdf".into()),
        ("empty content type", |a| a.content_type.clear()),
        ("negative size", |a| a.size_bytes = -1),
        ("over 100 MiB", |a| a.size_bytes = 104_857_601),
        ("upper-case sha256", |a| a.sha256 = a.sha256.to_uppercase()),
        ("63-char sha256", |a| a.sha256.truncate(63)),
        ("65-char sha256", |a| a.sha256.push('0')),
        ("non-hex sha256", |a| a.sha256 = "g".repeat(64)),
        ("empty storage key", |a| a.storage_key.clear()),
        ("1025-char storage key", |a| {
            a.storage_key = "k".repeat(1025)
        }),
    ];
    for (w, edit) in bad {
        let mut file = attachment("b.pdf");
        edit(&mut file);
        c.call(w, BAD, attach(vec![file])).await;
    }
    c.verify();
    assert_eq!(
        api.all_messages(&id, 0).await.len(),
        1,
        "refusals store nothing"
    );
}

#[tokio::test]
async fn notes_and_drafts_read_as_internal_and_a_key_writes_without_an_author() {
    let (app, owner, api) = app_with_org().await;
    let key = create_api_key(&app, &owner, &api.org, Role::Agent).await;
    let bot = Actor::new(&app, &key.unwrap().secret, &api.org);
    let id = conversation(&api, "flags@example.com").await;
    let kinds = [Kind::InboundEmail, Kind::InboundChat, Kind::OutboundReply];
    let kinds = [&kinds[..], &[Kind::InternalNote, Kind::AiDraft]].concat();
    let internal = |kind| matches!(kind, Kind::InternalNote | Kind::AiDraft);
    let flags = |kind| (internal(kind), kind == Kind::AiDraft);
    for &kind in &kinds {
        let added = api.message(&id, kind, kind.as_str_name()).await;
        let got = (added.internal, added.ai_draft);
        assert_eq!(got, flags(kind), "AddMessage {kind:?}");
        assert_eq!(
            (added.kind(), &added.author_user_id),
            (kind, &owner.user_id)
        );
    }
    let draft = bot.message(&id, Kind::AiDraft, "Suggested reply").await;
    let got = (&*draft.author_user_id, draft.internal, draft.ai_draft);
    assert_eq!(got, ("", true, true), "a key's draft");
    let listed = api.all_messages(&id, 2).await;
    let got = listed
        .iter()
        .map(|m| (m.kind(), m.author_user_id.is_empty()));
    let mut want: Vec<_> = kinds.iter().map(|&k| (k, false)).collect();
    want.push((Kind::AiDraft, true));
    assert_eq!(got.collect::<Vec<_>>(), want);
    for message in &listed {
        let (kind, got) = (message.kind(), (message.internal, message.ai_draft));
        assert_eq!(got, flags(kind), "ListMessages {kind:?}");
        assert_eq!(message.conversation_id, id);
    }
    let last = api.conversation_by_id(&id).await.unwrap().last_message_at;
    let (last, sent) = (
        last.expect("last_message_at is set"),
        draft.created_at.unwrap(),
    );
    assert!(
        (last.seconds, last.nanos) >= (sent.seconds, sent.nanos),
        "{last:?}"
    );
}

#[tokio::test]
async fn light_agents_read_everything_and_every_write_is_denied() {
    let (app, owner, api) = app_with_org().await;
    let light = add_member(&app, &owner, &api.org, Role::LightAgent).await;
    let key = create_api_key(&app, &owner, &api.org, Role::LightAgent).await;
    let key = Actor::new(&app, &key.unwrap().secret, &api.org);
    let customer = api.customer("light@example.com").await;
    let id = api.conversation(&customer.id, "light").await.id;
    api.message(&id, Kind::InternalNote, "internal").await;
    let mut c = Checks::default();
    let denied = Code::PermissionDenied;
    let readers = [
        ("light agent", Actor::user(&app, &light, &api.org)),
        ("key", key),
    ];
    for (who, reader) in readers {
        let got = reader.customer_by_id(&customer.id).await.unwrap();
        assert_eq!(got, customer);
        assert_eq!(reader.find("light@example.com").await.unwrap(), customer);
        assert_eq!(reader.all_customer_ids(0).await, vec![customer.id.clone()]);
        assert_eq!(reader.conversation_by_id(&id).await.unwrap().id, id);
        let listed = reader.all_conversation_ids(St::Unspecified, "", 0).await;
        assert_eq!(listed, vec![id.clone()]);
        assert!(reader.all_messages(&id, 0).await[0].internal);
        let w = |rpc: &str| format!("{who} {rpc}");
        let upsert = reader.upsert(upsert_request("new@example.com"));
        c.call(&w("UpsertCustomer"), denied, upsert).await;
        let create = reader.create(open_request(&customer.id, 2, ""));
        c.call(&w("CreateConversation"), denied, create).await;
        let update = reader.update(set_status(&id, St::Closed.into()));
        c.call(&w("UpdateConversation"), denied, update).await;
        let add = reader.add(message_request(&id, Kind::InternalNote, "hi"));
        c.call(&w("AddMessage"), denied, add).await;
    }
    c.verify();
    assert_eq!(api.all_customer_ids(0).await.len(), 1);
    assert_eq!(
        api.conversation_by_id(&id).await.unwrap().status(),
        St::Open
    );
    assert_eq!(api.all_messages(&id, 0).await.len(), 1);
}
