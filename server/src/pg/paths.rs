//! Which directories can hold the embedded cluster.

use std::path::Path;

/// Why `root` cannot hold the cluster, if it cannot: `pg_ctl` runs a shell,
/// so only characters no shell interprets are allowed, and the Unix socket
/// path under it must stay short.
pub fn path_problem(root: &Path) -> Option<&'static str> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-".contains(c);
    if root.to_str().is_none_or(|s| !s.chars().all(safe)) {
        return Some("it may only contain letters, digits and / . _ -");
    }
    if root.join("run/.s.PGSQL.65535").as_os_str().len() > 100 {
        return Some("it is too long for a Unix socket path");
    }
    None
}
