//! Finding the PostgreSQL server binaries: `OCHRE_PG_BIN_DIR`, then `PATH`,
//! then the newest `/usr/lib/postgresql/<version>/bin`.

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

fn has_all(dir: &Path) -> bool {
    NEEDED.iter().all(|b| dir.join(b).is_file())
}
