//! The export archive: a ZIP (deflate) holding `manifest.json` and one
//! NDJSON file per exported table, `tables/<table>.ndjson`. Built in
//! memory, bounded by [`MAX_ARCHIVE_BYTES`].

use std::io::{Cursor, Write as _};

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest as _, Sha256};
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use crate::ids::OrgId;

/// The version of the archive layout, in `manifest.json`.
pub const FORMAT_VERSION: u32 = 1;

/// The most table data (uncompressed NDJSON) an export holds in memory;
/// a larger org is refused (RESOURCE_EXHAUSTED).
pub const MAX_ARCHIVE_BYTES: usize = 256 * 1024 * 1024;

/// The largest chunk `ExportWorkspace` streams.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("database")]
    Db(#[from] sea_orm::DbErr),
    #[error("the export exceeds {MAX_ARCHIVE_BYTES} bytes")]
    TooLarge,
    #[error("zip")]
    Zip(#[from] zip::result::ZipError),
    #[error("io")]
    Io(#[from] std::io::Error),
}

/// One table's file.
#[derive(Debug, Clone)]
pub struct TableFile {
    pub table: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: u64,
    /// The NDJSON bytes (one JSON object and a newline per row).
    pub ndjson: Vec<u8>,
}

/// What one snapshot read: the org's tables at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub org: OrgId,
    /// The snapshot transaction's `now()`.
    pub time: DateTime<Utc>,
    pub tables: Vec<TableFile>,
}

impl Snapshot {
    /// Rows per table (what the audit event records).
    pub fn counts(&self) -> serde_json::Value {
        self.tables
            .iter()
            .map(|t| (t.table.to_owned(), serde_json::Value::from(t.rows)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `manifest.json` of a snapshot.
pub fn manifest(snapshot: &Snapshot) -> serde_json::Value {
    let tables: Vec<serde_json::Value> = snapshot
        .tables
        .iter()
        .map(|t| {
            serde_json::json!({
                "table": t.table,
                "file": format!("tables/{}.ndjson", t.table),
                "rows": t.rows,
                "sha256": hex(&Sha256::digest(&t.ndjson)),
                "columns": t.columns,
            })
        })
        .collect();
    serde_json::json!({
        "format_version": FORMAT_VERSION,
        "org_id": snapshot.org.to_string(),
        "snapshot_time": snapshot.time.to_rfc3339_opts(SecondsFormat::Micros, true),
        "tables": tables,
    })
}

/// The ZIP archive of a snapshot.
pub fn build(snapshot: &Snapshot) -> Result<Vec<u8>, ExportError> {
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("manifest.json", options)?;
    let manifest = serde_json::to_vec_pretty(&manifest(snapshot)).map_err(std::io::Error::from)?;
    zip.write_all(&manifest)?;
    for t in &snapshot.tables {
        zip.start_file(format!("tables/{}.ndjson", t.table), options)?;
        zip.write_all(&t.ndjson)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// The SHA-256 of a whole archive.
pub fn sha256(archive: &[u8]) -> Vec<u8> {
    Sha256::digest(archive).to_vec()
}
