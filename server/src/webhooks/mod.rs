//! Inbound webhooks, every part under one name: the providers' signature
//! schemes ([`verify`], pure functions), the HTTP ingress that verifies a
//! delivery on its raw body and stores it durably before the 2xx
//! ([`ingress`]), reading that body at a minimum rate ([`body`]), what is read from a verified body ([`event`]) and the
//! delivery counters ([`metrics`]). Storage: `db::service::webhooks` (the
//! ingress's gates) and `db::store::webhooks` (tenant reads); the
//! `WebhookService` RPCs: `rpc::webhooks`.

pub mod body;
pub mod event;
pub mod ingress;
pub mod limits;
pub mod metrics;
mod refusal;
pub mod verify;

pub use metrics::{Metrics, Outcome};
pub use verify::Provider;
