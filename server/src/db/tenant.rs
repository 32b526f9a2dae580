//! The tenant transaction: one transaction per RPC, the tenant set with one
//! `set_config` statement (transaction-local), so row-level security sees
//! exactly one org. Storage functions take a `&TenantTx`; only the auth gate
//! makes the [`Tenant`] that opens one.

use sea_orm::{
    ConnectionTrait as _, DatabaseTransaction, DbBackend, DbErr, Statement, TransactionTrait as _,
};
use uuid::Uuid;

use super::Db;

/// An org the caller was authorized for. Only the auth gate constructs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tenant {
    org_id: Uuid,
}

impl Tenant {
    /// Made by the gate after it checked the caller's membership.
    #[allow(dead_code)]
    pub(crate) fn authorized(org_id: Uuid) -> Self {
        Tenant { org_id }
    }

    /// The org's id.
    pub fn org_id(&self) -> Uuid {
        self.org_id
    }
}

/// A transaction on the `ochre_app` pool scoped to one org.
#[derive(Debug)]
pub struct TenantTx {
    tx: DatabaseTransaction,
    tenant: Tenant,
}

impl TenantTx {
    /// The org this transaction sees.
    pub fn tenant(&self) -> Tenant {
        self.tenant
    }

    /// The connection for storage functions.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.tx
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.tx.commit().await
    }
}

impl Db {
    /// Opens a transaction for `tenant` as `ochre_app`.
    pub async fn tenant_tx(&self, tenant: Tenant) -> Result<TenantTx, DbErr> {
        let tx = self.app.begin().await?;
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('app.org_id', $1, true)",
            [tenant.org_id.to_string().into()],
        ))
        .await?;
        Ok(TenantTx { tx, tenant })
    }
}
