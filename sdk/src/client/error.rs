//! [`OchreError`]: the one error type of [`OchreClient`](super::OchreClient),
//! with the `google.rpc` details of a refusal decoded.

use std::{fmt, time::Duration};

use tonic::Code;
use tonic_types::StatusExt as _;
pub use tonic_types::{ErrorDetails, ErrorInfo, FieldViolation};

/// Why a call (or building the client) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OchreError {
    /// The server (or the transport, for UNAVAILABLE and DEADLINE_EXCEEDED)
    /// answered with a gRPC status; see [`ApiStatus`] for its details.
    #[error("{0}")]
    Status(Box<ApiStatus>),
    /// The session is over: its refresh token was refused (already used,
    /// which revokes the session, or expired or revoked). Sign in again.
    #[error("signed out: {0}; sign in again")]
    SignedOut(String),
    /// The account has a second factor (TOTP) and the builder was given no
    /// code: use [`totp_code`](super::OchreClientBuilder::totp_code) or
    /// [`totp_with`](super::OchreClientBuilder::totp_with).
    #[error(
        "this account needs a second factor: give the builder `.totp_code(..)` or `.totp_with(..)`"
    )]
    SecondFactorRequired,
    /// The transport could not be set up (TLS configuration, endpoint).
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The builder's configuration is not usable (bad URL, bad org id,
    /// header value that cannot be sent).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
}

/// A gRPC status with its `google.rpc` details decoded.
#[derive(Debug)]
pub struct ApiStatus {
    status: tonic::Status,
    details: ErrorDetails,
}

impl ApiStatus {
    /// The status as received.
    pub fn status(&self) -> &tonic::Status {
        &self.status
    }

    /// All decoded details (`BadRequest`, `ErrorInfo`, `RetryInfo`, ...).
    pub fn details(&self) -> &ErrorDetails {
        &self.details
    }

    /// The status, without the decoded copy of its details.
    pub fn into_status(self) -> tonic::Status {
        self.status
    }
}

impl fmt::Display for ApiStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.status.code(), self.status.message())?;
        if let Some(reason) = self.details.error_info().map(|i| &i.reason) {
            write!(f, " [{reason}]")?;
        }
        Ok(())
    }
}

impl From<tonic::Status> for OchreError {
    fn from(status: tonic::Status) -> Self {
        let details = status.get_error_details();
        OchreError::Status(Box::new(ApiStatus { status, details }))
    }
}

impl OchreError {
    /// The gRPC code: the status's, UNAUTHENTICATED for
    /// [`SignedOut`](Self::SignedOut) and
    /// [`SecondFactorRequired`](Self::SecondFactorRequired), UNAVAILABLE
    /// for [`Transport`](Self::Transport), INVALID_ARGUMENT for
    /// [`InvalidConfig`](Self::InvalidConfig).
    pub fn code(&self) -> Code {
        match self {
            OchreError::Status(s) => s.status.code(),
            OchreError::SignedOut(_) | OchreError::SecondFactorRequired => Code::Unauthenticated,
            OchreError::Transport(_) => Code::Unavailable,
            OchreError::InvalidConfig(_) => Code::InvalidArgument,
        }
    }

    /// The message: the server's (safe to show) for a status, else this
    /// error's own text.
    pub fn message(&self) -> String {
        match self {
            OchreError::Status(s) => s.status.message().to_owned(),
            other => other.to_string(),
        }
    }

    /// The status, when the server (or transport) answered with one.
    pub fn status(&self) -> Option<&tonic::Status> {
        self.api_status().map(ApiStatus::status)
    }

    /// The status and its decoded details, when there is a status.
    pub fn api_status(&self) -> Option<&ApiStatus> {
        match self {
            OchreError::Status(s) => Some(s),
            _ => None,
        }
    }

    /// The `google.rpc.ErrorInfo` detail, if any.
    pub fn error_info(&self) -> Option<&ErrorInfo> {
        self.api_status().and_then(|s| s.details.error_info())
    }

    /// The machine-readable reason of the `ErrorInfo` detail (for example
    /// `BUDGET_EXHAUSTED`), if any.
    pub fn reason(&self) -> Option<&str> {
        self.error_info().map(|i| i.reason.as_str())
    }

    /// The `google.rpc.BadRequest` field violations (which request field is
    /// wrong and why); empty when there are none.
    pub fn field_violations(&self) -> &[FieldViolation] {
        self.api_status()
            .and_then(|s| s.details.bad_request())
            .map_or(&[], |b| b.field_violations.as_slice())
    }

    /// How long the server asks to wait before retrying (the
    /// `google.rpc.RetryInfo` detail), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api_status()
            .and_then(|s| s.details.retry_info())
            .and_then(|r| r.retry_delay)
    }

    /// Whether this is [`SignedOut`](Self::SignedOut).
    pub fn is_signed_out(&self) -> bool {
        matches!(self, OchreError::SignedOut(_))
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, StatusExt as _};

    use super::*;

    #[test]
    fn a_status_with_details_decodes_its_violations_reason_and_retry_delay() {
        let mut details = ErrorDetails::with_bad_request(vec![FieldViolation::new(
            "customer.email",
            "email is not a valid address",
        )]);
        details.set_error_info(
            "INVALID_EMAIL",
            "ochre.v1",
            std::collections::HashMap::from([("field".to_owned(), "customer.email".to_owned())]),
        );
        details.set_retry_info(Some(Duration::from_secs(3)));
        let status = tonic::Status::with_error_details(Code::InvalidArgument, "bad email", details);
        // Through the wire form: the details travel in `grpc-status-details-bin`.
        let mut header = tonic::codegen::http::HeaderMap::new();
        assert!(
            status.add_header(&mut header).is_ok(),
            "the status has a header form"
        );
        let received = tonic::Status::from_header_map(&header).unwrap_or_else(|| {
            tonic::Status::internal("the status did not survive its header form")
        });
        let err = OchreError::from(received);
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(err.message(), "bad email");
        assert_eq!(err.field_violations().len(), 1);
        assert_eq!(err.field_violations()[0].field, "customer.email");
        assert_eq!(err.reason(), Some("INVALID_EMAIL"));
        assert_eq!(
            err.error_info().map(|i| i.metadata.get("field").cloned()),
            Some(Some("customer.email".to_owned()))
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        assert!(err.to_string().contains("[INVALID_EMAIL]"), "{err}");
    }

    #[test]
    fn a_plain_status_has_no_details() {
        let err = OchreError::from(tonic::Status::not_found("not found"));
        assert_eq!(err.code(), Code::NotFound);
        assert!(err.field_violations().is_empty());
        assert_eq!(err.reason(), None);
        assert_eq!(err.retry_after(), None);
    }

    #[test]
    fn signed_out_reads_as_unauthenticated_with_a_clear_message() {
        let err = OchreError::SignedOut("this refresh token was already used".to_owned());
        assert_eq!(err.code(), Code::Unauthenticated);
        assert!(err.is_signed_out());
        assert!(err.to_string().contains("sign in again"), "{err}");
    }
}
