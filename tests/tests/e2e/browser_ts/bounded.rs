//! The browser test's node run, bounded in time: a hung Chromium fails
//! the test with what node printed instead of waiting for the harness's
//! timeout.

use std::{
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use nix::{
    sys::signal::{Signal, killpg},
    unistd::Pid,
};
use tokio::io::AsyncReadExt as _;

/// How long one browser test may take (node's `--test-timeout`).
pub const TEST_LIMIT: Duration = Duration::from_secs(45);
/// How long the whole node run may take before it is stopped.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// How long node may take to close its browser after SIGTERM.
const GRACE: Duration = Duration::from_secs(10);

/// Runs `command` in a process group of its own. After `limit` the group
/// is sent SIGTERM (playwright closes its browser on it) and, [`GRACE`]
/// later, SIGKILL; the run then fails with what it printed so far, so a
/// hung browser shows its output instead of waiting for the test harness's
/// timeout. Whatever of the group outlives node is killed in either case.
/// (Chromium runs in a group of its own, playwright's; it exits when its
/// pipe to node closes.)
pub async fn bounded(command: Command, limit: Duration) -> (bool, String) {
    let mut command = tokio::process::Command::from(command);
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().expect("run node");
    let group = Pid::from_raw(child.id().expect("node's pid") as i32);
    let (stdout, out_task) = collect(child.stdout.take());
    let (stderr, err_task) = collect(child.stderr.take());
    let (success, mut note) = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => (status.expect("wait for node").success(), String::new()),
        Err(_) => {
            let _ = killpg(group, Signal::SIGTERM);
            let _ = tokio::time::timeout(GRACE, child.wait()).await;
            (false, format!("\nstopped: node ran longer than {limit:?}"))
        }
    };
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait().await;
    let closed = async {
        let _ = out_task.await;
        let _ = err_task.await;
    };
    if tokio::time::timeout(Duration::from_secs(5), closed)
        .await
        .is_err()
    {
        note.push_str("\n(output not closed: a process outside node's group still holds it)");
    }
    let text = |buf: &Arc<Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&buf.lock().expect("output")).into_owned()
    };
    (
        success,
        format!("{}\n{}{note}", text(&stdout), text(&stderr)),
    )
}

/// Reads `pipe` to its end into a buffer that keeps what arrived even if
/// the end never comes.
fn collect(
    pipe: Option<impl tokio::io::AsyncRead + Send + Unpin + 'static>,
) -> (Arc<Mutex<Vec<u8>>>, tokio::task::JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let into = buf.clone();
    let task = tokio::spawn(async move {
        let Some(mut pipe) = pipe else { return };
        let mut chunk = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut chunk).await {
            into.lock().expect("output").extend_from_slice(&chunk[..n]);
        }
    });
    (buf, task)
}

/// Runs `script` under `sh` with a 2 s limit and checks that it was
/// stopped in time, its group with it, and that what it printed was kept.
async fn stopped(script: &str) {
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    let started = std::time::Instant::now();
    let (ok, text) = bounded(command, Duration::from_secs(2)).await;
    assert!(!ok, "{text}");
    assert!(text.contains("started"), "{text}");
    assert!(text.contains("stopped: node ran longer than 2s"), "{text}");
    // Nothing of the group kept the output open.
    assert!(!text.contains("output not closed"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10), "{text}");
}

#[tokio::test]
async fn a_browser_run_that_hangs_is_stopped_and_shows_what_it_printed() {
    stopped("echo started; sleep 300 & wait").await;
}

#[tokio::test]
async fn what_outlives_the_run_in_its_group_is_killed_too() {
    // The shell exits on SIGTERM; its child ignores SIGTERM and would hold
    // the output open for five minutes.
    stopped("echo started; (trap '' TERM; exec sleep 300) & wait").await;
}
