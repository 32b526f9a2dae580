//! The readiness probe of the request path: can the tables every request
//! reads be opened now? A table held in an exclusive lock (an operator's
//! `LOCK TABLE`, a long `ALTER TABLE` of a migration) stalls every request
//! that needs it whatever the load; the probe notices it within a second
//! and the health check reports NOT_SERVING until it clears.

use sea_orm::ConnectionTrait as _;

use super::pool::{Db, stmt};

/// How long the probe waits for a table's lock before it calls the
/// database stalled.
const LOCK_WAIT: &str = "1s";

/// Opening a table takes its ACCESS SHARE lock when the statement is
/// planned; `LIMIT 0` reads nothing. Only columns `ochre_app` may read.
const PROBE: &str = "SELECT s.id, m.org_id, o.id, c.id, cv.id, mg.id \
     FROM sessions s, memberships m, orgs o, customers c, conversations cv, messages mg \
     LIMIT 0";

/// What the probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tables {
    /// Every table opened at once.
    Open,
    /// A table stayed locked for longer than the probe waits.
    Locked,
}

impl Db {
    /// Opens the request path's tables on the `ochre_app` pool, waiting at
    /// most a second for their locks.
    pub async fn request_tables(&self) -> Result<Tables, sea_orm::DbErr> {
        let (tx, _) = self
            .app
            .begin_with(
                "BEGIN",
                stmt(
                    "SELECT set_config('lock_timeout', $1, true) AS lock_timeout",
                    [LOCK_WAIT.into()],
                ),
            )
            .await?;
        let result = tx.execute_raw(stmt(PROBE, [])).await;
        tx.finish();
        match result {
            Ok(_) => Ok(Tables::Open),
            Err(e) if sqlstate(&e).as_deref() == Some("55P03") => Ok(Tables::Locked),
            Err(e) => Err(e),
        }
    }
}

/// The SQLSTATE of an error Postgres answered.
fn sqlstate(err: &sea_orm::DbErr) -> Option<String> {
    use sea_orm::{RuntimeErr, sqlx};
    let (sea_orm::DbErr::Exec(RuntimeErr::SqlxError(e))
    | sea_orm::DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return None;
    };
    let sqlx::Error::Database(db) = e.as_ref() else {
        return None;
    };
    db.code().map(|c| c.into_owned())
}
