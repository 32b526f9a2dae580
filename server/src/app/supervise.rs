//! The embedded cluster, supervised. When its postmaster is gone (killed,
//! crashed, out of memory), `ochre serve` starts it again on the same data
//! directory and port: Postgres's crash recovery replays its log, so every
//! committed transaction is back, and the pools reconnect on their own.
//! Health says NOT_SERVING from the moment the postmaster is found gone
//! until its probe passes again, and calls answer UNAVAILABLE meanwhile. An operator's database is not ours to restart; the pools
//! reconnect to it once it is back.

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio::sync::{Notify, watch};

use crate::pg::Cluster;

/// How often the postmaster is looked for.
const EVERY: Duration = Duration::from_secs(1);

/// The longest wait between two failed restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Restarts the cluster under `root` whenever its postmaster is gone (and
/// tells the health loop through `died`), until `stop` turns true.
pub(super) async fn supervise(root: PathBuf, died: Arc<Notify>, mut stop: watch::Receiver<bool>) {
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
        died.notify_one();
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
