//! The runtime pools, the database error of the storage layer, the statement
//! helper, and migrations.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbErr, FromQueryResult};
use sea_orm_migration::MigratorTrait as _;
use secrecy::{ExposeSecret as _, SecretString};

use super::admission::Pool;
use super::wire::WirePool;

/// The three runtime pools: `ochre_app` for all tenant work, `ochre_service`
/// for the few named cross-tenant gates, and a second `ochre_service` pool
/// for the webhook ingress alone, so that a flood of deliveries can never take
/// the connections the gate resolves credentials with. Every use of a pool
/// is admitted through its slots (`super::admission`), which count the
/// callers waiting and time the acquire.
#[derive(Debug, Clone)]
pub struct Db {
    pub(super) app: WirePool,
    pub(super) service: Pool,
    pub(super) ingress: Pool,
}

/// How long a caller waits for a connection of the `app` or `service` pool
/// before UNAVAILABLE.
const WAIT: Duration = Duration::from_secs(5);
/// How long a webhook delivery waits for an ingress connection before its
/// 503: briefly, since the provider retries.
const INGRESS_WAIT: Duration = Duration::from_secs(2);

/// One pool's gauges, sampled at a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// `app`, `service` or `webhook`.
    pub name: &'static str,
    /// Open connections.
    pub size: u32,
    /// Open connections nobody holds.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// The pool options; with `transaction_pooling` (behind PgBouncer's
/// transaction mode) without the driver's statement cache, whose named
/// statements would outlive the transaction that prepared them (see
/// `admission.rs`).
fn options(url: &SecretString, max: u32, transaction_pooling: bool) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.expose_secret().to_owned());
    opts.max_connections(max)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(WAIT)
        // No ping before each use (a round trip on every request): a
        // connection that broke while idle fails its first statement, which
        // is answered UNAVAILABLE, and the pool drops it.
        .test_before_acquire(false)
        .sqlx_logging(false);
    if transaction_pooling {
        opts.map_sqlx_postgres_opts(|o| o.statement_cache_capacity(0));
    }
    opts
}

/// One applied migration.
#[derive(Debug, Clone, FromQueryResult)]
struct Applied {
    version: String,
}

impl Db {
    /// Connects the three pools (`transaction_pooling`: the URLs reach
    /// Postgres through a transaction pooler, `OCHRE_DB_TRANSACTION_POOLING`).
    pub async fn connect(
        app_url: &SecretString,
        service_url: &SecretString,
        max_connections: u32,
        transaction_pooling: bool,
    ) -> Result<Db, DbErr> {
        let pool = |url, name, wait| async move {
            let opts = options(url, max_connections, transaction_pooling);
            let conn = Database::connect(opts).await?;
            Ok::<_, DbErr>(Pool::new(
                name,
                conn,
                max_connections,
                wait,
                transaction_pooling,
            ))
        };
        let app = WirePool::connect(app_url, max_connections, WAIT, transaction_pooling).await?;
        // Sign-in (service) and webhook ingest (ingress) each get a pool of
        // their own, so neither can starve tenant requests of connections.
        let service = pool(service_url, "service", WAIT).await?;
        let ingress = pool(service_url, "webhook", INGRESS_WAIT).await?;
        Ok(Db {
            app,
            service,
            ingress,
        })
    }

    /// Whether the database answers and holds exactly the migrations this
    /// binary knows (what the health check reports).
    pub async fn migrations_current(&self) -> Result<bool, DbErr> {
        let tx = self.app.begin("BEGIN READ ONLY").await?;
        let applied = applied_migrations(&tx).await;
        tx.finish();
        let mut applied = applied?;
        applied.sort();
        let mut known: Vec<String> = ochre_migrations::names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        known.sort();
        Ok(applied == known)
    }

    /// Each pool's gauges (`app`, `service`, `webhook`).
    pub fn pool_stats(&self) -> [PoolStats; 3] {
        let (size, idle) = self.app.sizes();
        let app = PoolStats {
            name: self.app.name(),
            size,
            idle,
            waiting: self.app.waiting(),
        };
        let [service, ingress] = [&self.service, &self.ingress].map(|p| {
            let pool = p.connection().get_postgres_connection_pool();
            PoolStats {
                name: p.name(),
                size: pool.size(),
                idle: pool.num_idle(),
                waiting: p.waiting(),
            }
        });
        [app, service, ingress]
    }

    /// Closes the three pools.
    pub async fn close(self) {
        self.app.close();
        self.service.close().await;
        self.ingress.close().await;
    }
}

/// A database error from the storage layer, on its way to the one
/// classification in `crate::error` (a newtype, so that `?` reaches
/// `tonic::Status` directly).
///
/// Its text is [`safe_text`]: never the server's message, which can quote
/// the values of a row.
#[derive(Debug, thiserror::Error)]
#[error("{}", safe_text(.0))]
pub struct DbError(#[from] pub DbErr);

/// A database error as logs may show it: for an error Postgres answered,
/// its SQLSTATE and the table, column and constraint it names, and its
/// message only in the classes whose messages cite schema objects, not
/// data (42 `column "x" does not exist`, connection, resources, operator
/// intervention, transaction state); never the detail (a unique
/// violation's detail quotes the row) nor a data exception's message
/// (`invalid input syntax for type uuid: "…"` quotes the value) nor one
/// our functions raise; for a lost prepared statement (26000, 42P05), a
/// hint naming `OCHRE_DB_TRANSACTION_POOLING`. Otherwise the driver's own
/// text (connection loss, pool timeout, decoding).
pub fn safe_text(err: &DbErr) -> String {
    use sea_orm::{RuntimeErr, sqlx};
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return err.to_string();
    };
    let sqlx::Error::Database(db) = e.as_ref() else {
        return err.to_string();
    };
    let mut text = format!("database error SQLSTATE {}", db.code().unwrap_or_default());
    let code = db.code().unwrap_or_default();
    if ["42", "08", "53", "57", "58", "40", "25", "0A"].contains(&code.get(..2).unwrap_or("")) {
        text.push_str(&format!(": {}", db.message()));
    }
    // The driver's named statements vanish between its messages: the
    // statement cache is on behind a pooler that hands each transaction
    // another server connection.
    if code == "26000" || code == "42P05" {
        text.push_str(
            " (prepared statements are lost between statements: behind a transaction \
             pooler such as PgBouncer in transaction mode, set \
             OCHRE_DB_TRANSACTION_POOLING=true)",
        );
    }
    for (what, value) in super::wire::fields(db.as_ref()).into_iter().flatten() {
        if let Some(value) = value {
            text.push_str(&format!(" {what}={value}"));
        }
    }
    text
}

/// A raw Postgres statement with bound values (the one helper every
/// storage and gate function builds its SQL with).
pub(crate) fn stmt(
    sql: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> sea_orm::Statement {
    sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, values)
}

/// Applies every pending migration as the owner role.
pub async fn migrate(owner_url: &SecretString) -> Result<(), DbErr> {
    let db = Database::connect(options(owner_url, 2, false)).await?;
    ochre_migrations::Migrator::up(&db, None).await?;
    db.close().await?;
    Ok(())
}

/// The migrations recorded in `db` (none when it was never migrated: no
/// `seaql_migrations` table yet, which is not an error).
pub async fn applied_migrations(db: &impl ConnectionTrait) -> Result<Vec<String>, DbErr> {
    #[derive(Debug, FromQueryResult)]
    struct Present {
        present: bool,
    }
    let present = Present::find_by_statement(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "SELECT to_regclass('seaql_migrations') IS NOT NULL AS present",
    ))
    .one(db)
    .await?
    .is_some_and(|p| p.present);
    if !present {
        return Ok(Vec::new());
    }
    Ok(Applied::find_by_statement(sea_orm::Statement::from_string(
        sea_orm::DbBackend::Postgres,
        "SELECT version FROM seaql_migrations ORDER BY version",
    ))
    .all(db)
    .await?
    .into_iter()
    .map(|m| m.version)
    .collect())
}

/// A client address as our SQL functions take it: its text, or '' when the
/// server saw none (they read it with `NULLIF($n, '')::inet`).
pub(crate) fn ip_text(ip: Option<std::net::IpAddr>) -> sea_orm::Value {
    ip.map(|ip| ip.to_string()).unwrap_or_default().into()
}
