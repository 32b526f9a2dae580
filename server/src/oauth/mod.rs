//! OAuth connect building blocks: the signed, expiring `state` (with PKCE
//! helpers) and the same-origin `return_to` check. The connect RPCs that
//! use them are the next step of the vault issue.

pub mod return_to;
pub mod state;

use uuid::Uuid;

use crate::vault::SecretContext;

/// The vault context of a connect flow's PKCE verifier (bound to its row).
pub fn verifier_context(org: Uuid, row: Uuid) -> SecretContext<'static> {
    SecretContext {
        org_id: org,
        scope: "oauth_state",
        owner_id: row,
        field: "pkce_verifier",
    }
}
