//! gRPC handlers. Every handler has one shape: validate the request, take the
//! principal from the request extensions, authorize, run the domain call in
//! one tenant transaction, convert the result.

mod system;

pub use system::SystemApi;
