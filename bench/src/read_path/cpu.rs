//! CPU time per call, by process: the server child, Postgres (every
//! `postgres` process, plus what the postmaster has reaped from backends
//! that exited), and the load generator (this process, or its waited-for
//! children: h2load, pgbench). On 2 shared cores a rate moves with whatever
//! else runs; CPU time per call does not, and it says where a call's cost
//! goes.

use std::time::Instant;

/// Clock ticks per second of `/proc/*/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU seconds so far, by who spent them.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    at: Instant,
    server: f64,
    postgres: f64,
    generator: f64,
}

/// CPU microseconds per call between two snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub struct PerCall {
    pub server_us: f64,
    pub postgres_us: f64,
    pub generator_us: f64,
}

/// (parent, utime + stime, cutime + cstime) of one process, in seconds;
/// `None` when it is gone.
fn times(pid: &str) -> Option<(u32, f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let _command = stat.get(open + 1..close)?;
    // Fields after the command: state is field 3, parent 4; utime 14,
    // stime 15, cutime 16, cstime 17 (1-based over the whole line).
    let rest: Vec<&str> = stat.get(close + 2..)?.split_whitespace().collect();
    let field = |n: usize| rest.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let parent = rest.get(1).and_then(|v| v.parse::<u32>().ok())?;
    let own = field(14)? + field(15)?;
    let reaped = field(16)? + field(17)?;
    Some((parent, own / TICKS_PER_SEC, reaped / TICKS_PER_SEC))
}

impl Snapshot {
    /// Now, for the server process `server` (0: none) and the cluster
    /// whose postmaster is `postmaster`.
    pub fn take(server: u32, postmaster: u32) -> Snapshot {
        let at = Instant::now();
        let server_s = times(&server.to_string()).map_or(0.0, |(_, own, _)| own);
        let generator = times("self").map_or(0.0, |(_, own, reaped)| own + reaped);
        let mut postgres = 0.0;
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                else {
                    continue;
                };
                let Ok(number) = pid.parse::<u32>() else {
                    continue;
                };
                match times(pid) {
                    // A backend that exited is in its postmaster's reaped time.
                    Some((_, own, reaped)) if number == postmaster => postgres += own + reaped,
                    Some((parent, own, _)) if parent == postmaster => postgres += own,
                    _ => {}
                }
            }
        }
        Snapshot {
            at,
            server: server_s,
            postgres,
            generator,
        }
    }

    /// Per call from this snapshot to `later`, at `rate` calls a second.
    pub fn per_call(&self, later: &Snapshot, rate: f64) -> PerCall {
        let calls = rate * later.at.duration_since(self.at).as_secs_f64();
        if calls < 1.0 {
            return PerCall::default();
        }
        let us = |a: f64, b: f64| (b - a).max(0.0) * 1e6 / calls;
        PerCall {
            server_us: us(self.server, later.server),
            postgres_us: us(self.postgres, later.postgres),
            generator_us: us(self.generator, later.generator),
        }
    }
}

/// The postmaster of the cluster on `port` (root reads its data directory).
pub async fn postmaster(cluster: &ochre_tests::cluster::TestCluster) -> anyhow::Result<u32> {
    use anyhow::Context as _;
    use sea_orm::{ConnectionTrait as _, Statement};
    let db = cluster.connect_superuser("postgres").await;
    let row = db
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT current_setting('data_directory') AS dir",
        ))
        .await?
        .context("data_directory")?;
    let dir: String = row.try_get("", "dir")?;
    let _ = db.close().await;
    let pid = std::fs::read_to_string(std::path::Path::new(&dir).join("postmaster.pid"))
        .context("postmaster.pid")?;
    pid.lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .context("the postmaster's pid")
}

impl PerCall {
    /// The mean of two equally long measurements.
    pub fn mean(self, other: PerCall) -> PerCall {
        PerCall {
            server_us: (self.server_us + other.server_us) / 2.0,
            postgres_us: (self.postgres_us + other.postgres_us) / 2.0,
            generator_us: (self.generator_us + other.generator_us) / 2.0,
        }
    }
}

impl std::fmt::Display for PerCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "server {:.0} µs, postgres {:.0} µs, load generator {:.0} µs",
            self.server_us, self.postgres_us, self.generator_us
        )
    }
}
