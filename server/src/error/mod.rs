//! The errors of the request path and their one conversion to
//! `tonic::Status` (module `status`). Each variant has one meaning; causes are
//! kept (`source`) and logged where the error is answered, never shown to
//! the caller.
//!
//! Every refusal carries `google.rpc` details (AIP-193): an `ErrorInfo`
//! whose `reason` is one of [`Reason`] (domain `ochre.v1`), a `BadRequest`
//! naming the field on INVALID_ARGUMENT when the field is known, and a
//! `RetryInfo` when waiting fixes it (rate limits, lockouts, the hashing
//! pool, an open circuit breaker).
//!
//! Database errors are classified once, in [`ApiError::from`] for
//! [`DbError`](crate::db::DbError) (module `db`): messages our own PL/pgSQL functions raise
//! are shown; bad input the database refuses (SQLSTATE class 22, check
//! violations) is INVALID_ARGUMENT (reason `VALUE_INVALID`, or
//! `FIELD_INVALID` once a handler names the field with
//! [`ApiError::on_field`]); only what a retry can fix (connection loss,
//! pool timeout, serialization failure, deadlock, statement or lock
//! timeout) is UNAVAILABLE; anything else is INTERNAL with an opaque
//! message.

mod db;
pub mod reason;
mod status;
pub mod wire;

use std::{borrow::Cow, time::Duration};

use sea_orm::DbErr;

pub use self::reason::{DOMAIN, Reason};
use crate::crypto::{password::HashError, vault::VaultError};

/// A message shown to the caller: a fixed text or one built from the
/// request's own field names, never a secret or internal detail.
pub type Message = Cow<'static, str>;

/// A field path of the request (`customer.email`, `attachments[2].url`).
pub type Field = Cow<'static, str>;

/// An error a handler (or the gate) returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is wrong; retrying it as is cannot succeed. With
    /// a `field`, the status names it in a `google.rpc.BadRequest`.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        field: Option<Field>,
        reason: Reason,
        message: Message,
    },
    /// No valid credential, or a credential check (password, TOTP) failed.
    #[error("unauthenticated: {1}")]
    Unauthenticated(Reason, Message),
    /// The caller is known and may not do this.
    #[error("permission denied: {1}")]
    PermissionDenied(Reason, Message),
    /// The thing does not exist, or the caller may not know it does.
    #[error("not found: {1}")]
    NotFound(Reason, Message),
    #[error("already exists: {1}")]
    AlreadyExists(Reason, Message),
    /// The state of the system does not allow this now.
    #[error("failed precondition: {1}")]
    FailedPrecondition(Reason, Message),
    /// The org is pending deletion: FAILED_PRECONDITION naming the purge
    /// date (reason `WORKSPACE_PENDING_DELETION`, metadata `purge_after`).
    #[error("the workspace is pending deletion")]
    PendingDeletion {
        purge_after: chrono::DateTime<chrono::Utc>,
    },
    /// A bounded thing is exhausted and waiting does not fix it (no
    /// `RetryInfo`): the export is too large.
    #[error("resource exhausted: {1}")]
    ResourceExhausted(Reason, Message),
    /// A limit refused the call for now: RESOURCE_EXHAUSTED with a
    /// `google.rpc.RetryInfo` detail and `retry-after` metadata (seconds).
    #[error("throttled: {message}")]
    Throttled {
        reason: Reason,
        message: Message,
        retry_after: Duration,
    },
    /// A consumption budget has no room for a reservation:
    /// RESOURCE_EXHAUSTED saying what remains (reason `BUDGET_EXHAUSTED`,
    /// metadata `kind`, `remaining`, `requested`).
    #[error("budget exhausted")]
    BudgetExhausted {
        kind: &'static str,
        remaining: i64,
        requested: i64,
    },
    /// Something a retry can fix (an unreachable provider).
    #[error("unavailable: {1}")]
    Unavailable(Reason, Message),
    /// Something a retry can fix, but not before `retry_after` (a provider's
    /// circuit breaker is open): UNAVAILABLE with a `google.rpc.RetryInfo`
    /// detail and `retry-after` metadata (seconds).
    #[error("unavailable for now: {message}")]
    UnavailableFor {
        reason: Reason,
        message: Message,
        retry_after: Duration,
    },
    /// The call did not finish within its deadline (the caller's
    /// `grpc-timeout`, at most the server's own limit).
    #[error("deadline exceeded")]
    DeadlineExceeded,
    /// A path the contract does not declare (reason `UNKNOWN_METHOD`).
    #[error("unimplemented: {0}")]
    Unimplemented(Message),
    /// The database failed in a way a retry can fix.
    #[error("database unavailable")]
    DatabaseUnavailable(#[source] DbErr),
    /// The database refused a statement for a reason that is our bug.
    #[error("database error")]
    Database(#[source] DbErr),
    /// A sealed field could not be sealed or opened.
    #[error("vault")]
    Vault(#[from] VaultError),
    /// Password hashing failed (other than being busy).
    #[error("password hashing")]
    PasswordHash(#[source] HashError),
    /// A stored value breaks an invariant of ours (named, no value shown).
    #[error("corrupt stored value: {0}")]
    Corrupt(&'static str),
}

impl ApiError {
    /// INVALID_ARGUMENT naming the offending `field` (reason `FIELD_INVALID`).
    pub fn invalid_field(field: impl Into<Field>, msg: impl Into<Message>) -> Self {
        ApiError::InvalidArgument {
            field: Some(field.into()),
            reason: Reason::FieldInvalid,
            message: msg.into(),
        }
    }

    /// INVALID_ARGUMENT for a required `field` left empty: "`field` is
    /// required" (reason `FIELD_REQUIRED`).
    pub fn required(field: impl Into<Field>) -> Self {
        let field = field.into();
        ApiError::InvalidArgument {
            message: format!("{field} is required").into(),
            field: Some(field),
            reason: Reason::FieldRequired,
        }
    }

    /// INVALID_ARGUMENT about no field of the request body (a header), with
    /// its own reason.
    pub fn invalid_request(reason: Reason, msg: impl Into<Message>) -> Self {
        ApiError::InvalidArgument {
            field: None,
            reason,
            message: msg.into(),
        }
    }

    /// Names the field of an INVALID_ARGUMENT that has none yet (bad input
    /// the database refused, whose column the handler knows); any other
    /// error is returned as it is.
    #[must_use]
    pub fn on_field(self, field: impl Into<Field>) -> Self {
        match self {
            ApiError::InvalidArgument {
                field: None,
                message,
                ..
            } => ApiError::InvalidArgument {
                field: Some(field.into()),
                reason: Reason::FieldInvalid,
                message,
            },
            other => other,
        }
    }

    /// NOT_FOUND with the generic message.
    pub fn not_found() -> Self {
        ApiError::NotFound(Reason::NotFound, Cow::Borrowed("not found"))
    }

    /// PERMISSION_DENIED for an API key calling a method for people.
    pub fn denied() -> Self {
        ApiError::PermissionDenied(
            Reason::ApiKeyNotAllowed,
            Cow::Borrowed("API keys cannot call this method"),
        )
    }

    /// UNAUTHENTICATED: the session or key verified at the start of the
    /// request is no longer what it was (logged out, revoked, changed).
    pub fn unauthenticated() -> Self {
        ApiError::Unauthenticated(
            Reason::SessionEnded,
            Cow::Borrowed("invalid or missing credentials"),
        )
    }

    /// RESOURCE_EXHAUSTED with `RetryInfo` for a limit or lock.
    pub fn throttled(reason: Reason, msg: impl Into<Message>, retry_after: Duration) -> Self {
        ApiError::Throttled {
            reason,
            message: msg.into(),
            retry_after,
        }
    }

    /// The reason answered in the status's `ErrorInfo`.
    pub fn reason(&self) -> Reason {
        match self {
            ApiError::InvalidArgument { reason, .. }
            | ApiError::Unauthenticated(reason, _)
            | ApiError::PermissionDenied(reason, _)
            | ApiError::NotFound(reason, _)
            | ApiError::AlreadyExists(reason, _)
            | ApiError::FailedPrecondition(reason, _)
            | ApiError::ResourceExhausted(reason, _)
            | ApiError::Throttled { reason, .. }
            | ApiError::Unavailable(reason, _)
            | ApiError::UnavailableFor { reason, .. } => *reason,
            ApiError::PendingDeletion { .. } => Reason::WorkspacePendingDeletion,
            ApiError::BudgetExhausted { .. } => Reason::BudgetExhausted,
            ApiError::Unimplemented(_) => Reason::UnknownMethod,
            ApiError::DeadlineExceeded => Reason::DeadlineExceeded,
            ApiError::DatabaseUnavailable(_) => Reason::DatabaseUnavailable,
            ApiError::Database(_)
            | ApiError::Vault(_)
            | ApiError::PasswordHash(_)
            | ApiError::Corrupt(_) => Reason::Internal,
        }
    }
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy { retry_after } => ApiError::throttled(
                Reason::HashingBusy,
                "too many sign-ins in progress: retry in a moment",
                retry_after,
            ),
            other => ApiError::PasswordHash(other),
        }
    }
}
