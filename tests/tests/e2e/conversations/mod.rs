//! Customers, conversations and messages end to end; helpers shared by the
//! three modules.

mod customers;
mod lifecycle;
mod lists;
mod one_round_trip;
mod pooled;

use ochre_sdk::v1::{Conversation, ConversationStatus as St};
use ochre_tests::prelude::*;

pub const BAD: Code = Code::InvalidArgument;
pub const OK: Code = Code::Ok;

/// A fresh app with a signed-in owner of a new org, acting in it.
pub async fn app_with_org() -> (TestApp, Session, Caller) {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme Support").await;
    let api = Caller::user(&app, &owner, &org);
    (app, owner, api)
}

/// A new customer with one conversation; returns the conversation id.
pub async fn conversation(api: &Caller, email: &str) -> String {
    let customer = api.customer(email).await;
    api.conversation(&customer.id, "Subject").await.id
}

/// A signed-in user with an org of their own.
pub async fn outsider(app: &TestApp) -> Session {
    let outsider = signup_and_login(app, &unique_email()).await;
    create_org(app, &outsider, "Elsewhere").await;
    outsider
}

pub fn state(conversation: Conversation) -> (St, String) {
    (conversation.status(), conversation.assignee_user_id)
}
