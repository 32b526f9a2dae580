//! Workspace export: the archive proven free of secrets in any encoding,
//! consistent with its manifest and the column registry, the org's own rows
//! only; who may export (and the second factor); the column registry
//! against the catalog.

mod access;
mod canaries;
mod cli;
mod registry;
mod snapshot;

use std::{collections::BTreeMap, io::Read as _};

use ochre_sdk::v1::ExportWorkspaceRequest;
use ochre_tests::prelude::*;
use sha2::{Digest as _, Sha256};
use tonic::Status;

/// The archive ExportWorkspace streams for `token` in `org`, its chunks
/// checked against the size and SHA-256 the first chunk announces.
pub async fn export(app: &TestApp, token: &str, org: &str, code: &str) -> Result<Vec<u8>, Status> {
    let request = ExportWorkspaceRequest {
        totp_code: code.to_owned(),
    };
    let mut stream = app
        .client::<ExportClient>()
        .export_workspace(with_auth(request, token, Some(org)))
        .await?
        .into_inner();
    let mut bytes = Vec::new();
    let mut announced = None;
    while let Some(chunk) = stream.message().await? {
        assert!(chunk.data.len() <= 64 * 1024, "chunks are at most 64 KiB");
        if announced.is_none() {
            assert!(
                chunk.snapshot_time.is_some(),
                "the first chunk has the time"
            );
            announced = Some((chunk.total_size, chunk.archive_sha256.clone()));
        }
        bytes.extend_from_slice(&chunk.data);
    }
    let (size, digest) = announced.expect("at least one chunk");
    assert_eq!(size, bytes.len() as u64, "announced size");
    assert_eq!(digest, Sha256::digest(&bytes).to_vec(), "announced SHA-256");
    Ok(bytes)
}

/// An unpacked archive: every file by name, and the parsed manifest.
#[derive(Debug)]
pub struct Archive {
    pub files: BTreeMap<String, Vec<u8>>,
    pub manifest: serde_json::Value,
}

pub fn unzip(bytes: &[u8]) -> Archive {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP archive");
    let mut files = BTreeMap::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).unwrap();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        files.insert(file.name().unwrap().into_owned(), content);
    }
    let manifest = serde_json::from_slice(&files["manifest.json"]).expect("manifest JSON");
    Archive { files, manifest }
}

impl Archive {
    /// The rows of one table's file, parsed.
    pub fn rows(&self, table: &str) -> Vec<serde_json::Value> {
        let file = &self.files[&format!("tables/{table}.ndjson")];
        std::str::from_utf8(file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect()
    }

    /// Every file's bytes, the manifest included, end to end.
    pub fn all_bytes(&self) -> Vec<u8> {
        self.files.values().flatten().copied().collect()
    }

    /// Checks the manifest against the files and the column registry.
    pub fn assert_consistent(&self, org: &str) {
        use ochre_server::exports::registry::TABLES;
        let m = &self.manifest;
        assert_eq!(m["format_version"], 1);
        assert_eq!(m["org_id"], org);
        let time = m["snapshot_time"].as_str().unwrap();
        time.parse::<prost_types::Timestamp>()
            .expect("RFC 3339 snapshot time");
        let tables = m["tables"].as_array().unwrap();
        let exported: Vec<_> = TABLES.iter().filter(|t| t.exported().count() > 0).collect();
        assert_eq!(tables.len(), exported.len(), "one entry per exported table");
        for (entry, spec) in tables.iter().zip(exported) {
            assert_eq!(entry["table"], spec.name);
            let file = entry["file"].as_str().unwrap();
            let bytes = &self.files[file];
            let lines = bytes.iter().filter(|b| **b == b'\n').count();
            assert_eq!(entry["rows"].as_u64().unwrap(), lines as u64, "{file} rows");
            assert_eq!(
                entry["sha256"],
                hex::encode(Sha256::digest(bytes)),
                "{file}"
            );
            let columns: Vec<&str> = spec.exported().map(|(c, _)| c).collect();
            let listed: Vec<&str> = entry["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            assert_eq!(listed, columns, "{file} columns");
            for row in self.rows(spec.name) {
                let keys: Vec<&str> = row
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                let mut want = columns.clone();
                want.sort_unstable();
                let mut keys = keys;
                keys.sort_unstable();
                assert_eq!(
                    keys, want,
                    "{file}: a row holds exactly the exported columns"
                );
            }
        }
        assert_eq!(
            self.files.len(),
            tables.len() + 1,
            "no file outside the manifest"
        );
    }
}
