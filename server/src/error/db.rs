//! The one classification of database errors.

use std::borrow::Cow;

use sea_orm::{DbErr, RuntimeErr, sqlx};

use super::{ApiError, Message, Reason};
use crate::db::DbError;

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
            "23505" => ApiError::AlreadyExists(
                Reason::AlreadyExists,
                Cow::Borrowed("the value is already taken"),
            ),
            "23503" => ApiError::not_found(),
            "23514" => {
                ApiError::invalid_request(Reason::ValueInvalid, shown("a value is out of range"))
            }
            c if c.starts_with("22") => ApiError::invalid_request(
                Reason::ValueInvalid,
                shown("a value in the request is not valid"),
            ),
            "42501" => {
                ApiError::PermissionDenied(Reason::PermissionDenied, shown("permission denied"))
            }
            "P0002" => ApiError::NotFound(Reason::NotFound, shown("not found")),
            "55000" => ApiError::FailedPrecondition(
                Reason::FailedPrecondition,
                shown("failed precondition"),
            ),
            _ => ApiError::Database(err),
        }
    }
}

/// SQLSTATEs a retry can fix: serialization failure, deadlock, statement
/// timeout (query canceled), lock not available, too many connections,
/// shutdown, and the connection-exception class.
const RETRYABLE: &[&str] = &[
    "40001", "40P01", "57014", "55P03", "53300", "57P01", "57P02", "57P03",
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
    let raised = crate::db::raised_by_us(db.as_ref());
    let ours = raised
        .then(|| db.message().to_owned())
        .filter(|m| !m.is_empty());
    Some((code, ours))
}
