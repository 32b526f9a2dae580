//! The same read driven by h2load (nghttp2's HTTP/2 load generator, written
//! in C), as the issue's own measurement was: a much lighter client than
//! tonic, so less of the 2 cores goes to generating load. h2load cannot
//! vary the body, so every call reads one conversation, and it counts HTTP
//! 200s (a gRPC error is a 200 with a `grpc-status` trailer): the same
//! request is made with tonic before and after the run and must succeed,
//! and a token that could expire during the run is never used (15 minutes).
//! Skipped when `h2load` is not installed (`apt-get install nghttp2-client`).

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};

use super::{
    child::ServerChild,
    cpu::{self, PerCall},
    load::{self, Target},
    step,
};

/// What h2load reports.
#[derive(Debug, Clone, Copy)]
pub struct H2load {
    /// Requests per second over the measured time.
    pub rps: f64,
    /// Requests that got a 2xx.
    pub succeeded: u64,
    /// Requests that failed or errored.
    pub failed: u64,
    /// Mean time per request (ms).
    pub mean_ms: f64,
}

/// Connections × streams per connection: 32 in flight, as the tonic shapes.
pub const CONNECTIONS: u32 = 4;
pub const STREAMS: u32 = 8;

/// The h2load binary, when installed.
pub fn binary() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/h2load");
    path.exists().then_some(path)
}

/// A GetConversationRequest{conversation_id} as one gRPC message frame
/// (field 1, a string of 36 bytes; uncompressed).
pub(super) fn frame(id: &str) -> anyhow::Result<Vec<u8>> {
    let len = u8::try_from(id.len()).context("id length")?;
    if len >= 0x80 {
        bail!("id too long for a one-byte length");
    }
    let mut message = vec![0x0a, len];
    message.extend_from_slice(id.as_bytes());
    let mut out = vec![0u8];
    out.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
    out.extend_from_slice(&message);
    Ok(out)
}

/// `h2load` against `port` for `duration` after a 1 s warm-up.
pub fn run(
    bin: &PathBuf,
    port: u16,
    t: &Target,
    id: &str,
    duration: Duration,
) -> anyhow::Result<H2load> {
    let body = std::env::temp_dir().join(format!("ochre-h2load-{}.bin", std::process::id()));
    std::fs::write(&body, frame(id)?).context("write the request body")?;
    let out = Command::new(bin)
        .args(["-c", &CONNECTIONS.to_string(), "-m", &STREAMS.to_string()])
        .args([
            "-D",
            &duration.as_secs().max(1).to_string(),
            "--warm-up-time=1",
        ])
        .arg("-d")
        .arg(&body)
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .args(["-H", &format!("authorization: Bearer {}", t.token)])
        .args(["-H", &format!("x-ochre-org: {}", t.org)])
        .arg(format!(
            "http://127.0.0.1:{port}/ochre.v1.ConversationService/GetConversation"
        ))
        .output()
        .context("run h2load")?;
    let _ = std::fs::remove_file(&body);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("h2load failed: {text}");
    }
    parse(&text).with_context(|| format!("h2load output: {text}"))
}

/// Reads `finished in …, R req/s`, `requests: … S succeeded, F failed, E
/// errored` and `time for request: min max mean …`.
fn parse(text: &str) -> anyhow::Result<H2load> {
    let rps = text
        .lines()
        .find(|l| l.starts_with("finished in"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse::<f64>().ok())
        .context("req/s")?;
    let requests = text
        .lines()
        .find(|l| l.starts_with("requests:"))
        .context("requests line")?;
    let count = |word: &str| -> anyhow::Result<u64> {
        requests
            .split(", ")
            .find(|p| p.trim_end().ends_with(word))
            .and_then(|p| p.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("{word} count"))
    };
    let mean_ms = text
        .lines()
        .find(|l| l.starts_with("time for request:"))
        .and_then(|l| l.split_whitespace().nth(5))
        .map(|m| {
            if let Some(us) = m.strip_suffix("us") {
                us.parse::<f64>().unwrap_or(0.0) / 1000.0
            } else if let Some(ms) = m.strip_suffix("ms") {
                ms.parse::<f64>().unwrap_or(0.0)
            } else {
                m.trim_end_matches('s').parse::<f64>().unwrap_or(0.0) * 1000.0
            }
        })
        .unwrap_or(0.0);
    Ok(H2load {
        rps,
        succeeded: count("succeeded")?,
        failed: count("failed")? + count("errored")?,
        mean_ms,
    })
}

/// GetConversation from h2load against `server` for `d` (when h2load is
/// installed): its figures and its CPU per call, with a checked call before
/// and after.
pub async fn measure(
    server: &ServerChild,
    target: &Target,
    postmaster: u32,
    d: Duration,
    start: Instant,
) -> anyhow::Result<Option<(H2load, PerCall)>> {
    let Some(bin) = binary() else {
        println!("  h2load not installed (apt-get install nghttp2-client): skipped");
        return Ok(None);
    };
    step(start, "GetConversation closed loop from h2load");
    let id = target.ids.first().context("a conversation")?.clone();
    let check = server.channels(1).await?;
    load::check_get(check[0].clone(), target, &id).await?;
    let (port, t, i) = (server.port, target.clone(), id.clone());
    let task = tokio::task::spawn_blocking(move || run(&bin, port, &t, &i, d));
    // h2load warms up for a second before it counts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = cpu::Snapshot::take(server.pid(), postmaster);
    let h = task.await.context("h2load task")??;
    let used = before.per_call(&cpu::Snapshot::take(server.pid(), postmaster), h.rps);
    load::check_get(check[0].clone(), target, &id).await?;
    println!("  h2load: {h:?}");
    Ok(Some((h, used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2load_output_is_read() {
        let text = "finished in 8.00s, 4123.50 req/s, 1.2MB/s\n\
                    requests: 32988 total, 33020 started, 32988 done, 32980 succeeded, 8 failed, 0 errored, 0 timeout\n\
                    time for request:      1.10ms     30.20ms      7.61ms      2.10ms    70.00%\n";
        let h = parse(text).expect("parsed");
        assert!((h.rps - 4123.5).abs() < 1e-9);
        assert_eq!((h.succeeded, h.failed), (32980, 8));
        assert!((h.mean_ms - 7.61).abs() < 1e-9);
    }

    #[test]
    fn a_request_frame_is_a_grpc_message() {
        let f = frame("01234567-89ab-cdef-0123-456789abcdef").expect("frame");
        assert_eq!(&f[..5], &[0, 0, 0, 0, 38]);
        assert_eq!(&f[5..7], &[0x0a, 36]);
    }
}
