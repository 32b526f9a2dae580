//! The gate: the async tower layer that checks every call against the access
//! table generated from the contract, and the [`Principal`] it hands to
//! handlers through the request extensions.

mod deadline;
mod headers;
mod http;
mod layer;
mod principal;
mod rates;
mod refusal;

pub use deadline::{DeadlineLayer, MAX_DEADLINE};
pub use layer::{Decision, GateLayer, decide};
pub use principal::{Actor, Principal, principal, role_from_db, role_to_db};
