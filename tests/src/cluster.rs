//! The shared test cluster and the migrated template database.
//!
//! Test processes (nextest runs one per test) coordinate with a file lock:
//! the first one starts the cluster under `OCHRE_TEST_PG_DIR` (default
//! `/tmp/ochre-test-<uid>-<hash>`), creates the roles and a template database
//! migrated to this build's migrations; the others reuse it. `make test`
//! wipes the directory before the run and stops the cluster after it.

use std::{
    hash::{Hash as _, Hasher as _},
    os::unix::fs::PermissionsExt as _,
    path::PathBuf,
};

use ochre_server::pg::{self, Cluster, DbCredentials};
use sea_orm::{ConnectionTrait as _, Database, DatabaseConnection};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::OnceCell;

/// What a test needs to reach the shared cluster.
#[derive(Debug)]
pub struct TestCluster {
    pub port: u16,
    /// The directory of the cluster's Unix socket.
    pub socket_dir: PathBuf,
    pub superuser_url: SecretString,
    pub creds: DbCredentials,
    pub template: String,
}

impl TestCluster {
    /// A URL for `role` (`ochre_owner`, `ochre_app`, `ochre_service`) on
    /// `db`, over loopback TCP.
    pub fn url(&self, role: &str, db: &str) -> SecretString {
        SecretString::from(format!(
            "postgres://{role}:{}@127.0.0.1:{}/{db}",
            self.password(role).expose_secret(),
            self.port
        ))
    }

    /// Like [`TestCluster::url`], over the cluster's Unix socket.
    pub fn socket_url(&self, role: &str, db: &str) -> SecretString {
        pg::socket_url(
            &self.socket_dir,
            self.port,
            role,
            self.password(role).expose_secret(),
            db,
        )
    }

    /// The password of `role` (`ochre_owner`, `ochre_app`, `ochre_service`).
    pub fn password(&self, role: &str) -> &SecretString {
        match role {
            pg::OWNER_ROLE => &self.creds.owner,
            pg::APP_ROLE => &self.creds.app,
            pg::SERVICE_ROLE => &self.creds.service,
            other => panic!("unknown role {other}"),
        }
    }

    /// The superuser's URL on `db`.
    pub fn superuser_url_for(&self, db: &str) -> SecretString {
        let base = self.superuser_url.expose_secret();
        let cut = base.rfind('/').unwrap_or(base.len());
        SecretString::from(format!("{}/{db}", &base[..cut]))
    }

    /// Connects as `role` to `db`.
    pub async fn connect(&self, role: &str, db: &str) -> DatabaseConnection {
        Database::connect(self.url(role, db).expose_secret().to_owned())
            .await
            .unwrap_or_else(|e| panic!("connect as {role} to {db}: {e}"))
    }

    /// Connects as the cluster superuser to `db`.
    pub async fn connect_superuser(&self, db: &str) -> DatabaseConnection {
        Database::connect(self.superuser_url_for(db).expose_secret().to_owned())
            .await
            .expect("connect as superuser")
    }

    /// A fresh database: a clone of the migrated template, or an empty one
    /// (roles exist, no migration applied) when `migrated` is false.
    pub async fn fresh_database(&self, migrated: bool) -> String {
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        let admin = self.connect_superuser("postgres").await;
        let template = if migrated {
            self.template.as_str()
        } else {
            "template1"
        };
        admin
            .execute_unprepared(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\" OWNER {}",
                pg::OWNER_ROLE
            ))
            .await
            .expect("create test database");
        pg::secure_database(&admin, &name)
            .await
            .expect("secure test database");
        if !migrated {
            // A fresh database's public schema is owned by pg_database_owner;
            // give the owner role what migrations would need.
            let db = self.connect_superuser(&name).await;
            db.execute_unprepared(&format!("ALTER SCHEMA public OWNER TO {}", pg::OWNER_ROLE))
                .await
                .expect("schema owner");
            db.close().await.ok();
        }
        admin.close().await.ok();
        name
    }
}

static CLUSTER: OnceCell<TestCluster> = OnceCell::const_new();

/// The shared cluster, started (or attached to) on first use in a process.
pub async fn cluster() -> &'static TestCluster {
    CLUSTER.get_or_init(setup).await
}

fn test_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("OCHRE_TEST_PG_DIR") {
        return PathBuf::from(dir);
    }
    let mut h = std::hash::DefaultHasher::new();
    env!("CARGO_MANIFEST_DIR").hash(&mut h);
    let uid = nix::unistd::geteuid().as_raw();
    PathBuf::from(format!("/tmp/ochre-test-{uid}-{:08x}", h.finish() as u32))
}

fn migrations_fingerprint() -> String {
    let mut h = std::hash::DefaultHasher::new();
    for m in ochre_migrations::MIGRATIONS {
        m.name.hash(&mut h);
        m.up.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

async fn setup() -> TestCluster {
    let dir = test_dir();
    std::fs::create_dir_all(&dir).expect("create test cluster dir");
    // The cluster's OS user must traverse this directory, not read it.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).ok();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .expect("open lock file");
    let lock = tokio::task::spawn_blocking(move || {
        lock.lock().expect("lock test cluster");
        lock
    })
    .await
    .expect("lock task");

    let root = dir.join("pg");
    let cluster = match Cluster::attach(&root).expect("attach test cluster") {
        Some(c) => c,
        None => Cluster::start(&root).await.expect("start test cluster"),
    };
    let creds = DbCredentials::load_or_generate(&dir.join("roles.toml")).expect("test credentials");
    let template = format!("ochre_tpl_{}", migrations_fingerprint());
    let superuser_url = cluster.superuser_url("postgres");
    let admin = Database::connect(superuser_url.expose_secret().to_owned())
        .await
        .expect("connect test cluster");
    let exists = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [template.clone().into()],
        ))
        .await
        .expect("look up template")
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{building}\""))
            .await
            .expect("drop half-built template");
        pg::bootstrap(&superuser_url, &creds, &building)
            .await
            .expect("bootstrap roles");
        let owner_url = SecretString::from(format!(
            "postgres://{}:{}@127.0.0.1:{}/{building}",
            pg::OWNER_ROLE,
            creds.owner.expose_secret(),
            cluster.port()
        ));
        ochre_server::db::migrate(&owner_url)
            .await
            .expect("migrate template");
        admin
            .execute_unprepared(&format!(
                "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
            ))
            .await
            .expect("publish template");
    }
    admin.close().await.ok();
    let port = cluster.port();
    let socket_dir = cluster.socket_dir();
    drop(lock);
    TestCluster {
        port,
        socket_dir,
        superuser_url,
        creds,
        template,
    }
}
