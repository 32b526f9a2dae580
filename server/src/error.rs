//! Errors of the API layer and their one conversion to `tonic::Status`.
//! Internal details go to the log, never to the caller.

use sea_orm::DbErr;
use tonic::Status;

/// An error a handler can return.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("permission denied")]
    PermissionDenied,
    #[error("not found")]
    NotFound,
    #[error("not found: {0}")]
    NotFoundBecause(String),
    #[error("permission denied: {0}")]
    PermissionDeniedBecause(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    #[error("resource exhausted: {0}")]
    ResourceExhausted(String),
    #[error("database error")]
    Database(#[source] DbErr),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// INVALID_ARGUMENT with a message safe to show.
    pub fn invalid(msg: impl Into<String>) -> Self {
        ApiError::InvalidArgument(msg.into())
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(err: crate::db::DbError) -> Self {
        ApiError::from(err.0)
    }
}

impl From<crate::db::DbError> for Status {
    fn from(err: crate::db::DbError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<DbErr> for ApiError {
    /// The one place database errors are classified. Messages of errors our
    /// own SQL functions raise are shown; anything else is logged only.
    fn from(err: DbErr) -> Self {
        let Some((code, ours)) = sqlstate(&err) else {
            return ApiError::Database(err);
        };
        let message = ours.unwrap_or_default();
        let or = |m: String, fallback: &str| if m.is_empty() { fallback.to_owned() } else { m };
        match code.as_str() {
            "23505" => ApiError::AlreadyExists("the value is already taken".to_owned()),
            "23503" => ApiError::NotFound,
            "23514" | "22001" | "22P02" => {
                ApiError::InvalidArgument(or(message, "a value is out of range"))
            }
            "22023" => ApiError::InvalidArgument(or(message, "invalid argument")),
            "42501" if !message.is_empty() => ApiError::PermissionDeniedBecause(message),
            "42501" => ApiError::PermissionDenied,
            "P0002" => ApiError::NotFoundBecause(or(message, "not found")),
            "55000" => ApiError::FailedPrecondition(or(message, "failed precondition")),
            _ => ApiError::Database(err),
        }
    }
}

/// The SQLSTATE of a database error, and its message when it was raised by
/// one of our PL/pgSQL functions (safe to show: we wrote it).
fn sqlstate(err: &DbErr) -> Option<(String, Option<String>)> {
    use sea_orm::{RuntimeErr, sqlx};
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
        .map(|pg| pg.message().to_owned());
    Some((code, ours))
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::InvalidArgument(m) => Status::invalid_argument(m),
            ApiError::Unauthenticated => Status::unauthenticated("invalid or missing credentials"),
            ApiError::PermissionDenied => Status::permission_denied("permission denied"),
            ApiError::NotFound => Status::not_found("not found"),
            ApiError::NotFoundBecause(m) => Status::not_found(m),
            ApiError::PermissionDeniedBecause(m) => Status::permission_denied(m),
            ApiError::AlreadyExists(m) => Status::already_exists(m),
            ApiError::FailedPrecondition(m) => Status::failed_precondition(m),
            ApiError::ResourceExhausted(m) => Status::resource_exhausted(m),
            ApiError::Database(e) => {
                tracing::error!(error = %e, "database error");
                Status::unavailable("the service is temporarily unavailable")
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                Status::internal("internal error")
            }
        }
    }
}
