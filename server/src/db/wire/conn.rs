//! One connection of the app pool, spoken to directly in the extended
//! query protocol: the statements a caller sends together leave in one
//! write ending in one `Sync` (see `exchange`), so Postgres answers them
//! in one flush and the caller is woken once. Its I/O is done by whoever
//! awaits a statement on it (no task of its own).
//!
//! A caller that goes away mid-exchange leaves the answers unread: the
//! next exchange reads past them first. One cancelled mid-write leaves the
//! connection unusable, and it is closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use sea_orm::DbErr;
use tokio::io::AsyncWriteExt as _;

use super::errors::{WireError, db_err};
use super::exchange::{self, Answer, Cache, Params, Step};
use super::stream::{self, ConnectError, Stream};
use super::values::Row;

/// How long connecting (the socket and the session's start) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The transaction status of a connection whose last exchange failed on
/// the wire: unknown.
const UNKNOWN: u8 = 0;

/// A connection, its prepared statements, and whether it can be reused.
pub(super) struct Conn {
    io: tokio::sync::Mutex<Io>,
    /// Prepared statements by SQL text and declared parameter types; `None`
    /// behind a transaction pooler, where a statement is prepared unnamed
    /// in the same exchange that runs it.
    statements: Option<Cache>,
    /// The status the last `ReadyForQuery` gave (`I`dle, in a `T`ransaction,
    /// in a failed one: `E`), or [`UNKNOWN`].
    status: AtomicU8,
    pub(super) opened: Instant,
    /// The pool's count of open connections, which this one is in.
    open: Arc<AtomicU32>,
}

/// The socket and its buffers.
struct Io {
    stream: Stream,
    read: BytesMut,
    write: BytesMut,
    /// `ReadyForQuery` answers still to read (exchanges whose caller went
    /// away before their end).
    owed: u32,
    /// A write was cut short: the connection cannot be used.
    broken: bool,
    /// Statements prepared so far (their names).
    names: u32,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

impl Io {
    /// Reads past the answers of exchanges whose caller went away.
    async fn settle(&mut self) -> Result<(), WireError> {
        if self.broken {
            return Err(WireError::Lost);
        }
        while self.owed > 0 {
            exchange::skip_to_ready(&mut self.stream, &mut self.read).await?;
            self.owed -= 1;
        }
        Ok(())
    }

    /// Sends what is in the write buffer; an answer is then owed.
    async fn send(&mut self) -> Result<(), WireError> {
        self.owed += 1;
        self.broken = true;
        self.stream.write_all(&self.write).await?;
        self.broken = false;
        Ok(())
    }
}

impl Conn {
    pub(super) async fn connect(
        config: &tokio_postgres::Config,
        cache: bool,
        open: Arc<AtomicU32>,
    ) -> Result<Conn, DbErr> {
        let (stream, read) = stream::open(config, CONNECT_TIMEOUT)
            .await
            .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::Internal(connect_text(&e))))?;
        open.fetch_add(1, Ordering::Relaxed);
        Ok(Conn {
            io: tokio::sync::Mutex::new(Io {
                stream,
                read,
                write: BytesMut::with_capacity(4 * 1024),
                owed: 0,
                broken: false,
                names: 0,
            }),
            statements: cache.then(Cache::default),
            status: AtomicU8::new(b'I'),
            opened: Instant::now(),
            open,
        })
    }

    /// Whether the connection is still open and idle: reads what the
    /// server may have sent while it sat idle (a termination) without
    /// waiting.
    pub(super) fn alive(&self) -> bool {
        let Ok(mut io) = self.io.try_lock() else {
            return false;
        };
        if io.broken || io.owed > 0 || self.status.load(Ordering::Acquire) != b'I' {
            return false;
        }
        let io = &mut *io;
        loop {
            io.read.reserve(1024);
            match io.stream.try_read_buf(&mut io.read) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        // Only notices and parameter changes may come unasked; an error
        // here is the server ending the session.
        loop {
            match Message::parse(&mut io.read) {
                Ok(None) => return true,
                Ok(Some(Message::ParameterStatus(_) | Message::NoticeResponse(_))) => {}
                Ok(Some(_)) | Err(_) => return false,
            }
        }
    }

    /// Whether a transaction is open on the connection (`None`: unknown,
    /// as after a failure on the wire).
    pub(super) fn in_transaction(&self) -> Option<bool> {
        match self.status.load(Ordering::Acquire) {
            b'I' => Some(false),
            b'T' | b'E' => Some(true),
            _ => None,
        }
    }

    /// Runs `steps` in one write: each statement's answer.
    async fn run(&self, steps: &[Step<'_>]) -> Result<Vec<Answer>, WireError> {
        let mut guard = self.io.lock().await;
        let io = &mut *guard;
        io.settle().await?;
        let cache = self.statements.as_ref();
        let sent = exchange::encode(&mut io.write, steps, cache, &mut io.names)?;
        self.status.store(UNKNOWN, Ordering::Release);
        io.send().await?;
        let (answers, status) = exchange::answers(&mut io.stream, &mut io.read, sent, cache, steps)
            .await
            .inspect_err(|_| io.broken = true)?;
        io.owed -= 1;
        self.status.store(status, Ordering::Release);
        Ok(answers)
    }

    /// Runs the statements in one write; every answer, the wire's failure
    /// repeated for each when the exchange failed as a whole.
    async fn answers(&self, steps: &[Step<'_>]) -> Vec<Result<Vec<Row>, DbErr>> {
        match self.run(steps).await {
            Ok(answers) => answers
                .into_iter()
                .map(|a| a.map(|done| done.rows).map_err(db_err))
                .collect(),
            Err(e) => steps.iter().map(|_| Err(db_err(e.clone()))).collect(),
        }
    }

    /// Runs `sql` between `before` and `after` (`BEGIN`, `COMMIT`), all in
    /// one write: its rows (or `before`'s error), and whether `after`
    /// succeeded.
    pub(super) async fn query(
        &self,
        before: Option<&str>,
        sql: &str,
        params: &Params<'_>,
        after: Option<&str>,
    ) -> (Result<Vec<Row>, DbErr>, Result<(), DbErr>) {
        let none = Params::none();
        let mut steps = Vec::with_capacity(3);
        steps.extend(before.map(|sql| Step { sql, params: &none }));
        steps.push(Step { sql, params });
        steps.extend(after.map(|sql| Step { sql, params: &none }));
        let mut answers = self.answers(&steps).await.into_iter();
        let begun = before.map(|_| answers.next());
        let rows = answers
            .next()
            .unwrap_or_else(|| Err(db_err(WireError::NotRun)));
        let ended = match after {
            Some(_) => answers
                .next()
                .unwrap_or_else(|| Err(db_err(WireError::NotRun))),
            None => Ok(Vec::new()),
        };
        let rows = match begun {
            Some(Some(Err(e))) => Err(e),
            _ => rows,
        };
        (rows, ended.map(drop))
    }

    /// Runs `before` (`BEGIN` and its options), `first`, `second` and
    /// `after` (when given), all in one write: the rows of `first` (or
    /// `before`'s error) and of `second`, and whether `after` succeeded. A
    /// failed `first` leaves `second` not run.
    pub(super) async fn query_pair(
        &self,
        before: &str,
        first: (&str, &Params<'_>),
        second: (&str, &Params<'_>),
        after: Option<&str>,
    ) -> Pair {
        let none = Params::none();
        let mut steps = vec![
            Step {
                sql: before,
                params: &none,
            },
            Step {
                sql: first.0,
                params: first.1,
            },
            Step {
                sql: second.0,
                params: second.1,
            },
        ];
        steps.extend(after.map(|sql| Step { sql, params: &none }));
        let mut answers = self.answers(&steps).await.into_iter();
        let mut next = || {
            answers
                .next()
                .unwrap_or_else(|| Err(db_err(WireError::NotRun)))
        };
        let begun = next();
        let one = begun.and_then(|_| next());
        let two = next();
        let ended = match after {
            Some(_) => next().map(drop),
            None => Ok(()),
        };
        (one, two, ended)
    }

    /// Runs `sql` and returns the number of rows it affected.
    pub(super) async fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, DbErr> {
        let steps = [Step { sql, params }];
        let mut answers = self.run(&steps).await.map_err(db_err)?;
        match answers.pop() {
            Some(answer) => answer.map(|done| done.affected).map_err(db_err),
            None => Err(db_err(WireError::NotRun)),
        }
    }

    /// Runs statements without parameters (`BEGIN`, `ROLLBACK`, `SET
    /// LOCAL`) as a simple query.
    pub(super) async fn simple(&self, sql: &str) -> Result<(), DbErr> {
        self.simple_wire(sql).await.map_err(db_err)
    }

    async fn simple_wire(&self, sql: &str) -> Result<(), WireError> {
        let mut guard = self.io.lock().await;
        let io = &mut *guard;
        io.settle().await?;
        io.write.clear();
        frontend::query(sql, &mut io.write)
            .map_err(|_| WireError::Protocol("a statement did not encode".into()))?;
        self.status.store(UNKNOWN, Ordering::Release);
        io.send().await?;
        let (result, status) = exchange::simple_answer(&mut io.stream, &mut io.read)
            .await
            .inspect_err(|_| io.broken = true)?;
        io.owed -= 1;
        self.status.store(status, Ordering::Release);
        result
    }
}

/// What [`Conn::query_pair`] answers.
pub(super) type Pair = (
    Result<Vec<Row>, DbErr>,
    Result<Vec<Row>, DbErr>,
    Result<(), DbErr>,
);

/// Why a connection could not be opened, without the URL or password.
fn connect_text(err: &ConnectError) -> String {
    match err {
        ConnectError::Refused(code) => format!("connecting: SQLSTATE {code}"),
        ConnectError::Unreachable(why) => format!("connecting: {why}"),
        ConnectError::Unsupported(what) => format!("connecting: the server asked for {what}"),
    }
}
