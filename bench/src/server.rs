//! Servers against an existing database of the test cluster (`spawn_app`
//! always makes a fresh one), and what the superuser does around them:
//! copying a seeded database, disabling row-level security on a copy,
//! counting rows.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use ochre_server::{Application, Config, config::Layers, pg};
use ochre_tests::cluster::TestCluster;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use secrecy::ExposeSecret as _;
use tokio::{runtime::Handle, sync::oneshot, task::JoinHandle};

/// The secrets a server must share with the one that seeded the database:
/// tokens minted by one are accepted by the other.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub session: String,
    pub byok: String,
    pub cron: String,
}

impl Secrets {
    pub fn of(app: &ochre_tests::TestApp) -> Secrets {
        Secrets {
            session: app.session_secret.clone(),
            byok: app.byok_key.clone(),
            cron: app.cron_secret.clone(),
        }
    }
}

/// A running server on `database`. Stop it with [`BenchServer::shutdown`].
#[derive(Debug)]
pub struct BenchServer {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<Result<(), ochre_server::StartupError>>,
}

impl BenchServer {
    /// Starts the server on the `server` runtime against `database`, with
    /// the configuration `ochre_tests::spawn_app_with` uses.
    pub async fn start(
        server: &Handle,
        cluster: &TestCluster,
        database: &str,
        secrets: &Secrets,
    ) -> anyhow::Result<BenchServer> {
        let url = |role| cluster.url(role, database).expose_secret().to_owned();
        let mut layers = Layers::default();
        layers
            .set("OCHRE_LISTEN_ADDR", "127.0.0.1:0")
            .set("DATABASE_URL", url(pg::OWNER_ROLE))
            .set("OCHRE_APP_DATABASE_URL", url(pg::APP_ROLE))
            .set("OCHRE_SERVICE_DATABASE_URL", url(pg::SERVICE_ROLE))
            .set("OCHRE_MIGRATE_ON_START", "false")
            .set("OCHRE_DB_MAX_CONNECTIONS", crate::POOL.to_string())
            .set("OCHRE_CORS_ORIGINS", "https://app.ochre.test")
            .set("OCHRE_PUBLIC_URL", "https://app.ochre.test")
            .set("OCHRE_BYOK_ENC_KEY", secrets.byok.clone())
            .set("OCHRE_SURVEY_TOKEN_SECRET", ochre_tests::random_secret(32))
            .set("OCHRE_SESSION_SECRET", secrets.session.clone())
            .set("OCHRE_OAUTH_STATE_SECRET", ochre_tests::random_secret(32))
            .set("OCHRE_CRON_SECRET", secrets.cron.clone())
            .set("OCHRE_AUDIT_SIGNING_KEY", ochre_tests::random_key());
        let config = Config::from_layers(&layers).context("bench configuration")?;
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, bound) = oneshot::channel();
        // Built and run on the server runtime: its listener and pools are
        // driven there, never by the load's runtime.
        let handle = server.spawn(async move {
            let app = match Application::build(config).await {
                Ok(app) => app,
                Err(e) => {
                    let _ = ready.send(None);
                    return Err(e);
                }
            };
            let _ = ready.send(Some(app.local_addr()));
            app.run(async move {
                let _ = stopped.await;
            })
            .await
        });
        match bound.await {
            Ok(Some(addr)) => Ok(BenchServer { addr, stop, handle }),
            _ => match handle.await.context("server task")? {
                Err(e) => Err(e).context("build the server"),
                Ok(()) => bail!("the server stopped before it was ready"),
            },
        }
    }

    /// Stops the server and waits for it to drain and close its pools.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.handle
            .await
            .context("server task")?
            .context("server shutdown")
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Runs `sql` as the superuser on `db`.
pub async fn superuser_execute(cluster: &TestCluster, db: &str, sql: &str) -> anyhow::Result<()> {
    let conn = cluster.connect_superuser(db).await;
    let result = conn.execute_unprepared(sql).await;
    conn.close().await.ok();
    result.with_context(|| format!("as superuser on {db}: {sql}"))?;
    Ok(())
}

/// The first column of every row of `sql` (text), as the superuser on `db`.
pub async fn superuser_column(
    cluster: &TestCluster,
    db: &str,
    sql: &str,
) -> anyhow::Result<Vec<String>> {
    let conn = cluster.connect_superuser(db).await;
    let rows = conn
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await;
    conn.close().await.ok();
    let rows = rows.with_context(|| format!("as superuser on {db}: {sql}"))?;
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).context("a text column"))
        .collect()
}

/// A copy of `source` named `copy`, owned and secured like a test database.
/// Any session still on `source` (a pool closing lazily) is ended first:
/// `CREATE DATABASE ... TEMPLATE` needs the source to itself.
pub async fn copy_database(cluster: &TestCluster, source: &str, copy: &str) -> anyhow::Result<()> {
    let admin = cluster.connect_superuser("postgres").await;
    let result = async {
        admin
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                [source.into()],
            ))
            .await?;
        admin
            .execute_unprepared(&format!(
                "CREATE DATABASE {} TEMPLATE {} OWNER {}",
                quote(copy),
                quote(source),
                pg::OWNER_ROLE
            ))
            .await?;
        pg::secure_database(&admin, copy).await
    }
    .await;
    admin.close().await.ok();
    result.with_context(|| format!("copy {source} to {copy}"))
}

/// Drops `db`, ending its sessions.
pub async fn drop_database(cluster: &TestCluster, db: &str) -> anyhow::Result<()> {
    let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(db));
    superuser_execute(cluster, "postgres", &sql).await
}

/// Tables of schema public with row-level security enabled or forced.
pub async fn rls_tables(cluster: &TestCluster, db: &str) -> anyhow::Result<Vec<String>> {
    superuser_column(
        cluster,
        db,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') \
           AND (c.relrowsecurity OR c.relforcerowsecurity) ORDER BY 1",
    )
    .await
}

/// Disables (and un-forces) row-level security on every table of schema
/// public of `db`; returns how many tables had it.
pub async fn disable_rls(cluster: &TestCluster, db: &str) -> anyhow::Result<usize> {
    let tables = superuser_column(
        cluster,
        db,
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .await?;
    let had = rls_tables(cluster, db).await?.len();
    let sql: String = tables
        .iter()
        .map(|t| {
            format!(
                "ALTER TABLE public.{t} DISABLE ROW LEVEL SECURITY; \
                 ALTER TABLE public.{t} NO FORCE ROW LEVEL SECURITY; ",
                t = quote(t)
            )
        })
        .collect();
    superuser_execute(cluster, db, &sql).await?;
    let left = rls_tables(cluster, db).await?;
    if !left.is_empty() {
        bail!("row-level security still on for {left:?}");
    }
    Ok(had)
}

/// The cluster's `server_version`.
pub async fn pg_version(cluster: &TestCluster) -> String {
    superuser_column(
        cluster,
        "postgres",
        "SELECT current_setting('server_version')",
    )
    .await
    .ok()
    .and_then(|v| v.into_iter().next())
    .unwrap_or_else(|| "unknown".to_owned())
}
