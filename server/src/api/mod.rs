//! gRPC handlers. Every handler has one shape: validate the request, take the
//! principal from the request extensions, authorize, run the domain call in
//! one tenant transaction, convert the result.

mod api_keys;
mod auth;
mod conversations;
mod convert;
mod cursor;
mod customers;
mod integrations;
mod members;
mod oauth;
mod orgs;
mod refresh;
mod sessions;
mod system;
mod totp;
mod validate;
mod webhooks;

pub use api_keys::ApiKeyApi;
pub use auth::AuthApi;
pub use conversations::ConversationApi;
pub use cursor::Pager;
pub use customers::CustomerApi;
pub use integrations::{IntegrationApi, secret_context};
pub use members::MemberApi;
pub use orgs::{OrgApi, parse_cidrs};
pub use system::SystemApi;
pub use webhooks::WebhookApi;
