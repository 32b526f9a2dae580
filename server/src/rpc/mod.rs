//! gRPC handlers, one room per proto service. Every handler has one shape:
//! validate the request, take the principal the gate made, run the domain
//! call in one tenant transaction, convert the result. Handlers return
//! [`crate::error::ApiError`]; its one conversion makes the `tonic::Status`.

mod api_keys;
mod audit;
mod budgets;
mod conversations;
mod convert;
mod customers;
mod exports;
mod guard;
mod identity;
mod integrations;
mod members;
mod orgs;
pub mod pager;
pub mod request_ids;
pub mod state;
mod surveys;
mod system;
pub mod validate;
mod webhooks;

pub use api_keys::ApiKeyApi;
pub use audit::AuditApi;
pub use budgets::BudgetApi;
pub use conversations::ConversationApi;
pub use customers::CustomerApi;
pub use exports::ExportApi;
pub use guard::GuardApi;
pub use identity::AuthApi;
pub use integrations::IntegrationApi;
pub use members::MemberApi;
pub use orgs::OrgApi;
pub use state::AppState;
pub use surveys::SurveyApi;
pub use system::SystemApi;
pub use webhooks::WebhookApi;
