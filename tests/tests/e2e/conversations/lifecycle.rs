//! Conversations and messages end to end: creation, status and assignee,
//! message kinds, mentions, attachments, internal notes and AI drafts, and
//! light agents' read-only access. Other orgs' ids: `isolation::rpc`.

use ochre_sdk::v1::{
    Attachment, Channel as Chan, ConversationStatus as St, MessageKind as Kind,
    UpdateConversationRequest,
};
use ochre_tests::{
    prelude::*,
    support::{
        attachment, message_request, open_request, random_id, set_assignee, set_status,
        upsert_request,
    },
};

use super::{BAD, OK, app_with_org, conversation, outsider, state};

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
    let bot = Caller::new(&app, &key.unwrap().secret, &api.org);
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
    let key = Caller::new(&app, &key.unwrap().secret, &api.org);
    let customer = api.customer("light@example.com").await;
    let id = api.conversation(&customer.id, "light").await.id;
    api.message(&id, Kind::InternalNote, "internal").await;
    let mut c = Checks::default();
    let denied = Code::PermissionDenied;
    let readers = [
        ("light agent", Caller::user(&app, &light, &api.org)),
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
