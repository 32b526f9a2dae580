//! Saving a workspace export (`ExportService.ExportWorkspace`) to a file.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use crate::v1::ExportWorkspaceResponse;

/// Why an export could not be saved.
#[derive(Debug)]
pub enum SaveExportError {
    /// The server ended the stream with an error.
    Status(tonic::Status),
    /// Writing the file failed.
    Io(std::io::Error),
    /// The bytes received do not match the size or SHA-256 the first
    /// chunk announced (a cut or corrupted transfer); nothing was saved.
    Mismatch,
}

impl std::fmt::Display for SaveExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaveExportError::Status(s) => write!(f, "export failed: {}", s.message()),
            SaveExportError::Io(e) => write!(f, "writing the export failed: {e}"),
            SaveExportError::Mismatch => {
                f.write_str("the export received does not match its announced size or SHA-256")
            }
        }
    }
}

impl std::error::Error for SaveExportError {}

/// What [`save_export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedExport {
    /// The archive's size in bytes.
    pub size: u64,
    /// The archive's SHA-256, as the server announced and this side
    /// recomputed.
    pub sha256: Vec<u8>,
}

/// Writes the chunks of an `ExportWorkspace` response stream to `path`.
///
/// The bytes go to a temporary file next to `path` (`<path>.partial`),
/// are checked against the size and SHA-256 the first chunk announces,
/// and only then renamed to `path` (replacing a file already there). On
/// any error the temporary file is removed and `path` is left untouched.
///
/// ```no_run
/// # async fn run(mut client: ochre_sdk::v1::export_service_client::ExportServiceClient<tonic::transport::Channel>) -> Result<(), Box<dyn std::error::Error>> {
/// let request = ochre_sdk::v1::ExportWorkspaceRequest { totp_code: "123456".into() };
/// let stream = client.export_workspace(request).await?.into_inner();
/// let saved = ochre_sdk::save_export(stream, "workspace.zip").await?;
/// println!("{} bytes", saved.size);
/// # Ok(()) }
/// ```
pub async fn save_export(
    stream: tonic::Streaming<ExportWorkspaceResponse>,
    path: impl AsRef<Path>,
) -> Result<SavedExport, SaveExportError> {
    let path = path.as_ref();
    let mut partial = PathBuf::from(path);
    partial.as_mut_os_string().push(".partial");
    let result = write_checked(stream, &partial).await;
    match result {
        Ok(saved) => {
            tokio::fs::rename(&partial, path)
                .await
                .map_err(SaveExportError::Io)?;
            Ok(saved)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e)
        }
    }
}

async fn write_checked(
    mut stream: tonic::Streaming<ExportWorkspaceResponse>,
    partial: &Path,
) -> Result<SavedExport, SaveExportError> {
    let mut file = tokio::fs::File::create(partial)
        .await
        .map_err(SaveExportError::Io)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut announced: Option<(u64, Vec<u8>)> = None;
    while let Some(chunk) = stream.message().await.map_err(SaveExportError::Status)? {
        if announced.is_none() {
            announced = Some((chunk.total_size, chunk.archive_sha256.clone()));
        }
        hasher.update(&chunk.data);
        size += chunk.data.len() as u64;
        file.write_all(&chunk.data)
            .await
            .map_err(SaveExportError::Io)?;
    }
    file.sync_all().await.map_err(SaveExportError::Io)?;
    let sha256 = hasher.finalize().to_vec();
    match announced {
        Some((total, digest)) if total == size && digest == sha256 => {
            Ok(SavedExport { size, sha256 })
        }
        _ => Err(SaveExportError::Mismatch),
    }
}
