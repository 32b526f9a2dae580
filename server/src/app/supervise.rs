//! The embedded cluster, supervised. When its postmaster is gone (killed,
//! crashed, out of memory), `ochre serve` starts it again on the same data
//! directory and port: Postgres's crash recovery replays its log, so every
//! committed transaction is back, and the pools reconnect on their own.
//! Meanwhile health says NOT_SERVING (its probe fails) and calls answer
//! UNAVAILABLE. An operator's database is not ours to restart; the pools
//! reconnect to it once it is back.

use std::{path::PathBuf, time::Duration};

use tokio::sync::watch;

use crate::pg::Cluster;

/// How often the postmaster is looked for.
const EVERY: Duration = Duration::from_secs(1);

/// The longest wait between two failed restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Restarts the cluster under `root` whenever its postmaster is gone, until
/// `stop` turns true.
pub(super) async fn supervise(root: PathBuf, mut stop: watch::Receiver<bool>) {
    let port = std::fs::read_to_string(root.join("port")).unwrap_or_default();
    let mut backoff = EVERY;
    loop {
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        if Cluster::is_running(&root) {
            backoff = EVERY;
            continue;
        }
        tracing::error!("the embedded Postgres is not running: starting it again");
        match Cluster::start(&root).await {
            Ok(cluster) => {
                if cluster.port().to_string() == port.trim() {
                    tracing::info!(port = cluster.port(), "the embedded Postgres is back");
                } else {
                    // The pools still point at the old port.
                    tracing::error!(
                        port = cluster.port(),
                        "the embedded Postgres is back on another port (its own was taken): \
                         restart `ochre serve`"
                    );
                }
                backoff = EVERY;
            }
            Err(e) => {
                backoff = (backoff * 2).min(MAX_BACKOFF);
                tracing::error!(error = %e, retry_in = ?backoff, "starting the embedded Postgres failed");
            }
        }
    }
}
