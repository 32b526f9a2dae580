//! A runtime pool as the storage layer runs statements on it, directly on
//! Postgres or behind a transaction pooler (`OCHRE_DB_TRANSACTION_POOLING`,
//! PgBouncer's `pool_mode = transaction`).
//!
//! Behind a transaction pooler a client connection owns a server connection
//! only from `BEGIN` to `COMMIT`; between transactions each message may
//! reach another one. The driver runs every statement with bound values in
//! the extended protocol as two exchanges (Parse, Describe, Sync; then Bind,
//! Execute, Sync), so outside a transaction the Bind can arrive where the
//! Parse never did. There [`Pooled`] runs every statement that is not
//! already inside a transaction in one of its own: the server connection is
//! held from the Parse to the result. The driver's statement cache is off
//! (see `pool.rs`): it prepares a new named statement each time, and the
//! pooler's `server_reset_query = DEALLOCATE ALL` (with
//! `server_reset_query_always = 1`) drops them when the transaction ends,
//! so no name survives into another client's transaction.
//!
//! Directly on Postgres (the default) [`Pooled`] passes every statement to
//! the pool as it is: not one round trip more.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
    TransactionTrait as _,
};

/// One runtime pool (`ochre_app`, `ochre_service` or the webhook ingress).
/// It dereferences to the sea-orm pool for transactions (`begin`) and the
/// pool's statistics; statements run on it directly go through its
/// [`ConnectionTrait`], which knows about the pooler.
#[derive(Debug, Clone)]
pub struct Pooled {
    conn: DatabaseConnection,
    /// Behind a transaction pooler: each statement in its own transaction.
    each_in_transaction: bool,
}

impl Pooled {
    /// `conn`, with `transaction_pooling`: behind a transaction pooler.
    pub(super) fn new(conn: DatabaseConnection, transaction_pooling: bool) -> Self {
        Pooled {
            conn,
            each_in_transaction: transaction_pooling,
        }
    }

    /// Closes the pool.
    pub(super) async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

impl std::ops::Deref for Pooled {
    type Target = DatabaseConnection;

    fn deref(&self) -> &DatabaseConnection {
        &self.conn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Pooled {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        if !self.each_in_transaction {
            return self.conn.execute_raw(stmt).await;
        }
        let tx = self.conn.begin().await?;
        let done = tx.execute_raw(stmt).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// A statement without values goes in the simple protocol: one
    /// message, one implicit transaction, safe behind any pooler.
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.conn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        if !self.each_in_transaction {
            return self.conn.query_one_raw(stmt).await;
        }
        let tx = self.conn.begin().await?;
        let row = tx.query_one_raw(stmt).await?;
        tx.commit().await?;
        Ok(row)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        if !self.each_in_transaction {
            return self.conn.query_all_raw(stmt).await;
        }
        let tx = self.conn.begin().await?;
        let rows = tx.query_all_raw(stmt).await?;
        tx.commit().await?;
        Ok(rows)
    }

    fn support_returning(&self) -> bool {
        self.conn.support_returning()
    }
}
