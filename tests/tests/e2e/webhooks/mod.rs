//! Webhook ingress end to end:
//! `POST /webhooks/{provider}/{org_id}/{integration_id}` on the gRPC port,
//! signed as each of the nine providers signs (computed here, independently
//! of the server's verifier), verified under the integration's pasted
//! signing secret, stored once per delivery id, and listed through
//! `WebhookService.ListWebhookEvents`; plus the delivery counters (admin
//! `/metrics`), `/cron/{job}` behind the cron bearer, and the ingress under
//! load.

pub(crate) mod delivery;
pub(crate) mod http;
pub(crate) mod providers;
pub(crate) mod remote;
pub(crate) mod rpc;
pub(crate) mod signing;

mod accepting;
mod gates;
mod listing;
mod load;
mod operator;
mod quirks;
mod refusals;
mod resilience;
mod rotation;
mod routing;
