//! Customer and conversation helpers for the end-to-end tests: typed calls
//! made by one caller in one org, request builders, paging through a list to
//! its end, and orgs seeded with look-alike customers, conversations and
//! messages.

use std::collections::HashSet;

use ochre_sdk::v1::{
    AddMessageRequest, AddMessageResponse, Attachment, Channel as Chan, Conversation,
    ConversationStatus as St, CreateConversationRequest, CreateConversationResponse,
    CustomFieldValue, Customer, FindCustomerByEmailRequest, FindCustomerByEmailResponse,
    GetConversationRequest, GetConversationResponse, GetCsatSummaryRequest, GetCsatSummaryResponse,
    GetCustomerRequest, GetCustomerResponse, ListConversationsRequest, ListConversationsResponse,
    ListCustomersRequest, ListCustomersResponse, ListMessagesRequest,
    ListMessagesResponse as MessagesPage, ListSurveyResponsesRequest, ListSurveyResponsesResponse,
    Message, MessageKind, SendSurveyRequest, SendSurveyResponse, UpdateConversationRequest,
    UpdateConversationResponse, UpsertCustomerRequest, UpsertCustomerResponse,
    custom_field_value::Value,
};
use tonic::{Response, Status, transport::Channel};

use crate::{
    TestApp,
    clients::{ConversationClient, CustomerClient, GrpcClient as _, SurveyClient},
    identity::{Session, create_org, signup_and_login, unique_email, with_auth},
};

/// At most this many pages per list: a list that never ends fails the test.
const MAX_PAGES: usize = 500;

type Reply<T> = Result<T, Status>;

/// One caller (a user's access token or an API key) acting in one org.
#[derive(Debug, Clone)]
pub struct Caller {
    channel: Channel,
    pub token: String,
    pub org: String,
}

/// One method per RPC, taking the request message as it is.
macro_rules! rpcs {
    ($($client:ident.$method:ident($request:ty) -> $response:ty;)*) => {$(
        pub async fn $method(&self, request: $request) -> Reply<$response> {
            let mut client = self.$client();
            let request = with_auth(request, &self.token, Some(&self.org));
            client.$method(request).await.map(Response::into_inner)
        }
    )*};
}

fn some<T>(value: Option<T>) -> T {
    value.expect("the response carries its resource")
}

impl Caller {
    /// `token` (an access token or an API key) with `x-ochre-org: org`.
    pub fn new(app: &TestApp, token: &str, org: &str) -> Caller {
        Caller {
            channel: app.channel.clone(),
            token: token.to_owned(),
            org: org.to_owned(),
        }
    }

    /// `token` in `org` on another server's channel (a server process).
    pub fn on(channel: Channel, token: &str, org: &str) -> Caller {
        Caller {
            channel,
            token: token.to_owned(),
            org: org.to_owned(),
        }
    }

    /// A signed-in user acting in `org`.
    pub fn user(app: &TestApp, session: &Session, org: &str) -> Caller {
        Caller::new(app, &session.access_token, org)
    }

    fn customers(&self) -> CustomerClient {
        CustomerClient::on(self.channel.clone())
    }

    fn conversations(&self) -> ConversationClient {
        ConversationClient::on(self.channel.clone())
    }

    fn surveys(&self) -> SurveyClient {
        SurveyClient::on(self.channel.clone())
    }

    rpcs! {
        customers.upsert_customer(UpsertCustomerRequest) -> UpsertCustomerResponse;
        customers.get_customer(GetCustomerRequest) -> GetCustomerResponse;
        customers.list_customers(ListCustomersRequest) -> ListCustomersResponse;
        customers.find_customer_by_email(FindCustomerByEmailRequest) -> FindCustomerByEmailResponse;
        conversations.create_conversation(CreateConversationRequest) -> CreateConversationResponse;
        conversations.get_conversation(GetConversationRequest) -> GetConversationResponse;
        conversations.list_conversations(ListConversationsRequest) -> ListConversationsResponse;
        conversations.update_conversation(UpdateConversationRequest) -> UpdateConversationResponse;
        conversations.add_message(AddMessageRequest) -> AddMessageResponse;
        conversations.list_messages(ListMessagesRequest) -> MessagesPage;
        surveys.send_survey(SendSurveyRequest) -> SendSurveyResponse;
        surveys.list_survey_responses(ListSurveyResponsesRequest) -> ListSurveyResponsesResponse;
        surveys.get_csat_summary(GetCsatSummaryRequest) -> GetCsatSummaryResponse;
    }

    pub async fn upsert(&self, request: UpsertCustomerRequest) -> Reply<Customer> {
        Ok(some(self.upsert_customer(request).await?.customer))
    }

    pub async fn customer_by_id(&self, id: &str) -> Reply<Customer> {
        let customer_id = id.to_owned();
        let request = GetCustomerRequest { customer_id };
        Ok(some(self.get_customer(request).await?.customer))
    }

    pub async fn find(&self, email: &str) -> Reply<Customer> {
        let email = email.to_owned();
        let request = FindCustomerByEmailRequest { email };
        Ok(some(self.find_customer_by_email(request).await?.customer))
    }

    pub async fn customers_page(&self, size: i32, token: &str) -> Reply<ListCustomersResponse> {
        let request = ListCustomersRequest {
            page_size: size,
            page_token: token.to_owned(),
        };
        self.list_customers(request).await
    }

    pub async fn create(&self, request: CreateConversationRequest) -> Reply<Conversation> {
        Ok(some(self.create_conversation(request).await?.conversation))
    }

    pub async fn conversation_by_id(&self, id: &str) -> Reply<Conversation> {
        let conversation_id = id.to_owned();
        let request = GetConversationRequest { conversation_id };
        Ok(some(self.get_conversation(request).await?.conversation))
    }

    pub async fn update(&self, request: UpdateConversationRequest) -> Reply<Conversation> {
        Ok(some(self.update_conversation(request).await?.conversation))
    }

    pub async fn add(&self, request: AddMessageRequest) -> Reply<Message> {
        Ok(some(self.add_message(request).await?.message))
    }

    pub async fn messages_page(&self, id: &str, size: i32, token: &str) -> Reply<MessagesPage> {
        let request = ListMessagesRequest {
            conversation_id: id.to_owned(),
            page_size: size,
            page_token: token.to_owned(),
        };
        self.list_messages(request).await
    }

    /// Upserts a named customer with this email; panics on refusal.
    pub async fn customer(&self, email: &str) -> Customer {
        let mut request = upsert_request(email);
        request.name = format!("Customer {email}");
        self.upsert(request).await.expect("upsert customer")
    }

    /// Opens an email conversation with a customer; panics on refusal.
    pub async fn conversation(&self, customer_id: &str, subject: &str) -> Conversation {
        let request = open_request(customer_id, Chan::Email.into(), subject);
        self.create(request).await.expect("create conversation")
    }

    /// Adds a message of `kind`; panics on refusal.
    pub async fn message(&self, conversation_id: &str, kind: MessageKind, body: &str) -> Message {
        let request = message_request(conversation_id, kind, body);
        self.add(request).await.expect("add message")
    }

    /// Every customer id, page by page.
    pub async fn all_customer_ids(&self, size: i32) -> Vec<String> {
        all_pages("ListCustomers", async |token| {
            let page = self.customers_page(size, &token).await?;
            let ids = page.customers.into_iter().map(|c| c.id).collect();
            Ok((ids, page.next_page_token))
        })
        .await
    }

    /// Every conversation id matching a filter, page by page.
    pub async fn all_conversation_ids(&self, status: St, assignee: &str, size: i32) -> Vec<String> {
        all_pages("ListConversations", async |token| {
            let request = list_request(status, assignee, size, &token);
            let page = self.list_conversations(request).await?;
            let ids = page.conversations.into_iter().map(|c| c.id).collect();
            Ok((ids, page.next_page_token))
        })
        .await
    }

    /// Every message of a conversation, page by page.
    pub async fn all_messages(&self, conversation_id: &str, size: i32) -> Vec<Message> {
        all_pages("ListMessages", async |token| {
            let page = self.messages_page(conversation_id, size, &token).await?;
            Ok((page.messages, page.next_page_token))
        })
        .await
    }
}

/// Reads pages (items and the next token) until the token is empty.
async fn all_pages<T>(
    rpc: &str,
    mut page: impl AsyncFnMut(String) -> Reply<(Vec<T>, String)>,
) -> Vec<T> {
    let (mut items, mut token) = (Vec::new(), String::new());
    for _ in 0..MAX_PAGES {
        let (more, next) = page(token).await.unwrap_or_else(|s| panic!("{rpc}: {s:?}"));
        items.extend(more);
        if next.is_empty() {
            return items;
        }
        token = next;
    }
    panic!("{rpc} never returned an empty next_page_token");
}

/// An upsert of `email` with every other field empty.
pub fn upsert_request(email: &str) -> UpsertCustomerRequest {
    UpsertCustomerRequest {
        email: email.to_owned(),
        ..Default::default()
    }
}

/// A CreateConversation request (`channel` as a raw enum number).
pub fn open_request(customer_id: &str, channel: i32, subject: &str) -> CreateConversationRequest {
    CreateConversationRequest {
        customer_id: customer_id.to_owned(),
        channel,
        subject: subject.to_owned(),
        ..Default::default()
    }
}

/// A ListConversations request; an empty `who` lists every assignee.
pub fn list_request(status: St, who: &str, size: i32, token: &str) -> ListConversationsRequest {
    ListConversationsRequest {
        status: status.into(),
        assignee_user_id: who.to_owned(),
        page_size: size,
        page_token: token.to_owned(),
    }
}

/// An AddMessage request without mentions or attachments.
pub fn message_request(conversation_id: &str, kind: MessageKind, body: &str) -> AddMessageRequest {
    AddMessageRequest {
        conversation_id: conversation_id.to_owned(),
        kind: kind.into(),
        body: body.to_owned(),
        ..Default::default()
    }
}

/// A status update (`status` as a raw enum number), the assignee unchanged.
pub fn set_status(conversation_id: &str, status: i32) -> UpdateConversationRequest {
    UpdateConversationRequest {
        conversation_id: conversation_id.to_owned(),
        status: Some(status),
        assignee_user_id: None,
    }
}

/// An assignee update, the status unchanged; "" unassigns.
pub fn set_assignee(conversation_id: &str, assignee: &str) -> UpdateConversationRequest {
    UpdateConversationRequest {
        conversation_id: conversation_id.to_owned(),
        status: None,
        assignee_user_id: Some(assignee.to_owned()),
    }
}

/// Metadata of a valid attachment.
pub fn attachment(file_name: &str) -> Attachment {
    Attachment {
        file_name: file_name.to_owned(),
        content_type: "application/pdf".to_owned(),
        size_bytes: 48_213,
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
        storage_key: format!("attachments/{}/{file_name}", uuid::Uuid::new_v4()),
    }
}

pub fn string_field(value: &str) -> CustomFieldValue {
    field(Value::StringValue(value.to_owned()))
}

pub fn number_field(value: f64) -> CustomFieldValue {
    field(Value::NumberValue(value))
}

pub fn field(value: Value) -> CustomFieldValue {
    CustomFieldValue { value: Some(value) }
}

/// A random (version 4) uuid: an id no org has.
pub fn random_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `token` with the character in its middle changed.
pub fn tamper(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// An org whose customers each have a conversation with an email and a note.
#[derive(Debug)]
pub struct SeededOrg {
    pub org: String,
    pub owner: Session,
    pub customers: Vec<Customer>,
    pub conversations: Vec<Conversation>,
}

impl SeededOrg {
    pub fn caller(&self, app: &TestApp) -> Caller {
        Caller::user(app, &self.owner, &self.org)
    }

    pub fn customer_ids(&self) -> HashSet<String> {
        self.customers.iter().map(|c| c.id.clone()).collect()
    }

    pub fn conversation_ids(&self) -> HashSet<String> {
        self.conversations.iter().map(|c| c.id.clone()).collect()
    }
}

/// A new owner and org holding `count` customers whose emails are
/// `customer-<i>@example.com`, the same in every seeded org.
pub async fn seed_org(app: &TestApp, name: &str, count: usize) -> SeededOrg {
    let owner = signup_and_login(app, &unique_email()).await;
    let org = create_org(app, &owner, name).await;
    let api = Caller::user(app, &owner, &org);
    let (mut customers, mut conversations) = (Vec::new(), Vec::new());
    for i in 0..count {
        let customer = api.customer(&format!("customer-{i}@example.com")).await;
        let subject = format!("Order {i}");
        let conversation = api.conversation(&customer.id, &subject).await;
        let (id, inbound) = (&conversation.id, format!("Where is order {i}?"));
        api.message(id, MessageKind::InboundEmail, &inbound).await;
        api.message(id, MessageKind::InternalNote, "checking").await;
        customers.push(customer);
        conversations.push(conversation);
    }
    SeededOrg {
        org,
        owner,
        customers,
        conversations,
    }
}
