//! A transaction on the app pool. It ends in one of three ways:
//! - COMMIT, awaited ([`WireTx::commit`]);
//! - COMMIT sent in the same write as its last query, when its caller said
//!   beforehand which query that is ([`WireTx::commit_with_next_query`]: a
//!   handler that makes one read); a later statement fails;
//! - a ROLLBACK the caller does not wait for ([`WireTx::finish`]): a task
//!   sends it and returns the connection and its slot to the pool when the
//!   server has answered. A transaction dropped unfinished (an error on the
//!   way, a cancelled request) is finished the same way.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};

use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, ExecResult, ProxyExecResult, QueryResult, Statement,
};

use super::conn::Params;
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
        }
    }

    /// The connection, while the transaction is open.
    fn lease(&self) -> Result<&Lease, DbErr> {
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
        if self.committed() {
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
            let rollback = tokio::time::timeout(ROLLBACK_WAIT, lease.conn.simple("ROLLBACK"));
            if let Ok(Ok(())) = rollback.await {
                pool.put_back(lease.conn);
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
    let lease = tx.lease()?;
    let commit = tx.commit_with_next.then_some("COMMIT");
    // Only one query may carry the COMMIT (and none run after it).
    if commit.is_some()
        && tx
            .state
            .compare_exchange(OPEN, COMMITTING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return Err(DbErr::Custom("the transaction has ended".into()));
    }
    let (rows, committed) = lease.conn.query(None, &stmt.sql, &params, commit).await;
    if commit.is_some() {
        let state = if committed.is_ok() { COMMITTED } else { BROKEN };
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
