//! The vault contexts: what every sealed field is bound to (associated
//! data). Each kind of sealed field has exactly one context function here,
//! used by the code that seals it, the code that opens it and
//! `ochre keys rotate` alike, so the three cannot drift apart.

use uuid::Uuid;

use crate::ids::{IntegrationId, OAuthStateId, OrgId, UserId};

use super::vault::SecretContext;
use crate::integrations::catalog::{PREVIOUS_SUFFIX, SIGNING_FIELDS};

/// An integration secret: bound to org, integration and field.
///
/// A retired signing secret (`<field>.previous`) keeps the context of its
/// field: retiring it renames the row and does not re-encrypt it.
pub fn secret_context<'a>(
    org: OrgId,
    integration: IntegrationId,
    field: &'a str,
) -> SecretContext<'a> {
    SecretContext {
        org_id: org.uuid(),
        scope: "integration",
        owner_id: integration.uuid(),
        field: field
            .strip_suffix(PREVIOUS_SUFFIX)
            .filter(|base| SIGNING_FIELDS.contains(base))
            .unwrap_or(field),
    }
}

/// A connect flow's PKCE verifier: bound to its `oauth_states` row.
pub fn verifier_context(org: OrgId, row: OAuthStateId) -> SecretContext<'static> {
    SecretContext {
        org_id: org.uuid(),
        scope: "oauth_state",
        owner_id: row.uuid(),
        field: "pkce_verifier",
    }
}

/// Which of a user's two TOTP secrets a ciphertext holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpField {
    /// The enabled secret (`users.totp_secret`).
    Secret,
    /// The secret of an enrolment not yet confirmed (`users.totp_pending_secret`).
    Pending,
}

/// A user's TOTP secret: bound to the user and the field, outside any org.
pub fn totp_context(user: UserId, field: TotpField) -> SecretContext<'static> {
    SecretContext {
        org_id: Uuid::nil(),
        scope: "user_totp",
        owner_id: user.uuid(),
        field: match field {
            TotpField::Secret => "secret",
            TotpField::Pending => "pending",
        },
    }
}

/// The kept answer of an idempotent create (`request_ids.response`): bound
/// to the org it acted in, the caller that made it (a user's or an API
/// key's id) and the method.
pub fn request_context(org: Uuid, caller: Uuid, method: &str) -> SecretContext<'_> {
    SecretContext {
        org_id: org,
        scope: "request_id",
        owner_id: caller,
        field: method,
    }
}
