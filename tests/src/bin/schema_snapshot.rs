//! `ochre-schema-snapshot` (run by `make schema-snapshot`): migrates a fresh
//! database on the test cluster, writes its schema snapshot to
//! `migrations/schema.snapshot`, and prints what changed.

#![allow(clippy::print_stdout)]

use anyhow::Context as _;
use ochre_tests::{
    cluster::cluster,
    snapshot::{SNAPSHOT_FILE, schema_snapshot, snapshot_path, unified_diff},
};
use sea_orm::ConnectionTrait as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let db = c.connect(ochre_server::pg::OWNER_ROLE, &name).await;
    let snapshot = schema_snapshot(&db).await;
    db.close().await.ok();
    let admin = c.connect_superuser("postgres").await;
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\""))
        .await
        .context("drop the snapshot database")?;
    admin.close().await.ok();

    let path = snapshot_path();
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let diff = unified_diff(&committed, &snapshot);
    if diff.is_empty() {
        println!("{SNAPSHOT_FILE}: unchanged");
        return Ok(());
    }
    std::fs::write(&path, &snapshot).with_context(|| format!("write {}", path.display()))?;
    println!("{SNAPSHOT_FILE}: rewritten ('-' was in the file, '+' is the schema now):\n{diff}");
    Ok(())
}
