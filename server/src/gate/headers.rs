//! What the gate reads from a request's headers: the bearer credential and
//! the org the caller acts in (`x-ochre-org`).

use ochre_sdk::ORG_HEADER;
use uuid::Uuid;

use super::refusal::unauthenticated;
use crate::{
    error::{ApiError, Reason},
    ids::OrgId,
};

/// The credential of `authorization: Bearer <token>`.
pub(super) fn bearer(headers: &http::HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| {
            unauthenticated(
                Reason::CredentialsMissing,
                "missing credentials: send `authorization: Bearer <token>`",
            )
        })?
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            unauthenticated(
                Reason::CredentialsMalformed,
                "malformed authorization header",
            )
        })
}

/// The org named by `x-ochre-org`, if the header is sent.
pub(super) fn org_header(headers: &http::HeaderMap) -> Result<Option<OrgId>, ApiError> {
    let Some(v) = headers.get(ORG_HEADER) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|s| Uuid::parse_str(s.trim()).ok())
        .map(|u| Some(OrgId::from_uuid(u)))
        .ok_or_else(|| {
            ApiError::invalid_request(
                Reason::OrgHeaderInvalid,
                "x-ochre-org must be an org id (UUID)",
            )
        })
}
