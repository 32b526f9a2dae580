//! The app pool's errors in the shape the rest of the server already
//! classifies: an error Postgres answered becomes an `sqlx::Error::Database`
//! (whose SQLSTATE `crate::error` maps to a status and `safe_text` logs),
//! a lost connection an `sqlx::Error::Io` (retryable, UNAVAILABLE), and
//! anything else (a value that did not encode or decode) a protocol error
//! (INTERNAL). One classification for both drivers.

use std::borrow::Cow;
use std::sync::Arc;

use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::{DbErr, RuntimeErr, sqlx};

/// An error Postgres answered on the app pool.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.message())]
pub(crate) struct PgError(Box<tokio_postgres::error::DbError>);

impl PgError {
    /// The routine that raised it (`exec_stmt_raise`: one of our PL/pgSQL
    /// functions).
    pub(crate) fn routine(&self) -> Option<&str> {
        self.0.routine()
    }

    /// The column it names.
    pub(crate) fn column(&self) -> Option<&str> {
        self.0.column()
    }
}

impl DatabaseError for PgError {
    fn message(&self) -> &str {
        self.0.message()
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.0.code().code()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn constraint(&self) -> Option<&str> {
        self.0.constraint()
    }

    fn table(&self) -> Option<&str> {
        self.0.table()
    }

    fn kind(&self) -> ErrorKind {
        match self.0.code().code() {
            "23505" => ErrorKind::UniqueViolation,
            "23503" => ErrorKind::ForeignKeyViolation,
            "23502" => ErrorKind::NotNullViolation,
            "23514" => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// A tokio-postgres error as a [`DbErr`] (see the module docs).
pub(super) fn db_err(err: tokio_postgres::Error) -> DbErr {
    let inner = if let Some(db) = err.as_db_error() {
        sqlx::Error::Database(Box::new(PgError(Box::new(db.clone()))))
    } else if err.is_closed() || lost(&err) {
        sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the connection to the database was lost",
        ))
    } else {
        sqlx::Error::Protocol(err.to_string())
    };
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(inner)))
}

/// Whether the error came from the socket.
fn lost(err: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if e.is::<std::io::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The fields Postgres attached to a database error, from either driver:
/// (table, column, constraint, routine).
pub(crate) fn fields(db: &dyn DatabaseError) -> Option<[(&'static str, Option<&str>); 4]> {
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return Some([
            ("table", pg.table()),
            ("column", pg.column()),
            ("constraint", pg.constraint()),
            ("routine", pg.routine()),
        ]);
    }
    let pg = db.try_downcast_ref::<PgError>()?;
    Some([
        ("table", pg.table()),
        ("column", pg.column()),
        ("constraint", DatabaseError::constraint(pg)),
        ("routine", pg.routine()),
    ])
}

/// Whether one of our PL/pgSQL functions raised the error (its message is
/// ours, safe to show).
pub(crate) fn raised_by_us(db: &dyn DatabaseError) -> bool {
    fields(db).is_some_and(|f| f[3].1 == Some("exec_stmt_raise"))
}
