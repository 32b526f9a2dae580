//! Finding the PostgreSQL server binaries: `OCHRE_PG_BIN_DIR`, then (for
//! an existing data directory) `/usr/lib/postgresql/<its version>/bin`,
//! then `PATH`, then the newest `/usr/lib/postgresql/<version>/bin`; and
//! their major version.

use std::path::{Path, PathBuf};

use super::error::ClusterError;

const NEEDED: &[&str] = &["initdb", "pg_ctl", "postgres"];

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
pub fn find_bin_dir() -> Result<PathBuf, ClusterError> {
    if let Some(dir) = std::env::var_os("OCHRE_PG_BIN_DIR") {
        let dir = PathBuf::from(dir);
        return if has_all(&dir) {
            Ok(dir)
        } else {
            Err(ClusterError::NoBinaries)
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_all(&dir) {
                // Resolve symlinks (Debian links some binaries into /usr/local/bin)
                // so that initdb finds its share directory.
                let initdb =
                    std::fs::canonicalize(dir.join("initdb")).unwrap_or(dir.join("initdb"));
                let real = initdb
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or(dir.clone());
                return Ok(if has_all(&real) { real } else { dir });
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_all(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .ok_or(ClusterError::NoBinaries)
}

/// The binaries for a data directory of PostgreSQL `data_version` (when
/// it exists already): that version's Debian directory when installed,
/// otherwise as [`find_bin_dir`].
pub fn bin_dir_for(data_version: Option<&str>) -> Result<PathBuf, ClusterError> {
    if std::env::var_os("OCHRE_PG_BIN_DIR").is_none()
        && let Some(v) = data_version
        && v.chars().all(|c| c.is_ascii_digit())
    {
        let dir = PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"));
        if has_all(&dir) {
            return Ok(dir);
        }
    }
    find_bin_dir()
}

/// The major version of the binaries in `bin` (`pg_ctl --version`:
/// `pg_ctl (PostgreSQL) 15.14 ...` is `15`).
pub async fn major_version(bin: &Path) -> Result<String, ClusterError> {
    let out = tokio::process::Command::new(bin.join("pg_ctl"))
        .arg("--version")
        .output()
        .await
        .map_err(|e| ClusterError::Command {
            step: "pg_ctl --version",
            detail: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("(PostgreSQL)")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.split('.').next())
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .ok_or_else(|| ClusterError::Command {
            step: "pg_ctl --version",
            detail: format!("unexpected output: {}", text.trim()),
        })
}

/// Whether `dir` holds `initdb`, `pg_ctl` and `postgres`.
pub fn has_binaries(dir: &Path) -> bool {
    has_all(dir)
}

fn has_all(dir: &Path) -> bool {
    NEEDED.iter().all(|b| dir.join(b).is_file())
}
