//! The app pool's errors in the shape the rest of the server already
//! classifies: an error Postgres answered becomes an `sqlx::Error::Database`
//! (whose SQLSTATE `crate::error` maps to a status and `safe_text` logs),
//! a lost connection an `sqlx::Error::Io` (retryable, UNAVAILABLE), and
//! anything else (a value that did not encode or decode) a protocol error
//! (INTERNAL). One classification for both drivers.

use std::borrow::Cow;
use std::sync::Arc;

use fallible_iterator::FallibleIterator as _;
use postgres_protocol::message::backend::ErrorResponseBody;
use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::{DbErr, RuntimeErr, sqlx};

/// What went wrong on an app-pool connection.
#[derive(Debug, Clone)]
pub(super) enum WireError {
    /// Postgres answered with an error.
    Server(Box<ServerError>),
    /// The connection is gone (or was left mid-message by a cancelled
    /// write): retryable.
    Lost,
    /// A value that did not encode or decode, or an answer out of order.
    Protocol(String),
    /// Not run: an earlier statement of the same write failed, and the
    /// server skips the rest up to the end of the write.
    NotRun,
}

impl From<std::io::Error> for WireError {
    fn from(_: std::io::Error) -> WireError {
        WireError::Lost
    }
}

/// The fields of an error Postgres answered (those the server reads).
#[derive(Debug, Clone, Default)]
pub(super) struct ServerError {
    code: String,
    message: String,
    table: Option<String>,
    column: Option<String>,
    constraint: Option<String>,
    routine: Option<String>,
}

impl ServerError {
    /// Reads an `ErrorResponse`.
    pub(super) fn parse(body: &ErrorResponseBody) -> Result<ServerError, WireError> {
        let mut err = ServerError::default();
        let mut fields = body.fields();
        let bad = |_| WireError::Protocol("an error answer that did not parse".into());
        while let Some(field) = fields.next().map_err(bad)? {
            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
            match field.type_() {
                b'C' => err.code = value,
                b'M' => err.message = value,
                b't' => err.table = Some(value),
                b'c' => err.column = Some(value),
                b'n' => err.constraint = Some(value),
                b'R' => err.routine = Some(value),
                _ => {}
            }
        }
        Ok(err)
    }

    /// The SQLSTATE.
    pub(super) fn code(&self) -> &str {
        &self.code
    }
}

/// An error Postgres answered on the app pool.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.message)]
pub(crate) struct PgError(Box<ServerError>);

impl PgError {
    /// The routine that raised it (`exec_stmt_raise`: one of our PL/pgSQL
    /// functions).
    pub(crate) fn routine(&self) -> Option<&str> {
        self.0.routine.as_deref()
    }

    /// The column it names.
    pub(crate) fn column(&self) -> Option<&str> {
        self.0.column.as_deref()
    }
}

impl DatabaseError for PgError {
    fn message(&self) -> &str {
        &self.0.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.0.code))
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
        self.0.constraint.as_deref()
    }

    fn table(&self) -> Option<&str> {
        self.0.table.as_deref()
    }

    fn kind(&self) -> ErrorKind {
        match self.0.code.as_str() {
            "23505" => ErrorKind::UniqueViolation,
            "23503" => ErrorKind::ForeignKeyViolation,
            "23502" => ErrorKind::NotNullViolation,
            "23514" => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// A wire error as a [`DbErr`] (see the module docs).
pub(super) fn db_err(err: WireError) -> DbErr {
    let inner = match err {
        WireError::Server(db) => sqlx::Error::Database(Box::new(PgError(db))),
        WireError::Lost => sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the connection to the database was lost",
        )),
        WireError::Protocol(text) => sqlx::Error::Protocol(text),
        WireError::NotRun => {
            return DbErr::Custom("not run: an earlier statement of the same write failed".into());
        }
    };
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(inner)))
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
