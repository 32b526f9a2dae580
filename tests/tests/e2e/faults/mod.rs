//! Faults survived with nothing acknowledged lost: each test runs a real
//! `ochre serve` process against a Postgres cluster of its own (so killing
//! it harms no other test), loads it, breaks something, and then checks
//! what the clients were told against what the database holds.

mod postgres_killed;
mod server_killed;
mod stalled;

use std::{
    os::unix::fs::PermissionsExt as _,
    path::PathBuf,
    time::{Duration, Instant},
};

use ochre_server::pg::{self, Cluster, DbCredentials};
use ochre_tests::process::DbUrls;
use secrecy::ExposeSecret as _;

/// A Postgres cluster of the test's own, under a fresh directory, with the
/// roles and a migrated database `ochre`. Stopped and removed on drop.
pub struct OwnCluster {
    pub dir: PathBuf,
    pub creds: DbCredentials,
    pub cluster: Option<Cluster>,
}

impl OwnCluster {
    pub async fn start() -> OwnCluster {
        let dir = PathBuf::from(format!(
            "/tmp/ochre-fault-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::create_dir_all(&dir).unwrap();
        // The cluster's OS user must traverse this directory.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        let cluster = Cluster::start(&dir.join("pg"))
            .await
            .expect("start a cluster");
        let creds = DbCredentials::generate();
        let superuser = cluster.superuser_url("postgres");
        pg::bootstrap(&superuser, &creds, "ochre")
            .await
            .expect("roles and database");
        let own = OwnCluster {
            dir,
            creds,
            cluster: Some(cluster),
        };
        ochre_server::db::migrate(&secrecy::SecretString::from(own.url(pg::OWNER_ROLE)))
            .await
            .expect("migrate");
        own
    }

    fn cluster(&self) -> &Cluster {
        self.cluster.as_ref().expect("the cluster is up")
    }

    /// A URL for `role` on database `ochre`.
    pub fn url(&self, role: &str) -> String {
        let password = match role {
            pg::OWNER_ROLE => &self.creds.owner,
            pg::APP_ROLE => &self.creds.app,
            _ => &self.creds.service,
        };
        self.cluster()
            .url(role, password.expose_secret(), "ochre")
            .expose_secret()
            .to_owned()
    }

    pub fn urls(&self) -> DbUrls {
        DbUrls {
            owner: self.url(pg::OWNER_ROLE),
            app: self.url(pg::APP_ROLE),
            service: self.url(pg::SERVICE_ROLE),
        }
    }

    /// SIGKILL of the postmaster (its children notice and exit on their
    /// own, as after a crash). Waits until nothing listens any more.
    pub async fn kill_postmaster(&mut self) {
        let pid_file = self.dir.join("pg/data/postmaster.pid");
        let text = std::fs::read_to_string(&pid_file).expect("postmaster.pid");
        let pid: i32 = text.lines().next().unwrap().trim().parse().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill the postmaster");
        let port = self.cluster().port();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "the killed cluster still listens"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.cluster = None;
    }

    /// Starts the cluster again on its data directory (crash recovery) and
    /// on its port. Retries while the killed backends are still exiting.
    pub async fn restart(&mut self) {
        let port_before = std::fs::read_to_string(self.dir.join("pg/port")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let cluster = loop {
            match Cluster::start(&self.dir.join("pg")).await {
                Ok(c) => break c,
                Err(e) => {
                    assert!(Instant::now() < deadline, "restart: {e}");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        };
        assert_eq!(
            cluster.port().to_string(),
            port_before.trim(),
            "the restarted cluster listens where the server expects it"
        );
        self.cluster = Some(cluster);
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        if let Some(c) = self.cluster.take() {
            let stop = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let _ = rt.block_on(c.stop());
            });
            let _ = stop.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
