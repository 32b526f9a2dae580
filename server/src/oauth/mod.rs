//! OAuth connect building blocks: the signed, expiring `state` (with PKCE
//! helpers) and the same-origin `return_to` check. The connect RPCs that
//! use them are the next step of the vault issue.

pub mod return_to;
pub mod state;
