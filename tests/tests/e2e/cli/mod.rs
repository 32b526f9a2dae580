//! The `ochre` binary as an operator runs it: fail-fast configuration, the
//! embedded default Postgres, data surviving a restart, recovery from a crash,
//! and a log that holds no secret. Helpers to start and stop it.

mod config_forms;
mod embedded;
mod operator;
mod server_log;
mod settings;
mod startup;
mod supervised;

use std::{
    os::unix::fs::PermissionsExt as _,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use ochre_tests::{ochre_bin, process::free_port};

/// A data directory under /tmp, which the cluster's OS user can traverse.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ochre-cli-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    dir
}

fn serve(data: &Path, port: u16) -> Child {
    serve_to(data, port, Stdio::piped())
}

/// `ochre serve` on `data` (development mode) on `port`, its log to `stderr`.
fn serve_to(data: &Path, port: u16, stderr: Stdio) -> Child {
    Command::new(ochre_bin())
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OCHRE_DATA_DIR", data)
        .env("OCHRE_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("OCHRE_ADMIN_ADDR", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn ochre serve")
}

async fn wait_serving(port: u16, child: &mut Child) {
    ochre_tests::process::wait_serving(port, child, |child| {
        let mut err = String::new();
        use std::io::Read as _;
        if let Some(mut stderr) = child.stderr.take() {
            stderr.read_to_string(&mut err).ok();
        }
        err
    })
    .await;
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "ochre did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, then `ochre` must exit 0; otherwise the panic shows its log.
fn stop_cleanly(child: &mut Child) {
    let status = terminate(child);
    if !status.success() {
        let mut log = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            use std::io::Read as _;
            stderr.read_to_string(&mut log).ok();
        }
        panic!("ochre exited with {status} after SIGTERM; its log:\n{log}");
    }
}
