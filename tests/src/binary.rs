//! The `ochre` binary, for tests that run it as an operator would.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

/// The `ochre` binary: `OCHRE_BIN` (set by `make test`, which builds it
/// first), else this workspace's, built once per process when stale.
pub fn ochre_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(bin) = std::env::var_os("OCHRE_BIN") {
                return PathBuf::from(bin);
            }
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args(["build", "--quiet", "--workspace", "--bins"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build of the ochre binary failed");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
            target.join("debug/ochre")
        })
        .clone()
}
