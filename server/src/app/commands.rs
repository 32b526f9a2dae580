//! The bodies of the operator commands other than `serve`: `ochre migrate`,
//! `ochre purge` (and its receipts), `ochre keys rotate`, `ochre audit verify` and `ochre export`. Each resolves the database (and
//! stops the embedded cluster it started) around one job.

use super::{database::resolve_database, error::StartupError};
use crate::{
    config::Config,
    db::{
        self, Db,
        service::purge::{PurgeReceipt, PurgeRun},
    },
    pg::Purpose,
};

/// Runs the migrations for `config` (the `ochre migrate` command).
pub async fn migrate_only(config: &Config) -> Result<(), StartupError> {
    let (urls, cluster) = resolve_database(config, Purpose::Command("migrate")).await?;
    let result = db::migrate(&urls.owner).await;
    if let Some(c) = cluster {
        c.stop().await?;
    }
    result?;
    tracing::info!(
        count = ochre_migrations::names().len(),
        "migrations are current"
    );
    Ok(())
}

/// The migrations of the database (`ochre migrate --status`).
#[derive(Debug)]
pub struct MigrationStatus {
    /// Known to this binary and applied, oldest first.
    pub applied: Vec<String>,
    /// Known to this binary and not applied yet, oldest first.
    pub pending: Vec<String>,
    /// Applied but unknown to this binary (a newer binary migrated it).
    pub unknown: Vec<String>,
}

impl MigrationStatus {
    /// Nothing pending and nothing unknown.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.unknown.is_empty()
    }
}

/// Reads the applied migrations as the owner role and compares them with
/// the ones this binary knows; migrates nothing.
pub async fn migration_status(config: &Config) -> Result<MigrationStatus, StartupError> {
    let (urls, cluster) = resolve_database(config, Purpose::Command("migrate --status")).await?;
    let result = async {
        let db =
            sea_orm::Database::connect(secrecy::ExposeSecret::expose_secret(&urls.owner)).await?;
        let applied = db::applied_migrations(&db).await;
        let _ = db.close().await;
        applied
    }
    .await;
    if let Some(c) = cluster {
        c.stop().await?;
    }
    let applied = result?;
    let known = ochre_migrations::names();
    Ok(MigrationStatus {
        applied: known
            .iter()
            .filter(|k| applied.iter().any(|a| a == *k))
            .map(|k| (*k).to_owned())
            .collect(),
        pending: known
            .iter()
            .filter(|k| !applied.iter().any(|a| a == *k))
            .map(|k| (*k).to_owned())
            .collect(),
        unknown: applied
            .iter()
            .filter(|a| !known.contains(&a.as_str()))
            .cloned()
            .collect(),
    })
}

/// Runs the `purge-expired` job once (the `ochre purge` command).
pub async fn purge_expired(
    config: &Config,
    run: PurgeRun,
) -> Result<serde_json::Value, StartupError> {
    let (urls, cluster) = resolve_database(config, Purpose::Command("purge")).await?;
    let result = async {
        if config.migrate_on_start {
            db::migrate(&urls.owner).await?;
        }
        let db = Db::connect(&urls.app, &urls.service, 1, config.db_transaction_pooling).await?;
        let counts = db
            .purge_expired(run)
            .await
            .map_err(|e| StartupError::Database(e.0));
        db.close().await;
        counts
    }
    .await;
    if let Some(c) = cluster {
        c.stop().await?;
    }
    result
}

/// Every workspace purge receipt (the `ochre purge --receipts` command).
pub async fn purge_receipts(config: &Config) -> Result<Vec<PurgeReceipt>, StartupError> {
    let (urls, cluster) = resolve_database(config, Purpose::Command("purge --receipts")).await?;
    let result = async {
        if config.migrate_on_start {
            db::migrate(&urls.owner).await?;
        }
        let db = Db::connect(&urls.app, &urls.service, 1, config.db_transaction_pooling).await?;
        let receipts = db
            .purge_receipts()
            .await
            .map_err(|e| StartupError::Database(e.0));
        db.close().await;
        receipts
    }
    .await;
    if let Some(c) = cluster {
        c.stop().await?;
    }
    result
}

/// Re-encrypts every vault ciphertext under the current key (the
/// `ochre keys rotate` command).
pub async fn rotate_keys(
    config: &Config,
    batch: u64,
) -> Result<crate::db::key_rotation::RotationReport, StartupError> {
    let vault = config.secrets.vault();
    let (urls, cluster) = resolve_database(config, Purpose::Command("keys rotate")).await?;
    let result = async {
        if config.migrate_on_start {
            db::migrate(&urls.owner).await?;
        }
        crate::db::key_rotation::rotate(&urls.owner, &vault, batch).await
    }
    .await;
    if let Some(c) = cluster {
        c.stop().await?;
    }
    Ok(result?)
}

/// Verifies an org's audit chain from the database rows and the public
/// key alone (the `ochre audit verify` command): `public_key` is the
/// checkpoint key to trust (by default the configured signing key's).
pub async fn verify_audit(
    config: &Config,
    org: crate::ids::OrgId,
    public_key: Option<[u8; 32]>,
) -> Result<
    Result<crate::db::audit_chain::Verified, crate::crypto::audit_chain::ChainBreak>,
    StartupError,
> {
    let public_key = public_key.unwrap_or_else(|| config.secrets.checkpoint_signer().public_key());
    let (urls, cluster) = resolve_database(config, Purpose::Command("audit verify")).await?;
    let result = crate::db::audit_chain::verify(&urls.owner, org, &public_key).await;
    if let Some(c) = cluster {
        c.stop().await?;
    }
    Ok(result?)
}

/// Exports an org to `out` (the `ochre export` command): the archive
/// `ExportWorkspace` streams, read as the owner role; the rows per table.
pub async fn export_org(
    config: &Config,
    org: crate::ids::OrgId,
    out: &std::path::Path,
    force: bool,
) -> Result<serde_json::Value, StartupError> {
    use crate::exports::{archive::ExportError, operator};
    if !force && out.exists() {
        return Err(StartupError::Io(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists (use --force to replace it)", out.display()),
        )));
    }
    let (urls, cluster) = resolve_database(config, Purpose::Command("export")).await?;
    let result = operator::export_as_owner(&urls.owner, org).await;
    if let Some(c) = cluster {
        c.stop().await?;
    }
    let (snapshot, bytes) = match result {
        Ok(Some(found)) => found,
        Ok(None) => return Err(std::io::Error::other(format!("no org {org}")).into()),
        Err(ExportError::Db(e)) => return Err(e.into()),
        Err(e) => return Err(std::io::Error::other(e.to_string()).into()),
    };
    operator::write_archive(out, &bytes, force)?;
    Ok(snapshot.counts())
}
