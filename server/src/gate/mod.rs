//! The gate: the async tower layer that checks every call against the access
//! table generated from the contract, and the [`Principal`] it hands to
//! handlers through the request extensions.

mod actor;
mod deadline;
mod headers;
mod http;
mod later;
mod layer;
mod principal;
mod rates;
mod refusal;
mod roles;

pub use actor::Actor;
pub use deadline::{DeadlineLayer, MAX_DEADLINE};
pub use layer::{Decision, GateLayer, decide};
pub use principal::{Principal, principal};
pub use roles::{role_from_db, role_to_db};
