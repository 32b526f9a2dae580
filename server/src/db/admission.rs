//! Admission to a pool: every statement and transaction on one of the three
//! runtime pools first takes one of the pool's slots (a fair semaphore of
//! its `max_connections` permits, a [`Gate`]) and holds it until the
//! statement or the transaction ends. sqlx counts no waiters, so the slots
//! are what make the pool metrics exact: the callers blocked on them are
//! the pool's `waiting` gauge, and the time to a slot (plus the time to its
//! connection) is its acquire-latency histogram. The `app` pool has its own
//! driver behind the same [`Gate`] (`super::wire`); a [`Pool`] is one of
//! the two sqlx pools of the service role.
//!
//! A slot held is a connection held (or about to be: sqlx hands an admitted
//! caller an idle connection or opens one; the one it may still wait for is
//! a connection on its way back to the pool), so admission changes no
//! behaviour: a caller waits here instead of inside sqlx, and gives up
//! after the pool's bound (5 s, as sqlx's own; 2 s for the webhook ingress,
//! whose deliveries then get 503) with sqlx's error
//! ([`DbErr::ConnectionAcquire`], answered UNAVAILABLE).
//!
//! Behind a transaction pooler (`OCHRE_DB_TRANSACTION_POOLING`, PgBouncer's
//! `pool_mode = transaction`) a client connection owns a server connection
//! only from `BEGIN` to `COMMIT`; between transactions each message may
//! reach another one. The driver runs every statement with bound values in
//! the extended protocol as two exchanges (Parse, Describe, Sync; then Bind,
//! Execute, Sync), so outside a transaction the Bind can arrive where the
//! Parse never did. There a [`Pool`] runs every statement that is not
//! already inside a transaction in one of its own: the server connection is
//! held from the Parse to the result. The driver's statement cache is off
//! (see `pool.rs`): it prepares a new named statement each time, and the
//! pooler's `server_reset_query = DEALLOCATE ALL` (with
//! `server_reset_query_always = 1`) drops them when the transaction ends,
//! so no name survives into another client's transaction. Directly on
//! Postgres (the default) a statement goes to the pool as it is: not one
//! round trip more.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult,
    Statement, TransactionTrait as _,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One runtime pool behind its admission slots. Runs statements as a
/// [`ConnectionTrait`] (each admitted for its own duration) and opens
/// transactions ([`Pool::begin`], admitted until they end).
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    conn: DatabaseConnection,
    gate: Arc<Gate>,
    /// Behind a transaction pooler: each statement in its own transaction.
    each_in_transaction: bool,
}

#[derive(Debug)]
pub(super) struct Gate {
    /// `app`, `service` or `webhook`: the metrics' `pool` label.
    name: &'static str,
    slots: Arc<Semaphore>,
    /// Callers blocked on `slots` now.
    waiting: AtomicUsize,
    /// How long a caller waits for a slot before [`ConnAcquireErr::Timeout`].
    wait: Duration,
    /// `ochre_db_pool_acquire_seconds{pool=name}` (a handle, so recording
    /// is no registry lookup; a no-op when no recorder was installed before
    /// the pools were connected).
    acquire: metrics::Histogram,
}

/// Decrements a waiting count when the wait ends, however it ends (a caller
/// dropped while waiting included).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Gate {
    /// `max` slots named `name`, waited for at most `wait`.
    pub(super) fn new(name: &'static str, max: u32, wait: Duration) -> Gate {
        let permits = usize::try_from(max).unwrap_or(1).max(1);
        Gate {
            name,
            slots: Arc::new(Semaphore::new(permits)),
            waiting: AtomicUsize::new(0),
            wait,
            acquire: crate::telemetry::metrics::acquire_histogram(name),
        }
    }

    /// The pool's name (`app`, `service`, `webhook`).
    pub(super) fn name(&self) -> &'static str {
        self.name
    }

    /// Callers waiting for a slot now.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Records a caller's time to its connection.
    pub(super) fn record(&self, waited: Duration) {
        self.acquire.record(waited);
    }

    /// Refuses every later caller.
    pub(super) fn close(&self) {
        self.slots.close();
    }

    /// Whether [`Gate::close`] was called.
    pub(super) fn is_closed(&self) -> bool {
        self.slots.is_closed()
    }

    /// Takes a slot: at once when one is free (no clock read: the time is
    /// zero), else in arrival order, counted as waiting meanwhile, for at
    /// most the pool's wait. The slot and the time waited.
    pub(super) async fn admit(&self) -> Result<(OwnedSemaphorePermit, Duration), DbErr> {
        let gate = self;
        if let Ok(slot) = gate.slots.clone().try_acquire_owned() {
            return Ok((slot, Duration::ZERO));
        }
        let started = Instant::now();
        gate.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&gate.waiting);
        match tokio::time::timeout(gate.wait, gate.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok((slot, started.elapsed())),
            Ok(Err(_closed)) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)),
            Err(_elapsed) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
        }
    }
}

impl Pool {
    /// `conn` behind `max` slots, named `name`, waited for at most `wait`;
    /// `transaction_pooling`: behind a transaction pooler.
    pub(crate) fn new(
        name: &'static str,
        conn: DatabaseConnection,
        max: u32,
        wait: Duration,
        transaction_pooling: bool,
    ) -> Pool {
        Pool {
            conn,
            gate: Arc::new(Gate::new(name, max, wait)),
            each_in_transaction: transaction_pooling,
        }
    }

    /// The pool's name (`app`, `service`, `webhook`).
    pub(crate) fn name(&self) -> &'static str {
        self.gate.name
    }

    /// The sea-orm connection (for the pool's sizes; statements go through
    /// the [`Pool`] itself).
    pub(crate) fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Callers waiting for a slot now.
    pub(crate) fn waiting(&self) -> usize {
        self.gate.waiting()
    }

    /// Takes a slot: at once when one is free (no clock read: the time is
    /// zero), else in arrival order, counted as waiting meanwhile, for at
    /// most the pool's wait. The slot and the time waited.
    async fn admit(&self) -> Result<(OwnedSemaphorePermit, Duration), DbErr> {
        self.gate.admit().await
    }

    /// Admits one statement, recording the time it waited.
    async fn admit_statement(&self) -> Result<OwnedSemaphorePermit, DbErr> {
        let (slot, waited) = self.admit().await?;
        self.gate.acquire.record(waited);
        Ok(slot)
    }

    /// Opens a transaction, admitted (holding its slot) until it ends.
    pub(crate) async fn begin(&self) -> Result<PoolTx, DbErr> {
        let slot = self.admit_statement().await?;
        let tx = self.conn.begin().await?;
        Ok(PoolTx { tx, _slot: slot })
    }

    /// Closes the pool: no caller is admitted any more.
    pub(crate) async fn close(&self) {
        self.gate.slots.close();
        let _ = self.conn.close_by_ref().await;
    }
}

/// A transaction on a [`Pool`]: statements run on it through `Deref`; it
/// holds the pool's slot until it is rolled back, committed or dropped.
#[derive(Debug)]
pub(crate) struct PoolTx {
    tx: sea_orm::DatabaseTransaction,
    _slot: OwnedSemaphorePermit,
}

impl std::ops::Deref for PoolTx {
    type Target = sea_orm::DatabaseTransaction;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl PoolTx {
    /// Rolls the transaction back, then frees the slot.
    pub(crate) async fn rollback(self) -> Result<(), DbErr> {
        self.tx.rollback().await
    }
}

/// A boxed statement future, as `ConnectionTrait` (an `async_trait`) has it.
type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, DbErr>> + Send + 'a>>;

/// `pool.conn.$method(stmt)`, admitted for its duration; behind a
/// transaction pooler, in a transaction of its own.
macro_rules! statement {
    ($pool:expr, $method:ident, $stmt:expr) => {{
        let _slot = $pool.admit_statement().await?;
        if $pool.each_in_transaction {
            let tx = $pool.conn.begin().await?;
            let out = tx.$method($stmt).await?;
            tx.commit().await?;
            Ok(out)
        } else {
            $pool.conn.$method($stmt).await
        }
    }};
}

/// Statements on a pool, each admitted for its own duration.
impl ConnectionTrait for Pool {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    fn execute_raw<'a, 'f>(&'a self, stmt: Statement) -> Fut<'f, ExecResult>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(async move { statement!(self, execute_raw, stmt) })
    }

    /// A statement without values goes in the simple protocol: one
    /// message, one implicit transaction, safe behind any pooler.
    fn execute_unprepared<'a, 'b, 'f>(&'a self, sql: &'b str) -> Fut<'f, ExecResult>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            let _slot = self.admit_statement().await?;
            self.conn.execute_unprepared(sql).await
        })
    }

    fn query_one_raw<'a, 'f>(&'a self, stmt: Statement) -> Fut<'f, Option<QueryResult>>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(async move { statement!(self, query_one_raw, stmt) })
    }

    fn query_all_raw<'a, 'f>(&'a self, stmt: Statement) -> Fut<'f, Vec<QueryResult>>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(async move { statement!(self, query_all_raw, stmt) })
    }
}
