//! Helpers shared by the customer and conversation test binaries.

#![allow(dead_code, unused_imports)]

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
        Caller, Checks, attachment, field, list_request, message_request, number_field,
        open_request, random_id, set_assignee, set_status, string_field, tamper, upsert_request,
    },
};
use tonic::Code;

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
