//! The errors of the request path and their one conversion to
//! `tonic::Status`. Each variant has one meaning; causes are kept (`source`)
//! and logged where the error is answered, never shown to the caller.
//!
//! Database errors are classified once, in [`ApiError::from`] for
//! [`DbError`]: messages our own PL/pgSQL functions raise are shown; bad
//! input the database refuses (SQLSTATE class 22, check violations) is
//! INVALID_ARGUMENT; only what a retry can fix (connection loss, pool
//! timeout, serialization failure, deadlock, statement or lock timeout) is
//! UNAVAILABLE; anything else is INTERNAL with an opaque message.

use std::borrow::Cow;

use sea_orm::{DbErr, RuntimeErr, sqlx};
use tonic::Status;

use crate::{
    crypto::{password::HashError, vault::VaultError},
    db::DbError,
};

/// A message shown to the caller: a fixed text or one built from the
/// request's own field names, never a secret or internal detail.
pub type Message = Cow<'static, str>;

/// An error a handler (or the gate) returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request itself is wrong; retrying it as is cannot succeed.
    #[error("invalid argument: {0}")]
    InvalidArgument(Message),
    /// No valid credential, or a credential check (password, TOTP) failed.
    #[error("unauthenticated: {0}")]
    Unauthenticated(Message),
    /// The caller is known and may not do this.
    #[error("permission denied: {0}")]
    PermissionDenied(Message),
    /// The thing does not exist, or the caller may not know it does.
    #[error("not found: {0}")]
    NotFound(Message),
    #[error("already exists: {0}")]
    AlreadyExists(Message),
    /// The state of the system does not allow this now.
    #[error("failed precondition: {0}")]
    FailedPrecondition(Message),
    /// The org is pending deletion: FAILED_PRECONDITION naming the purge
    /// date, with a `google.rpc.ErrorInfo` (reason
    /// `WORKSPACE_PENDING_DELETION`, metadata `purge_after`).
    #[error("the workspace is pending deletion")]
    PendingDeletion {
        purge_after: chrono::DateTime<chrono::Utc>,
    },
    /// A quota or a bounded pool is exhausted; retry later.
    #[error("resource exhausted: {0}")]
    ResourceExhausted(Message),
    /// A limit refused the call for now: RESOURCE_EXHAUSTED with a
    /// `google.rpc.RetryInfo` detail and `retry-after` metadata (seconds).
    #[error("throttled: {message}")]
    Throttled {
        message: Message,
        retry_after: std::time::Duration,
    },
    /// A consumption budget has no room for a reservation:
    /// RESOURCE_EXHAUSTED saying what remains, with a `google.rpc.ErrorInfo`
    /// (reason `BUDGET_EXHAUSTED`, metadata `kind`, `remaining`,
    /// `requested`).
    #[error("budget exhausted")]
    BudgetExhausted {
        kind: &'static str,
        remaining: i64,
        requested: i64,
    },
    /// Something a retry can fix (an unreachable provider).
    #[error("unavailable: {0}")]
    Unavailable(Message),
    /// Something a retry can fix, but not before `retry_after` (a provider's
    /// circuit breaker is open): UNAVAILABLE with a `google.rpc.RetryInfo`
    /// detail and `retry-after` metadata (seconds).
    #[error("unavailable for now: {message}")]
    UnavailableFor {
        message: Message,
        retry_after: std::time::Duration,
    },
    /// A path the contract does not declare.
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
    /// INVALID_ARGUMENT with a message safe to show.
    pub fn invalid(msg: impl Into<Message>) -> Self {
        ApiError::InvalidArgument(msg.into())
    }

    /// NOT_FOUND with the generic message.
    pub fn not_found() -> Self {
        ApiError::NotFound(Cow::Borrowed("not found"))
    }

    /// PERMISSION_DENIED with the generic message.
    pub fn denied() -> Self {
        ApiError::PermissionDenied(Cow::Borrowed("permission denied"))
    }

    /// UNAUTHENTICATED with the generic message.
    pub fn unauthenticated() -> Self {
        ApiError::Unauthenticated(Cow::Borrowed("invalid or missing credentials"))
    }
}

impl From<HashError> for ApiError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy { retry_after } => ApiError::Throttled {
                message: Cow::Borrowed("too many sign-ins in progress: retry in a moment"),
                retry_after,
            },
            other => ApiError::PasswordHash(other),
        }
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        ApiError::from(DbError(err))
    }
}

impl From<DbError> for ApiError {
    /// The one place database errors are classified.
    fn from(DbError(err): DbError) -> Self {
        if retryable(&err) {
            return ApiError::DatabaseUnavailable(err);
        }
        let Some((code, ours)) = sqlstate(&err) else {
            return ApiError::Database(err);
        };
        let shown = |fallback: &'static str| -> Message {
            ours.clone().map_or(Cow::Borrowed(fallback), Cow::Owned)
        };
        match code.as_str() {
            "23505" => ApiError::AlreadyExists(Cow::Borrowed("the value is already taken")),
            "23503" => ApiError::not_found(),
            "23514" => ApiError::InvalidArgument(shown("a value is out of range")),
            c if c.starts_with("22") => {
                ApiError::InvalidArgument(shown("a value in the request is not valid"))
            }
            "42501" => ApiError::PermissionDenied(shown("permission denied")),
            "P0002" => ApiError::NotFound(shown("not found")),
            "55000" => ApiError::FailedPrecondition(shown("failed precondition")),
            _ => ApiError::Database(err),
        }
    }
}

/// SQLSTATEs a retry can fix: serialization failure, deadlock, statement
/// timeout (query canceled), lock not available, too many connections,
/// shutdown, and the connection-exception class.
const RETRYABLE: &[&str] = &[
    "40001", "40P01", "57014", "55P03", "53300", "57P01", "57P03",
];

fn retryable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|c| RETRYABLE.contains(&c.as_ref()) || c.starts_with("08")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The SQLSTATE of a database error, and its message when it was raised by
/// one of our PL/pgSQL functions (safe to show: we wrote it).
fn sqlstate(err: &DbErr) -> Option<(String, Option<String>)> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return None;
    };
    let sqlx::Error::Database(db) = e.as_ref() else {
        return None;
    };
    let code = db.code()?.into_owned();
    let ours = db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .filter(|pg| pg.routine() == Some("exec_stmt_raise"))
        .map(|pg| pg.message().to_owned())
        .filter(|m| !m.is_empty());
    Some((code, ours))
}

/// An error and its causes, each by its `Display` (no `Debug`: it may hold
/// statement parameters).
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

impl From<VaultError> for Status {
    fn from(err: VaultError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<HashError> for Status {
    fn from(err: HashError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<DbError> for Status {
    fn from(err: DbError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<ApiError> for Status {
    /// The one conversion to a gRPC status. Internal causes are logged here,
    /// with the request's span, and answered with a fixed text.
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::InvalidArgument(m) => Status::invalid_argument(m),
            ApiError::Unauthenticated(m) => Status::unauthenticated(m),
            ApiError::PermissionDenied(m) => Status::permission_denied(m),
            ApiError::NotFound(m) => Status::not_found(m),
            ApiError::AlreadyExists(m) => Status::already_exists(m),
            ApiError::FailedPrecondition(m) => Status::failed_precondition(m),
            ApiError::PendingDeletion { purge_after } => pending_deletion(purge_after),
            ApiError::ResourceExhausted(m) => Status::resource_exhausted(m),
            ApiError::Throttled {
                message,
                retry_after,
            } => retry_later(tonic::Code::ResourceExhausted, message, retry_after),
            ApiError::BudgetExhausted {
                kind,
                remaining,
                requested,
            } => budget_exhausted(kind, remaining, requested),
            ApiError::Unavailable(m) => Status::unavailable(m),
            ApiError::UnavailableFor {
                message,
                retry_after,
            } => retry_later(tonic::Code::Unavailable, message, retry_after),
            ApiError::Unimplemented(m) => Status::unimplemented(m),
            ApiError::DatabaseUnavailable(e) => {
                tracing::warn!(error = %crate::db::safe_text(&e), "database unavailable");
                Status::unavailable("the service is temporarily unavailable: retry")
            }
            ApiError::Database(e) => {
                tracing::error!(error = %crate::db::safe_text(&e), "internal error");
                Status::internal("internal error")
            }
            other => {
                tracing::error!(error = %causes(&other), "internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// FAILED_PRECONDITION for an org pending deletion: the purge date in the
/// message and in a `google.rpc.ErrorInfo` detail.
fn pending_deletion(purge_after: chrono::DateTime<chrono::Utc>) -> Status {
    use tonic_types::{ErrorDetails, StatusExt as _};
    let when = purge_after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Status::with_error_details(
        tonic::Code::FailedPrecondition,
        format!(
            "this workspace is scheduled for deletion: it will be purged after {when}; \
             an owner can restore it until then"
        ),
        ErrorDetails::with_error_info(
            "WORKSPACE_PENDING_DELETION",
            "ochre.v1",
            [("purge_after".to_owned(), when)],
        ),
    )
}

/// RESOURCE_EXHAUSTED for a reservation the budget has no room for: what
/// remains, in the message and in a `google.rpc.ErrorInfo` detail.
fn budget_exhausted(kind: &'static str, remaining: i64, requested: i64) -> Status {
    use tonic_types::{ErrorDetails, StatusExt as _};
    Status::with_error_details(
        tonic::Code::ResourceExhausted,
        format!(
            "the {kind} budget has {remaining} remaining in this period; {requested} were requested"
        ),
        ErrorDetails::with_error_info(
            "BUDGET_EXHAUSTED",
            "ochre.v1",
            [
                ("kind".to_owned(), kind.to_owned()),
                ("remaining".to_owned(), remaining.to_string()),
                ("requested".to_owned(), requested.to_string()),
            ],
        ),
    )
}

/// RESOURCE_EXHAUSTED or UNAVAILABLE that tells the client when to retry,
/// both as a `google.rpc.RetryInfo` detail and as `retry-after` metadata
/// (whole seconds, at least 1).
fn retry_later(code: tonic::Code, message: Message, retry_after: std::time::Duration) -> Status {
    use tonic_types::{ErrorDetails, StatusExt as _};
    let mut metadata = tonic::metadata::MetadataMap::new();
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    if let Ok(value) = secs.max(1).to_string().parse() {
        metadata.insert("retry-after", value);
    }
    Status::with_error_details_and_metadata(
        code,
        message,
        ErrorDetails::with_retry_info(Some(retry_after)),
        metadata,
    )
}
