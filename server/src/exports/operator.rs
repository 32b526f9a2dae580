//! `ochre export`: the same archive as `ExportWorkspace`, read by the
//! operator as the owner role. The owner role is subject to RLS too
//! (FORCE). Most tenant tables have owner read policies already (for the
//! definer functions); `customers`, `conversations` and `messages` have
//! none but an export policy that admits only a login as the owner role
//! (`session_user`, so never a definer function called by the app) naming
//! the org in the transaction's `ochre.export_org` setting. Every
//! statement also filters by the org and names the registry's exported
//! columns only, as the app path does.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use sea_orm::{AccessMode, ConnectionTrait as _, Database, IsolationLevel, TransactionTrait as _};
use secrecy::{ExposeSecret as _, SecretString};

use crate::{
    db::stmt,
    exports::{
        archive::{self, ExportError, Snapshot},
        read,
    },
    ids::OrgId,
};

/// Reads `org` in one REPEATABLE READ, READ ONLY transaction of the owner
/// role and builds the archive. `None` when there is no such org.
pub async fn export_as_owner(
    owner_url: &SecretString,
    org: OrgId,
) -> Result<Option<(Snapshot, Vec<u8>)>, ExportError> {
    let db = Database::connect(owner_url.expose_secret().to_owned()).await?;
    let result = async {
        let tx = db
            .begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?;
        // Names the org for the owner's export policies on the tables it
        // otherwise cannot read (customers, conversations, messages).
        tx.execute_raw(stmt(
            "SELECT set_config('ochre.export_org', $1, true)",
            [org.to_string().into()],
        ))
        .await?;
        let snapshot = read::snapshot(&tx, org).await?;
        tx.rollback().await?;
        let found = snapshot
            .tables
            .iter()
            .any(|t| t.table == "orgs" && t.rows == 1);
        if !found {
            return Ok(None);
        }
        let bytes = archive::build(&snapshot)?;
        Ok(Some((snapshot, bytes)))
    }
    .await;
    let _ = db.close().await;
    result
}

/// Writes `bytes` to `out` through a temporary file beside it, renamed
/// into place once complete. An existing `out` is refused
/// (`AlreadyExists`) unless `force`.
pub fn write_archive(out: &Path, bytes: &[u8], force: bool) -> std::io::Result<()> {
    if !force && out.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists (use --force to replace it)", out.display()),
        ));
    }
    let mut partial = PathBuf::from(out);
    partial.as_mut_os_string().push(".partial");
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if !force && out.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists (use --force to replace it)", out.display()),
            ));
        }
        std::fs::rename(&partial, out)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}
