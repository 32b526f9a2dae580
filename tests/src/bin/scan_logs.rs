//! `ochre-scan-logs [dir]`: scans the captured server logs of a test run
//! (default `target/test-logs`) for the fixed canary set; exits 1 with
//! each finding when one is there.

#![allow(clippy::print_stdout)]

use std::{path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-logs")
        });
    let files = count_files(&dir);
    let findings = ochre_tests::logs::scan(&dir);
    for f in &findings {
        println!(
            "{}: {} ({}) in: {}",
            f.file.display(),
            f.what,
            f.form,
            f.line
        );
    }
    println!(
        "ochre-scan-logs: {files} log files under {}, {} canary findings",
        dir.display(),
        findings.len()
    );
    if findings.is_empty() && files > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { count_files(&p) } else { 1 }
                })
                .sum()
        })
        .unwrap_or(0)
}
