//! Integrations as a domain: the provider catalog (least-privilege scopes as
//! data), the per-provider circuit breakers on outbound calls, and the OAuth
//! connect building blocks (the signed single-use `state`, PKCE, the
//! same-origin `return_to` check). The RPCs live in `rpc::integrations`.

pub mod breaker;
pub mod catalog;
pub mod oauth_state;
pub mod return_to;
