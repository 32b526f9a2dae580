//! Integrations: the provider catalog (least-privilege scopes as data).

pub mod breaker;
pub mod catalog;
