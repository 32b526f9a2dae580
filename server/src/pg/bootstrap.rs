//! Bootstrap of Ochre's roles and database in a cluster we control (the
//! embedded cluster, the test harness): three login roles with generated
//! passwords, and a database owned by the owner role.

use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _, path::Path};

use rand::{Rng as _, distr::Alphanumeric};
use sea_orm::{ConnectionTrait as _, Database, DbBackend, Statement};
use secrecy::{ExposeSecret as _, SecretString};

/// The role migrations run as; it owns every table.
pub const OWNER_ROLE: &str = "ochre_owner";
/// The server parameter that holds a transaction's verified caller
/// (0001_foundation): superuser-only, settable by the owner role alone.
pub const PINNED_CALLER_PARAMETER: &str = "backtrace_functions";
/// The runtime role: owns nothing, NOBYPASSRLS, sees one org at a time.
pub const APP_ROLE: &str = "ochre_app";
/// The role of the few gated cross-tenant paths.
pub const SERVICE_ROLE: &str = "ochre_service";

/// Generated passwords of the three roles.
#[derive(Debug)]
pub struct DbCredentials {
    pub owner: SecretString,
    pub app: SecretString,
    pub service: SecretString,
}

impl DbCredentials {
    /// Loads the credentials from `path`, generating them (mode 0600) once.
    pub fn load_or_generate(path: &Path) -> std::io::Result<Self> {
        if !path.exists() {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let text = format!(
                "owner = \"{}\"\napp = \"{}\"\nservice = \"{}\"\n",
                password(),
                password(),
                password()
            );
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?;
            f.write_all(text.as_bytes())?;
        }
        let text = std::fs::read_to_string(path)?;
        let table: toml::Table = text
            .parse()
            .map_err(|_| std::io::Error::other("database credentials file is not valid TOML"))?;
        let get = |k: &str| {
            table
                .get(k)
                .and_then(|v| v.as_str())
                .filter(|v| v.chars().all(|c| c.is_ascii_alphanumeric()))
                .map(|v| SecretString::from(v.to_owned()))
                .ok_or_else(|| std::io::Error::other(format!("database credentials: bad `{k}`")))
        };
        Ok(DbCredentials {
            owner: get("owner")?,
            app: get("app")?,
            service: get("service")?,
        })
    }

    /// Fresh random credentials (kept in memory only).
    pub fn generate() -> Self {
        DbCredentials {
            owner: SecretString::from(password()),
            app: SecretString::from(password()),
            service: SecretString::from(password()),
        }
    }
}

fn password() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

/// Creates (or updates) the three roles and, when missing, `database` owned
/// by the owner role, with nothing granted to PUBLIC on it.
pub async fn bootstrap(
    superuser_url: &SecretString,
    creds: &DbCredentials,
    database: &str,
) -> Result<(), sea_orm::DbErr> {
    let db = Database::connect(superuser_url.expose_secret()).await?;
    let roles = [
        (OWNER_ROLE, &creds.owner, "INHERIT"),
        (APP_ROLE, &creds.app, "NOINHERIT"),
        (SERVICE_ROLE, &creds.service, "NOINHERIT"),
    ];
    for (role, password, extra) in roles {
        // Passwords are generated alphanumerics (checked on load), so they
        // are safe inside a literal.
        let sql = format!(
            "DO $$ BEGIN \
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN \
                 CREATE ROLE {role}; \
               END IF; \
             END $$; \
             ALTER ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION \
               {extra} PASSWORD '{}';",
            password.expose_secret()
        );
        db.execute_unprepared(&sql).await?;
    }
    // Only the owner may pin a verified caller (0001_foundation): the
    // parameter that holds it is superuser-only, and this grants the owner
    // alone the right to set it.
    db.execute_unprepared(&format!(
        "GRANT SET ON PARAMETER {PINNED_CALLER_PARAMETER} TO {OWNER_ROLE}"
    ))
    .await?;
    let exists = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [database.into()],
        ))
        .await?
        .is_some();
    if !exists {
        db.execute_unprepared(&format!(
            "CREATE DATABASE {} OWNER {OWNER_ROLE} ENCODING 'UTF8'",
            quote_ident(database)
        ))
        .await?;
    }
    secure_database(&db, database).await?;
    db.close().await?;
    Ok(())
}

/// Revokes PUBLIC's default rights on `database` and lets the runtime roles
/// connect. Database ACLs are not copied from a template, so the harness
/// calls this for every clone.
pub async fn secure_database(
    db: &impl sea_orm::ConnectionTrait,
    database: &str,
) -> Result<(), sea_orm::DbErr> {
    let name = quote_ident(database);
    db.execute_unprepared(&format!(
        "REVOKE ALL ON DATABASE {name} FROM PUBLIC; \
         GRANT CONNECT ON DATABASE {name} TO {APP_ROLE}, {SERVICE_ROLE}; \
         GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {name} TO {OWNER_ROLE};"
    ))
    .await?;
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
