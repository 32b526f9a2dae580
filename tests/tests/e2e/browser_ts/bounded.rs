//! The browser test's node run, bounded in time: a hung Chromium fails
//! the test with what node printed instead of waiting for the harness's
//! timeout.

use std::{
    process::{Command, Stdio},
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

/// Runs `command` in a process group of its own; after `limit` the group
/// is sent SIGTERM (playwright closes its browser on it), then SIGKILL,
/// and the run fails with what it printed so far, so a hung browser shows
/// its output instead of waiting for the test harness's timeout.
pub async fn bounded(command: Command, limit: Duration) -> (bool, String) {
    let mut command = tokio::process::Command::from(command);
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().expect("run node");
    let group = Pid::from_raw(child.id().expect("node's pid") as i32);
    let drain = |pipe: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>| {
        tokio::spawn(async move {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text).await;
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let (success, note) = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => (status.expect("wait for node").success(), String::new()),
        Err(_) => {
            let _ = killpg(group, Signal::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .is_err()
            {
                let _ = killpg(group, Signal::SIGKILL);
                let _ = child.wait().await;
            }
            (false, format!("\nstopped: node ran longer than {limit:?}"))
        }
    };
    let read = |task: tokio::task::JoinHandle<String>| async move {
        match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(text)) => text,
            _ => "(output not closed: a child of node still holds it)".to_owned(),
        }
    };
    let text = format!("{}\n{}{note}", read(stdout).await, read(stderr).await);
    (success, text)
}

#[tokio::test]
async fn a_browser_run_that_hangs_is_stopped_and_shows_what_it_printed() {
    let mut command = Command::new("sh");
    command.args(["-c", "echo started; sleep 300 & wait"]);
    let started = std::time::Instant::now();
    let (ok, text) = bounded(command, Duration::from_secs(2)).await;
    assert!(!ok, "{text}");
    assert!(text.contains("started"), "{text}");
    assert!(text.contains("stopped: node ran longer than 2s"), "{text}");
    // The group was stopped: its sleep did not keep the output open.
    assert!(started.elapsed() < Duration::from_secs(10), "{text}");
    assert!(!text.contains("output not closed"), "{text}");
}
