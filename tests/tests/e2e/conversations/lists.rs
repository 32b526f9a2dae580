//! Lists of customers, conversations and messages: page sizes, order,
//! page tokens bound to their org, list and filter, and filters.

use ochre_sdk::v1::{ConversationStatus as St, MessageKind as Kind};
use ochre_tests::{
    prelude::*,
    support::{list_request, set_assignee, set_status, tamper},
};

use super::{BAD, OK, app_with_org, conversation};

#[tokio::test]
async fn lists_default_to_fifty_per_page_coerce_large_sizes_and_refuse_negative_ones() {
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
    for size in [101, 10_000, i32::MAX] {
        let coerced = api.customers_page(size, "").await.unwrap().customers;
        assert_eq!(coerced.len(), 51, "page_size {size} is taken as 100");
        let coerced = api.messages_page(&id, size, "").await.unwrap().messages;
        assert_eq!(coerced.len(), 51, "page_size {size} is taken as 100");
    }
    let mut c = Checks::default();
    for size in [-1, i32::MIN] {
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
