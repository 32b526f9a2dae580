//! For trying load shapes by hand: with `BENCH_HOLD=<dir>`, `read-path`
//! stops after its first warm-up and writes, into `<dir>`, `h2load.sh`
//! (h2load's GetConversation against the running server; h2load's own
//! arguments such as `-c 1 -m 32 -D 6` are passed through) and
//! `pgbench.sh` (pgbench's same read transaction; its arguments passed
//! through), then waits until `<dir>/body.bin` is removed and goes on.
//! The directory and files are its owner's alone (they hold an access
//! token, valid 15 minutes from the run's sign-in, and the app role's
//! password).

use std::{
    io::Write as _,
    os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _},
    path::PathBuf,
    time::Duration,
};

use anyhow::Context as _;
use ochre_tests::cluster::TestCluster;
use secrecy::ExposeSecret as _;

use super::{h2load, load::Target};
use ochre_server::pg;

/// Writes `bytes` to a new file at `path` that only its owner can read or
/// run (it holds an access token and a database password): a file already
/// there is removed first, never written through.
fn private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("remove {}", path.display()));
        }
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("write {}", path.display()))
}

/// Holds the run when `BENCH_HOLD` is set (see the module's doc).
pub async fn hold(
    port: u16,
    t: &Target,
    cluster: &TestCluster,
    db: &str,
    script: &str,
) -> anyhow::Result<()> {
    let Some(dir) = std::env::var_os("BENCH_HOLD").map(PathBuf::from) else {
        return Ok(());
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .context("BENCH_HOLD directory")?;
    let id = t.ids.first().context("a conversation")?;
    let body = dir.join("body.bin");
    private(&body, &h2load::frame(id)?)?;
    let h2 = format!(
        "#!/bin/sh\nexec h2load -d '{}' -H 'content-type: application/grpc' -H 'te: trailers' \
         -H 'authorization: Bearer {}' -H 'x-ochre-org: {}' \"$@\" \
         http://127.0.0.1:{port}/ochre.v1.ConversationService/GetConversation\n",
        body.display(),
        t.token,
        t.org
    );
    let sql = dir.join("pgbench.sql");
    private(&sql, script.as_bytes())?;
    let pgbench = format!(
        "#!/bin/sh\nPGPASSWORD='{}' exec pgbench -n -M prepared -f '{}' -h '{}' -p {} -U {} \"$@\" {db}\n",
        cluster.creds.app.expose_secret(),
        sql.display(),
        cluster.socket_dir.display(),
        cluster.port,
        pg::APP_ROLE,
    );
    for (name, text) in [("h2load.sh", h2), ("pgbench.sh", pgbench)] {
        private(&dir.join(name), text.as_bytes())?;
    }
    println!("  holding: {} (remove body.bin to go on)", dir.display());
    while body.exists() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
