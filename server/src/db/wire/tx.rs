//! A transaction on the app pool. It ends in one of three ways:
//! - COMMIT, awaited ([`WireTx::commit`]);
//! - COMMIT sent in the same write as its last query, when its caller said
//!   beforehand which query that is ([`WireTx::commit_with_next_query`]: a
//!   handler that makes one read); a later statement fails;
//! - a ROLLBACK the caller does not wait for ([`WireTx::finish`]): a task
//!   sends it and returns the connection and its slot to the pool when the
//!   server has answered. A transaction dropped unfinished (an error on the
//!   way, a cancelled request) is finished the same way.
//!
//! A transaction can also be opened later ([`WirePool::begin_later`]): its
//! `BEGIN` and first statement are sent with its first query, all in one
//! write (with the COMMIT too for a single read), and that first
//! statement's rows are kept for [`WireTx::opening`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, ExecResult, ProxyExecResult, QueryResult, Statement,
};

use super::exchange::Params;
use super::pool::{Lease, WirePool};
use super::values::row;

/// An open transaction on a connection of the app pool.
pub(crate) struct WireTx {
    pool: WirePool,
    /// The connection and its slot, until the transaction ends.
    lease: Option<Lease>,
    /// The next query ends the transaction with COMMIT.
    commit_with_next: bool,
    /// [`OPEN`], or how the query that committed went.
    state: AtomicU8,
    /// `BEGIN` and the first statement, not sent yet.
    pending: Mutex<Option<Opening>>,
    /// The first statement's rows, once it was sent and until taken.
    opened: Mutex<Option<Result<Vec<QueryResult>, DbErr>>>,
    /// `BEGIN` and the first statement are on their way: until they are
    /// answered no other statement may start (it could overtake them).
    opening_in_flight: AtomicBool,
}

/// A transaction's `BEGIN` (with its options) and first statement.
struct Opening {
    begin: &'static str,
    first: Statement,
}

/// Nothing has ended the transaction yet.
const OPEN: u8 = 0;
/// A query committed it: the connection is ready for another.
const COMMITTED: u8 = 1;
/// A query tried to commit it and the connection failed.
const BROKEN: u8 = 2;
/// A query carrying the COMMIT is in flight.
const COMMITTING: u8 = 3;

/// How long a background ROLLBACK may wait for the server (behind a
/// cancelled statement still running, say) before its connection is closed
/// instead, which frees the slot.
const ROLLBACK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl std::fmt::Debug for WireTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireTx").finish_non_exhaustive()
    }
}

impl WireTx {
    pub(super) fn new(pool: WirePool, lease: Lease) -> WireTx {
        WireTx {
            pool,
            lease: Some(lease),
            commit_with_next: false,
            state: AtomicU8::new(OPEN),
            pending: Mutex::new(None),
            opened: Mutex::new(None),
            opening_in_flight: AtomicBool::new(false),
        }
    }

    /// Takes the opening to send it (other statements wait for its answer
    /// by failing: see [`WireTx::lease`]).
    fn take_pending(&self) -> Option<Opening> {
        let taken = self.pending.lock().ok()?.take();
        if taken.is_some() {
            self.opening_in_flight.store(true, Ordering::Release);
        }
        taken
    }

    fn is_pending(&self) -> bool {
        self.pending.lock().is_ok_and(|p| p.is_some())
    }

    fn keep_opened(&self, rows: Result<Vec<QueryResult>, DbErr>) {
        if let Ok(mut slot) = self.opened.lock() {
            *slot = Some(rows);
        }
        self.opening_in_flight.store(false, Ordering::Release);
    }

    /// Sends `BEGIN` and the first statement now if no query has carried
    /// them yet (a transaction opened later).
    async fn open_now(&self) -> Result<(), DbErr> {
        if !self.is_pending() {
            return Ok(());
        }
        let conn = &self.lease()?.conn;
        let Some(opening) = self.take_pending() else {
            return Ok(());
        };
        let params = match Params::of(&opening.first) {
            Ok(params) => params,
            Err(e) => {
                self.keep_opened(Err(did_not_begin()));
                return Err(e);
            }
        };
        let (rows, _) = conn
            .query(Some(opening.begin), &opening.first.sql, &params, None)
            .await;
        let failed = rows.is_err();
        self.keep_opened(rows.and_then(|rows| rows.iter().map(row).collect()));
        match failed {
            true => Err(did_not_begin()),
            false => Ok(()),
        }
    }

    /// For a transaction opened later: the first statement's rows (sent
    /// now if no query has carried it); `None` once taken, or for a
    /// transaction opened at once.
    pub(crate) async fn opening(&self) -> Option<Result<Vec<QueryResult>, DbErr>> {
        let _sent = self.open_now().await;
        self.opened.lock().ok()?.take()
    }

    /// The connection, while the transaction is open (and not while its
    /// opening is on its way: a statement started then could overtake it).
    fn lease(&self) -> Result<&Lease, DbErr> {
        if self.opening_in_flight.load(Ordering::Acquire) {
            return Err(DbErr::Custom(
                "the transaction's first statement is still on its way".into(),
            ));
        }
        match &self.lease {
            Some(lease) if self.state.load(Ordering::Acquire) == OPEN => Ok(lease),
            _ => Err(DbErr::Custom("the transaction has ended".into())),
        }
    }

    /// The next query commits the transaction in the same write.
    pub(crate) fn commit_with_next_query(&mut self) {
        self.commit_with_next = true;
    }

    /// Whether a query has committed the transaction.
    pub(crate) fn committed(&self) -> bool {
        self.state.load(Ordering::Acquire) != OPEN
    }

    /// Ends the transaction with `sql` and returns the connection to the
    /// pool when that succeeded. (Cancelled meanwhile, the transaction is
    /// dropped and finished in the background.)
    async fn end(mut self, sql: &str) -> Result<(), DbErr> {
        if self.committed() || self.is_pending() {
            let broken = self.state.load(Ordering::Acquire) == BROKEN;
            self.finish_in_background();
            return match broken {
                false => Ok(()),
                true => Err(DbErr::Custom("the transaction did not commit".into())),
            };
        }
        let ended = match &self.lease {
            Some(lease) => lease.conn.simple(sql).await,
            None => return Ok(()),
        };
        if let Some(lease) = self.lease.take() {
            match ended {
                Ok(()) => self.pool.put_back(lease.conn),
                Err(_) => drop(lease),
            }
        }
        ended
    }

    /// Commits.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        self.end("COMMIT").await
    }

    /// Rolls back without waiting (see the module docs).
    pub(crate) fn finish(mut self) {
        self.finish_in_background();
    }

    fn finish_in_background(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        if self.is_pending() {
            // Never begun: the connection is idle as it was.
            return self.pool.put_back(lease.conn);
        }
        match self.state.load(Ordering::Acquire) {
            COMMITTED => return self.pool.put_back(lease.conn),
            // Cancelled while its COMMIT was in flight, or failed: whether
            // the transaction ended is unknown; closing it ends it.
            BROKEN | COMMITTING => return drop(lease),
            _ => {}
        }
        let pool = self.pool.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Shutting down: closing the connection ends its transaction.
            return drop(lease);
        };
        runtime.spawn(async move {
            // The whole lease, slot included, is the task's (an async block
            // would otherwise capture only the field it uses, and the slot
            // would be free while the ROLLBACK is on its way).
            let Lease { conn, _slot } = lease;
            let rollback = tokio::time::timeout(ROLLBACK_WAIT, conn.simple("ROLLBACK"));
            if let Ok(Ok(())) = rollback.await {
                pool.put_back(conn);
            }
        });
    }
}

impl WirePool {
    /// Opens a transaction with `begin` (`BEGIN` and its options) and runs
    /// `first` in it, both in one write. The transaction and `first`'s
    /// rows; when either fails, the transaction is rolled back.
    pub(crate) async fn begin_with(
        &self,
        begin: &'static str,
        first: Statement,
    ) -> Result<(WireTx, Vec<sea_orm::QueryResult>), DbErr> {
        let tx = WireTx::new(self.clone(), self.lease().await?);
        let params = Params::of(&first)?;
        let (rows, _) = tx
            .lease()?
            .conn
            .query(Some(begin), &first.sql, &params, None)
            .await;
        let rows = rows?;
        let rows = rows
            .iter()
            .map(super::values::row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((tx, rows))
    }

    /// A transaction whose `begin` and `first` statement are sent with its
    /// first query (or by [`WireTx::opening`]): holds a connection, sends
    /// nothing yet.
    pub(crate) async fn begin_later(
        &self,
        begin: &'static str,
        first: Statement,
    ) -> Result<WireTx, DbErr> {
        let tx = WireTx::new(self.clone(), self.lease().await?);
        if let Ok(mut pending) = tx.pending.lock() {
            *pending = Some(Opening { begin, first });
        }
        Ok(tx)
    }

    /// Opens a transaction with `begin` alone.
    pub(crate) async fn begin(&self, begin: &'static str) -> Result<WireTx, DbErr> {
        let tx = WireTx::new(self.clone(), self.lease().await?);
        tx.lease()?.conn.simple(begin).await?;
        Ok(tx)
    }
}

impl Drop for WireTx {
    fn drop(&mut self) {
        self.finish_in_background();
    }
}

type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, DbErr>> + Send + 'a>>;

/// The rows of `stmt` (followed by COMMIT when the caller said so).
async fn rows(tx: &WireTx, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
    let params = Params::of(&stmt)?;
    // A transaction opened later: its BEGIN and first statement go first,
    // in the same write. A statement prepared in that write is parsed
    // after the first statement (the identity call) has run, so the lock
    // wait that call sets bounds the locks parsing takes.
    let lease = tx.lease()?;
    let opening = tx.take_pending();
    let opening_params = match &opening {
        Some(o) => match Params::of(&o.first) {
            Ok(p) => Some(p),
            Err(e) => {
                tx.keep_opened(Err(did_not_begin()));
                return Err(e);
            }
        },
        None => None,
    };
    let commit = tx.commit_with_next.then_some("COMMIT");
    // Only one query may carry the COMMIT (and none run after it).
    if commit.is_some()
        && tx
            .state
            .compare_exchange(OPEN, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        if opening.is_some() {
            tx.keep_opened(Err(did_not_begin()));
        }
        return Err(DbErr::Custom("the transaction has ended".into()));
    }
    let (rows, committed) = match (&opening, &opening_params) {
        (Some(o), Some(op)) => {
            let first = (o.first.sql.as_str(), op);
            let (opened, rows, committed) = lease
                .conn
                .query_pair(o.begin, first, (&stmt.sql, &params), commit)
                .await;
            tx.keep_opened(opened.and_then(|rows| rows.iter().map(row).collect()));
            (rows, committed)
        }
        _ => lease.conn.query(None, &stmt.sql, &params, commit).await,
    };
    if commit.is_some() {
        // A statement that failed before the COMMIT leaves the transaction
        // open (and failed): ending it rolls it back, and the connection
        // is reused.
        let state = match (committed.is_ok(), lease.conn.in_transaction()) {
            (true, _) => COMMITTED,
            (false, Some(true)) => OPEN,
            (false, _) => BROKEN,
        };
        tx.state.store(state, Ordering::Release);
    }
    let rows = rows?;
    committed?;
    rows.iter().map(row).collect()
}

impl ConnectionTrait for WireTx {
    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Postgres
    }

    fn execute_raw<'a, 'f>(&'a self, stmt: Statement) -> Fut<'f, ExecResult>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            self.open_now().await?;
            let params = Params::of(&stmt)?;
            let affected = self.lease()?.conn.execute(&stmt.sql, &params).await?;
            Ok(ProxyExecResult::new(0, affected).into())
        })
    }

    fn execute_unprepared<'a, 'b, 'f>(&'a self, sql: &'b str) -> Fut<'f, ExecResult>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            self.open_now().await?;
            self.lease()?.conn.simple(sql).await?;
            Ok(ProxyExecResult::new(0, 0).into())
        })
    }

    fn query_one_raw<'a, 'f>(&'a self, stmt: Statement) -> Fut<'f, Option<QueryResult>>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(async move { Ok(rows(self, stmt).await?.into_iter().next()) })
    }

    fn query_all_raw<'a, 'f>(&'a self, stmt: Statement) -> Fut<'f, Vec<QueryResult>>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(rows(self, stmt))
    }
}

fn did_not_begin() -> DbErr {
    DbErr::Custom("the transaction did not begin".into())
}
