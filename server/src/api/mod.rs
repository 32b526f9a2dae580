//! gRPC handlers. Every handler has one shape: validate the request, take the
//! principal from the request extensions, authorize, run the domain call in
//! one tenant transaction, convert the result.

mod api_keys;
mod auth;
mod convert;
mod members;
mod orgs;
mod sessions;
mod system;
mod totp;

pub use api_keys::ApiKeyApi;
pub use auth::AuthApi;
pub use members::MemberApi;
pub use orgs::{OrgApi, parse_cidrs};
pub use system::SystemApi;
