//! Integrations: the provider catalog (least-privilege scopes as data).

pub mod catalog;
