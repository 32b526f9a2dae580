//! The webhook ingress's refusals: each a counter, an HTTP status and a
//! fixed message (never a detail of the delivery).

use axum::http::StatusCode;

use super::{Outcome, verify::VerifyError};

/// A refusal: its counter, status and fixed message.
pub(super) struct Refusal {
    pub(super) outcome: Outcome,
    pub(super) status: StatusCode,
    pub(super) message: &'static str,
}

pub(super) const fn refusal(
    outcome: Outcome,
    status: StatusCode,
    message: &'static str,
) -> Refusal {
    Refusal {
        outcome,
        status,
        message,
    }
}

pub(super) fn verify_refusal(e: &VerifyError) -> Refusal {
    match e {
        VerifyError::MissingHeader(_) => refusal(
            Outcome::Malformed,
            StatusCode::BAD_REQUEST,
            "a required signature header is missing",
        ),
        VerifyError::MalformedHeader(_) => refusal(
            Outcome::Malformed,
            StatusCode::BAD_REQUEST,
            "a signature header is malformed",
        ),
        VerifyError::MalformedBody => refusal(
            Outcome::Malformed,
            StatusCode::BAD_REQUEST,
            "the signed body lacks the delivery id",
        ),
        VerifyError::BadSignature => refusal(
            Outcome::BadSignature,
            StatusCode::UNAUTHORIZED,
            "signature does not match",
        ),
        VerifyError::Stale | VerifyError::Future => refusal(
            Outcome::Stale,
            StatusCode::UNAUTHORIZED,
            "timestamp outside the tolerance window",
        ),
    }
}

pub(super) const fn too_large() -> Refusal {
    refusal(
        Outcome::TooLarge,
        StatusCode::PAYLOAD_TOO_LARGE,
        "the body is larger than 1 MiB",
    )
}

pub(super) const fn unknown_integration() -> Refusal {
    refusal(
        Outcome::NotFound,
        StatusCode::NOT_FOUND,
        "unknown integration",
    )
}

pub(super) const fn pending_deletion() -> Refusal {
    refusal(
        Outcome::Gone,
        StatusCode::GONE,
        "the workspace of this integration is scheduled for deletion",
    )
}

pub(super) const fn busy() -> Refusal {
    refusal(
        Outcome::Error,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily unavailable, retry later",
    )
}
