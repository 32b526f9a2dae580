#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt as _};

use super::*;

/// A buffer both formats write into.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Buffer {
    /// The lines written, each without its timestamp (a line a message's
    /// newline started has none).
    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| match l.get(..27) {
                Some(time) if &time[4..5] == "-" && &time[10..11] == "T" && time.ends_with('Z') => {
                    l[27..].to_owned()
                }
                _ => format!("(continued) {l}"),
            })
            .collect()
    }
}

#[derive(Debug)]
struct Outer(std::io::Error);

impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("outer failed")
    }
}

impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Events of every kind the server writes, and some it should never
/// write plainly.
fn emit() {
    let span = tracing::info_span!(
        "request",
        method = "/ochre.v1.ConversationService/GetConversation",
        request_id = "01a25328-37f7-7546-ad95-74f1e525183a",
        org_id = tracing::field::Empty,
        principal = tracing::field::Empty,
    );
    let _entered = span.enter();
    span.record("principal", "user");
    span.record("org_id", tracing::field::display("01a25326-e3f0"));
    tracing::info!(target: "ochre::access", method = "/a/B", code = "OK",
        latency_ms = 5.844_359_000_000_001_f64, org_id = Some("o"), principal = None::<&str>,
        client = Some(tracing::field::display("127.0.0.1")), "access");
    let inner = tracing::debug_span!("db.transaction", n = 3_u64, ok = true, neg = -7_i64);
    let _inner = inner.enter();
    tracing::warn!(
        quoted = "say \"hi\"",
        newline = "a\nb",
        tab = "a\tb",
        slash = "a\\b",
        unicode = "café",
        esc = "\x1b[31mred",
        empty = "",
        "plain message"
    );
    tracing::error!(
        error = &Outer(std::io::Error::other("inner cause")) as &dyn std::error::Error,
        "failed: {}",
        "with \x1b[2J args\nand a newline"
    );
    tracing::trace!(r#type = "kind", value = ?vec![1, 2], shown = %"disp \"q\"");
    drop(_inner);
    let empty = tracing::info_span!("empty");
    let _e = empty.enter();
    tracing::info!("\u{85}c1 control and \x7f");
    tracing::info!(float = 1e-7_f64, big = u64::MAX, "");
    tracing::info!(message = "a str message, \x1b and \u{9b} in it", n = 1);
    tracing::info!(log.x = 1, a = 2);
    // A record of the `log` crate (as rustls writes them).
    tracing_log::format_trace(
        &log::Record::builder()
            .args(format_args!("a log record, {}", "with args"))
            .level(log::Level::Warn)
            .target("rustls::conn")
            .module_path(Some("rustls::conn"))
            .file(Some("conn.rs"))
            .line(Some(7))
            .build(),
    )
    .unwrap();
}

#[test]
fn lines_are_byte_for_byte_those_of_the_full_format() {
    let (full, line) = (Buffer::default(), Buffer::default());
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(full.clone()),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .fmt_fields(LineFields)
                .event_format(LineFormat)
                .with_writer(line.clone()),
        )
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::with_default(subscriber, emit);
    let (full, line) = (full.lines(), line.lines());
    assert_eq!(full.len(), 10, "{full:#?}");
    assert!(line[8].ends_with(" a=2"), "{}", line[8]);
    assert!(line[9].contains("WARN request{"), "{}", line[9]);
    assert!(
        line[9].ends_with("rustls::conn: a log record, with args"),
        "{}",
        line[9]
    );
    assert_eq!(full, line);
    // The fast path was taken for some and not for others.
    assert!(line[0].contains(r#"method="/a/B" code="OK" latency_ms=5.844359000000001"#));
    assert!(
        line[1].contains(r#"quoted="say \"hi\"" newline="a\nb""#),
        "{}",
        line[1]
    );
    assert!(line[2].contains(r"\x1b[2J"), "{}", line[2]);
}

#[test]
fn times_match_a_calendar() {
    use chrono::{DateTime, Utc};
    for secs in [
        0_i64,
        951_782_400,   // 2000-02-29
        1_798_675_199, // 2026-12-31T23:59:59
        4_107_542_400, // 2100-03-01
        253_402_300_799,
    ] {
        for micros in [0_u32, 7, 999_999] {
            let t = std::time::UNIX_EPOCH + std::time::Duration::new(secs as u64, micros * 1000);
            let mut ours = String::new();
            write_time(&mut Writer::new(&mut ours), t).unwrap();
            let want = DateTime::<Utc>::from(t)
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            assert_eq!(ours, want);
        }
    }
}
