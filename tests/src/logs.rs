//! The logs of every server a test run starts, captured for one scan at the
//! end: the in-process apps of [`crate::spawn_app`] write through the
//! server's own redaction stage into `<target>/test-logs/<run id>/`, one
//! file per test process, and [`crate::process::ServerProcess`] copies the
//! binary's log there when it stops. [`scan`] looks for the fixed canary set
//! ([`CANARIES`]: markers that every credential and address the harness
//! makes carries) raw, in hex, and in base64 at each of the three byte
//! alignments. `make test` runs the scan (`ochre-scan-logs`) after the
//! suite; the `logs::` tests scan what the run has written so far.
//!
//! Capture is on under nextest (`NEXTEST_RUN_ID`) or when
//! `OCHRE_TEST_LOG_DIR` is set, never for the load generator; the filter is
//! `OCHRE_TEST_LOG`, else [`CAPTURE_FILTER`].

use std::{
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
};

use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD},
};

/// The capture filter unless `OCHRE_TEST_LOG` says otherwise: everything
/// at debug, the transport crates at info, and statements not at all (the
/// tests' own setup SQL, run in the same process, inlines its literals;
/// the server binds every value).
pub const CAPTURE_FILTER: &str =
    "debug,h2=info,hyper=info,hyper_util=info,tower=info,rustls=info,reqwest=info,sqlx=warn";

/// What no captured line may hold, by name: the fixed parts of what the
/// harness generates (passwords, addresses) and the prefixes of the
/// server's own credentials (a whole token is redacted with its prefix, so
/// a prefix in a line is a token that escaped).
pub const CANARIES: &[(&str, &str)] = &[
    ("a harness password", "-tangerine!"),
    ("a harness email address", "@example.com"),
    ("a URL-encoded harness email address", "%40example.com"),
    ("an access token", "ochre_at_v1."),
    ("a refresh token", "ochre_rt_"),
    ("an API key", "ochre_sk_"),
    ("an invitation token", "ochre_inv_"),
    ("a sign-in ticket", "ochre_tk_"),
];

/// Where this run's logs go, when capture is on.
pub fn run_dir() -> Option<PathBuf> {
    let run = std::env::var("NEXTEST_RUN_ID").ok();
    let base = match std::env::var_os("OCHRE_TEST_LOG_DIR") {
        Some(dir) => PathBuf::from(dir),
        None if run.is_some() => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-logs"),
        None => return None,
    };
    Some(base.join(run.unwrap_or_else(|| "run".to_owned())))
}

/// This test's name (nextest runs one test per process), else the pid.
pub fn test_name() -> String {
    let args: Vec<String> = std::env::args().collect();
    let name = args
        .iter()
        .position(|a| a == "--exact")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.replace("::", "."))
        .unwrap_or_else(|| "process".to_owned());
    format!("{name}.{}", std::process::id())
}

/// Routes this process's tracing output through the redaction stage into
/// its file of the run directory (once per process; a no-op when capture is
/// off or another subscriber is installed).
pub fn capture() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let Some(dir) = run_dir() else { return };
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        let Ok(file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{}.log", test_name())))
        else {
            return;
        };
        let filter = std::env::var("OCHRE_TEST_LOG").unwrap_or_else(|_| CAPTURE_FILTER.to_owned());
        ochre_server::telemetry::init_with(
            ochre_server::config::LogFormat::Human,
            &filter,
            Arc::new(file),
        );
    });
}

/// Keeps a server process's log (`text`) with the run's logs.
pub fn keep(text: &str, what: &str) {
    if let Some(dir) = run_dir()
        && std::fs::create_dir_all(&dir).is_ok()
    {
        let _ = std::fs::write(dir.join(format!("{}.{what}.log", test_name())), text);
    }
}

/// Every form of `marker` that betrays it inside a longer value: raw, hex
/// (lower and upper case), and the base64 characters (standard and
/// URL-safe) that only its bytes decide, at each of the three alignments.
pub fn forms(marker: &str) -> Vec<String> {
    let bytes = marker.as_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![marker.to_owned(), hex.to_ascii_uppercase(), hex];
    for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
        for offset in 0..3usize {
            let padded = [vec![0u8; offset], bytes.to_vec()].concat();
            let text = engine.encode(&padded);
            // Character i covers bits 6i..6i+6: decided by the marker alone
            // when they start at or after its first bit and end at or
            // before its last.
            let first = (8 * offset).div_ceil(6);
            let last = (8 * padded.len()) / 6;
            if let Some(core) = text.get(first..last)
                && core.len() >= 8
            {
                out.push(core.to_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A canary found in a captured log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub file: PathBuf,
    pub what: &'static str,
    pub form: String,
    pub line: String,
}

/// Scans every file under `dir` for [`CANARIES`].
pub fn scan(dir: &Path) -> Vec<Finding> {
    let markers: Vec<(&'static str, Vec<String>)> =
        CANARIES.iter().map(|(what, m)| (*what, forms(m))).collect();
    let mut findings = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return findings;
    };
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    for file in files {
        if file.is_dir() {
            findings.extend(scan(&file));
            continue;
        }
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines() {
            for (what, forms) in &markers {
                if let Some(form) = forms.iter().find(|f| line.contains(f.as_str())) {
                    findings.push(Finding {
                        file: file.clone(),
                        what,
                        form: form.clone(),
                        line: line.chars().take(400).collect(),
                    });
                }
            }
        }
    }
    findings
}
