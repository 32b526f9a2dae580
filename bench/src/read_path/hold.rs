//! For trying load shapes by hand: with `BENCH_HOLD=<dir>`, `read-path`
//! stops after its first warm-up and writes, into `<dir>`, `h2load.sh`
//! (h2load's GetConversation against the running server; h2load's own
//! arguments such as `-c 1 -m 32 -D 6` are passed through) and
//! `pgbench.sh` (pgbench's same read transaction; its arguments passed
//! through), then waits until `<dir>/body.bin` is removed and goes on.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use ochre_tests::cluster::TestCluster;
use secrecy::ExposeSecret as _;

use super::{h2load, load::Target};
use ochre_server::pg;

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
    std::fs::create_dir_all(&dir).context("BENCH_HOLD directory")?;
    let id = t.ids.first().context("a conversation")?;
    let body = dir.join("body.bin");
    std::fs::write(&body, h2load::frame(id)?).context("write the request body")?;
    let h2 = format!(
        "#!/bin/sh\nexec h2load -d {} -H 'content-type: application/grpc' -H 'te: trailers' \
         -H 'authorization: Bearer {}' -H 'x-ochre-org: {}' \"$@\" \
         http://127.0.0.1:{port}/ochre.v1.ConversationService/GetConversation\n",
        body.display(),
        t.token,
        t.org
    );
    let sql = dir.join("pgbench.sql");
    std::fs::write(&sql, script).context("write pgbench.sql")?;
    let pgbench = format!(
        "#!/bin/sh\nPGPASSWORD='{}' exec pgbench -n -M prepared -f {} -h {} -p {} -U {} \"$@\" {db}\n",
        cluster.creds.app.expose_secret(),
        sql.display(),
        cluster.socket_dir.display(),
        cluster.port,
        pg::APP_ROLE,
    );
    for (name, text) in [("h2load.sh", h2), ("pgbench.sh", pgbench)] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("write {name}"))?;
        let mut perms = std::fs::metadata(&path)?.permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
        std::fs::set_permissions(&path, perms)?;
    }
    println!("  holding: {} (remove body.bin to go on)", dir.display());
    while body.exists() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
