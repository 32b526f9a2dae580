//! The gate's refusals: each with its reason (`crate::error::Reason`), so
//! a client can tell a missing credential from an expired token, a revoked
//! key, a non-member and an address outside the allowlist.

use crate::{
    db::Verdict,
    error::{ApiError, Reason},
};

pub(super) fn unauthenticated(reason: Reason, msg: &'static str) -> ApiError {
    ApiError::Unauthenticated(reason, msg.into())
}

pub(super) fn not_a_member() -> ApiError {
    ApiError::PermissionDenied(Reason::NotAMember, "not a member of this org".into())
}

/// The answer to an unknown, revoked or expired API key.
pub(super) const API_KEY_INVALID: (Reason, &str) =
    (Reason::ApiKeyInvalid, "invalid or revoked API key");

/// What a verdict other than `ok` answers; `unknown`: the reason and text
/// for a credential the database does not know (or no longer accepts).
pub(super) fn refusal(verdict: Verdict, unknown: (Reason, &'static str)) -> ApiError {
    match verdict {
        Verdict::NotMember => not_a_member(),
        Verdict::AddressRefused => ApiError::PermissionDenied(
            Reason::IpNotAllowed,
            "requests from this address are not allowed for this org".into(),
        ),
        Verdict::PendingDeletion { purge_after } => ApiError::PendingDeletion { purge_after },
        Verdict::NoCredential | Verdict::Ok { .. } => unauthenticated(unknown.0, unknown.1),
    }
}
