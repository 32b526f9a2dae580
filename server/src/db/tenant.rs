//! The scoped transaction: one transaction per RPC on the `ochre_app` pool,
//! the caller set with ONE `set_config` statement (transaction-local), so
//! row-level security sees exactly the caller's org, user and API key.
//!
//! A [`Scope`] is made only by the gate (from a verified principal) or by
//! `Scope::signed_in` for an account that has just proved itself (sign-up,
//! login); storage functions take the [`TenantTx`] it opens.

use sea_orm::{ConnectionTrait as _, DatabaseTransaction, TransactionTrait as _};

use super::pool::{Db, DbError, stmt};
use crate::gate::scope::Scope;

/// A transaction on the `ochre_app` pool scoped to one caller.
#[derive(Debug)]
pub struct TenantTx {
    tx: DatabaseTransaction,
    scope: Scope,
}

impl TenantTx {
    /// Who this transaction acts as.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The connection for storage functions.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.tx
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbError> {
        Ok(self.tx.commit().await?)
    }
}

fn setting(v: Option<impl std::fmt::Display>) -> sea_orm::Value {
    v.map(|u| u.to_string()).unwrap_or_default().into()
}

impl Db {
    /// Opens a transaction for `scope` as `ochre_app`: BEGIN, then one
    /// statement setting all three caller settings.
    pub async fn scoped(&self, scope: Scope) -> Result<TenantTx, DbError> {
        let tx = self.app.begin().await?;
        tx.execute_raw(stmt(
            "SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true), \
                    set_config('app.api_key_id', $3, true)",
            [
                setting(scope.org_id()),
                setting(scope.user_id()),
                setting(scope.api_key_id()),
            ],
        ))
        .await?;
        Ok(TenantTx { tx, scope })
    }
}
