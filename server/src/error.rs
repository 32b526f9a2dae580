//! Errors of the API layer and their one conversion to `tonic::Status`.
//! Internal details go to the log, never to the caller.

use sea_orm::{DbErr, SqlErr};
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

impl From<DbErr> for ApiError {
    /// The one place database errors are classified.
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                ApiError::AlreadyExists("the value is already taken".to_owned())
            }
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => ApiError::NotFound,
            _ => ApiError::Database(err),
        }
    }
}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::InvalidArgument(m) => Status::invalid_argument(m),
            ApiError::Unauthenticated => Status::unauthenticated("invalid or missing credentials"),
            ApiError::PermissionDenied => Status::permission_denied("permission denied"),
            ApiError::NotFound => Status::not_found("not found"),
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
