//! A transaction on the app pool. It ends by COMMIT (awaited) or by
//! [`WireTx::finish`]: a ROLLBACK the caller does not wait
//! for. A task sends it and returns the connection and its slot to the pool
//! when the server has answered. A transaction dropped unfinished (an error
//! on the way, a cancelled request) is finished the same way.

use std::future::Future;
use std::pin::Pin;

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
}

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
        }
    }

    fn lease(&self) -> Result<&Lease, DbErr> {
        self.lease
            .as_ref()
            .ok_or_else(|| DbErr::Custom("the transaction has ended".into()))
    }

    /// Ends the transaction with `sql` and returns the connection to the
    /// pool when that succeeded. (Cancelled meanwhile, the transaction is
    /// dropped and finished in the background.)
    async fn end(mut self, sql: &str) -> Result<(), DbErr> {
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
        let pool = self.pool.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Shutting down: closing the connection ends its transaction.
            return drop(lease);
        };
        runtime.spawn(async move {
            if lease.conn.simple("ROLLBACK").await.is_ok() {
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
        let values = first.values.as_ref().map_or(&[][..], |v| &v.0[..]);
        let params = Params::new(values)?;
        let rows = tx
            .lease()?
            .conn
            .query(Some(begin), &first.sql, &params)
            .await?;
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

/// The rows of `stmt`.
async fn rows(tx: &WireTx, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
    let values = stmt.values.as_ref().map_or(&[][..], |v| &v.0[..]);
    let params = Params::new(values)?;
    let rows = tx.lease()?.conn.query(None, &stmt.sql, &params).await?;
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
            let values = stmt.values.as_ref().map_or(&[][..], |v| &v.0[..]);
            let params = Params::new(values)?;
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
