//! One connection of the app pool. Its I/O is driven by whoever awaits a
//! statement on it (no task of its own): the requests a caller starts
//! together leave in one write, and their answers wake no other task.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use sea_orm::{DbErr, Value};
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Connection, Row, Socket, Statement};

use super::errors::db_err;
use super::values::{Param, pg_type};

type Io = Connection<Socket, NoTlsStream>;

/// Prepared statements by SQL text, each with its declared parameter types.
type Cache = Mutex<HashMap<String, Vec<(Vec<Type>, Statement)>>>;

/// A connection, its prepared statements, and whether it can be reused.
pub(super) struct Conn {
    client: Client,
    /// The I/O half; `None` once the connection has ended.
    io: Mutex<Option<Io>>,
    /// Prepared statements by SQL text and declared parameter types; `None`
    /// behind a transaction pooler, where a statement is prepared unnamed
    /// in the same exchange that runs it.
    statements: Option<Cache>,
    pub(super) opened: Instant,
    /// The pool's count of open connections, which this one is in.
    open: Arc<AtomicU32>,
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

/// A statement's parameters: the values, and the types they are declared as.
pub(super) struct Params<'a> {
    values: Vec<Param<'a>>,
    types: Vec<Type>,
}

impl<'a> Params<'a> {
    /// The parameters of `stmt`.
    pub(super) fn of(stmt: &'a sea_orm::Statement) -> Result<Self, DbErr> {
        Self::new(stmt.values.as_ref().map_or(&[][..], |v| &v.0[..]))
    }

    fn new(values: &'a [Value]) -> Result<Self, DbErr> {
        Ok(Params {
            values: values.iter().map(Param).collect(),
            types: values.iter().map(pg_type).collect::<Result<_, _>>()?,
        })
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|p| p as &(dyn ToSql + Sync))
            .collect()
    }

    fn typed(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.values
            .iter()
            .zip(&self.types)
            .map(|(p, t)| (p as &(dyn ToSql + Sync), t.clone()))
            .collect()
    }
}

impl Conn {
    pub(super) async fn connect(
        config: &tokio_postgres::Config,
        cache: bool,
        open: Arc<AtomicU32>,
    ) -> Result<Conn, DbErr> {
        let (client, io) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| DbErr::Conn(sea_orm::RuntimeErr::Internal(connect_text(&e))))?;
        open.fetch_add(1, Ordering::Relaxed);
        Ok(Conn {
            open,
            client,
            io: Mutex::new(Some(io)),
            statements: cache.then(|| Mutex::new(HashMap::new())),
            opened: Instant::now(),
        })
    }

    /// Whether the connection is still open: reads what the server may
    /// have sent while it sat idle (a termination) without waiting.
    pub(super) fn alive(&self) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        self.poll_io(&mut cx).is_pending() && !self.client.is_closed()
    }

    /// Runs the I/O until there is nothing to do now; `Ready` when the
    /// connection has ended. It is then dropped, which fails the requests
    /// in flight and any made later with a closed error. Notices are
    /// dropped unread: their text can quote values.
    fn poll_io(&self, cx: &mut Context<'_>) -> Poll<()> {
        // Nothing panics while holding it; were it poisoned, the I/O half
        // is still whole.
        let mut guard = self
            .io
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(io) = guard.as_mut() else {
            return Poll::Ready(());
        };
        loop {
            match io.poll_message(cx) {
                Poll::Ready(Some(Ok(_notice))) => {}
                Poll::Ready(Some(Err(_)) | None) => {
                    *guard = None;
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// (The driver's futures are large: callers box them, so that the
    /// futures of the request path that await them stay small to move.)
    ///
    /// Awaits `fut` while driving the connection: polls it (so that the
    /// requests it starts are queued), runs the I/O (writes them in one go,
    /// reads what has arrived), and polls it again for the answers.
    pub(super) async fn drive<F: Future>(&self, fut: F) -> F::Output {
        let mut fut = pin!(fut);
        poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            let _ended = self.poll_io(cx);
            fut.as_mut().poll(cx)
        })
        .await
    }

    /// The prepared statement for `sql` with these parameter types
    /// (preparing it the first time: one round trip per connection).
    async fn statement(
        &self,
        cache: &Cache,
        sql: &str,
        types: &[Type],
    ) -> Result<Statement, DbErr> {
        if let Some(st) = lookup(cache, sql, types) {
            return Ok(st);
        }
        let st = self
            .drive(Box::pin(self.client.prepare_typed(sql, types)))
            .await
            .map_err(db_err)?;
        if let Ok(mut cache) = cache.lock() {
            cache
                .entry(sql.to_owned())
                .or_default()
                .push((types.to_vec(), st.clone()));
        }
        Ok(st)
    }

    /// Runs `sql` between `before` and `after` (simple statements such as
    /// `BEGIN` and `ROLLBACK`), all in one write: its rows, and whether
    /// `after` succeeded.
    pub(super) async fn query(
        &self,
        before: Option<&str>,
        sql: &str,
        params: &Params<'_>,
        after: Option<&str>,
    ) -> (Result<Vec<Row>, DbErr>, Result<(), DbErr>) {
        let ((begun, rows), ended) = if let Some(cache) = &self.statements {
            let st = match self.statement(cache, sql, &params.types).await {
                Ok(st) => st,
                // `after` is not sent: a COMMIT would not have run.
                Err(e) => {
                    let after = match after {
                        Some(_) => Err(not_sent()),
                        None => Ok(()),
                    };
                    return (Err(e), after);
                }
            };
            let refs = params.refs();
            let run = both(self.maybe(before), self.client.query(&st, &refs));
            Box::pin(self.drive(both(run, self.maybe(after)))).await
        } else {
            let typed = params.typed();
            let run = both(self.maybe(before), self.client.query_typed(sql, &typed));
            Box::pin(self.drive(both(run, self.maybe(after)))).await
        };
        let rows = begun.and(rows).map_err(db_err);
        (rows, ended.map_err(db_err))
    }

    /// Whether `sql` with these parameters runs without being prepared
    /// first (it was prepared on this connection before, or statements are
    /// never kept, behind a transaction pooler, where one exchange parses
    /// and runs it).
    pub(super) fn prepared(&self, sql: &str, params: &Params<'_>) -> bool {
        self.statements
            .as_ref()
            .is_none_or(|cache| lookup(cache, sql, &params.types).is_some())
    }

    /// Runs `before` (`BEGIN` and its options), `first`, `second` and
    /// `after` (when given), all in one write: the rows of `first` and of
    /// `second`, and whether `after` succeeded. `second` runs whatever
    /// `first` answered (a failed `first` fails it in turn, as the
    /// transaction is then aborted).
    pub(super) async fn query_pair(
        &self,
        before: &str,
        first: (&str, &Params<'_>),
        second: (&str, &Params<'_>),
        after: Option<&str>,
    ) -> Pair {
        let (((begun, one), two), ended) = if let Some(cache) = &self.statements {
            // A statement that fails to prepare fails with its error, and
            // nothing is sent: the transaction has not begun.
            let after_not_sent = || after.map_or(Ok(()), |_| Err(not_sent()));
            let st1 = match self.statement(cache, first.0, &first.1.types).await {
                Ok(st) => st,
                Err(e) => return (Err(e), Err(not_sent()), after_not_sent()),
            };
            let st2 = match self.statement(cache, second.0, &second.1.types).await {
                Ok(st) => st,
                Err(e) => return (Err(not_sent()), Err(e), after_not_sent()),
            };
            let (refs1, refs2) = (first.1.refs(), second.1.refs());
            let run = both(
                both(self.maybe(Some(before)), self.client.query(&st1, &refs1)),
                self.client.query(&st2, &refs2),
            );
            Box::pin(self.drive(both(run, self.maybe(after)))).await
        } else {
            let (typed1, typed2) = (first.1.typed(), second.1.typed());
            let run = both(
                both(
                    self.maybe(Some(before)),
                    self.client.query_typed(first.0, &typed1),
                ),
                self.client.query_typed(second.0, &typed2),
            );
            Box::pin(self.drive(both(run, self.maybe(after)))).await
        };
        let one = begun.and(one).map_err(db_err);
        (one, two.map_err(db_err), ended.map_err(db_err))
    }

    /// Runs `sql` and returns the number of rows it affected.
    pub(super) async fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, DbErr> {
        if let Some(cache) = &self.statements {
            let st = self.statement(cache, sql, &params.types).await?;
            let refs = params.refs();
            Box::pin(self.drive(self.client.execute(&st, &refs))).await
        } else {
            let typed = params.typed();
            Box::pin(self.drive(self.client.execute_typed(sql, &typed))).await
        }
        .map_err(db_err)
    }

    /// Sends `sql` (when given) as a simple query; its answer.
    async fn maybe(&self, sql: Option<&str>) -> Result<(), tokio_postgres::Error> {
        match sql {
            Some(sql) => self.client.batch_execute(sql).await,
            None => Ok(()),
        }
    }

    /// Runs statements without parameters (`BEGIN`, `ROLLBACK`, `SET LOCAL`).
    pub(super) async fn simple(&self, sql: &str) -> Result<(), DbErr> {
        Box::pin(self.drive(self.client.batch_execute(sql)))
            .await
            .map_err(db_err)
    }
}

/// What [`Conn::query_pair`] answers.
pub(super) type Pair = (
    Result<Vec<Row>, DbErr>,
    Result<Vec<Row>, DbErr>,
    Result<(), DbErr>,
);

fn not_sent() -> DbErr {
    DbErr::Custom("not sent: a statement failed to prepare".into())
}

fn lookup(cache: &Cache, sql: &str, types: &[Type]) -> Option<Statement> {
    let cache = cache.lock().ok()?;
    cache
        .get(sql)?
        .iter()
        .find(|(t, _)| t == types)
        .map(|(_, st)| st.clone())
}

/// Why a connection could not be opened, without the URL or password.
fn connect_text(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("connecting: SQLSTATE {}", db.code().code()),
        None => format!("connecting: {err}"),
    }
}

/// Awaits `a` and `b`, polling `a` first each time (so that `a`'s requests
/// are queued before `b`'s).
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut out_a, mut out_b) = (None, None);
    poll_fn(|cx| {
        if out_a.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            out_a = Some(v);
        }
        if out_b.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            out_b = Some(v);
        }
        if out_a.is_some()
            && out_b.is_some()
            && let (Some(a), Some(b)) = (out_a.take(), out_b.take())
        {
            return Poll::Ready((a, b));
        }
        Poll::Pending
    })
    .await
}
