//! The log sink of the `ochre` process: each event's bytes are handed to one
//! background thread, which redacts them ([`super::redact::redact`]) and
//! writes them to standard error, many lines per write when they come
//! faster than they are written. A request's worker thread never runs the
//! redaction patterns and never waits on a slow terminal, pipe or disk.
//!
//! Nothing is dropped: the queue is bounded and a writer that finds it full
//! waits (back pressure, as a direct write would). [`LogGuard`] flushes
//! what is queued when the process ends; if the thread is gone, a line is
//! redacted and written where it was made.

use std::{
    io::Write,
    sync::{
        OnceLock,
        mpsc::{Receiver, SyncSender, sync_channel},
    },
    time::Duration,
};

use tracing_subscriber::fmt::MakeWriter;

use super::redact::redact;

/// Lines that may wait for the thread before a writer blocks.
const QUEUE: usize = 16_384;

/// How long the guard waits for the queue to drain at exit.
const FLUSH_WAIT: Duration = Duration::from_secs(5);

/// After each batch the thread rests this long before it looks again, so
/// that under load lines gather into batches and a writer never has to
/// wake the thread (a futex call and a context switch per line, a tenth of
/// the server's CPU on a busy read path); idle, the thread sleeps in
/// `recv` and the first line wakes it. Under load it wakes 100 times a
/// second (not 500, as with 2 ms: on 2 shared cores each wake-up takes a
/// core from a request for a moment); a line reaches standard error at
/// most this much later, and [`flush`] and the guard still wait for it.
const BATCH_WINDOW: Duration = Duration::from_millis(10);

enum Message {
    Line(Vec<u8>),
    /// Write out everything queued before this, then answer.
    Flush(SyncSender<()>),
}

/// The subscriber's writer factory.
#[derive(Debug, Clone)]
pub struct BackgroundStderr {
    queue: SyncSender<Message>,
}

/// Flushes the queued lines when dropped (hold it until the process ends).
#[derive(Debug)]
#[must_use = "lines still queued are lost unless the guard is dropped at exit"]
pub struct LogGuard {
    queue: Option<SyncSender<Message>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Message::Line(_) => "Line",
            Message::Flush(_) => "Flush",
        })
    }
}

/// The process's queue, for [`flush`].
static PROCESS_QUEUE: OnceLock<SyncSender<Message>> = OnceLock::new();

/// Starts the thread. Without a thread (the OS refused one), lines are
/// written where they are made.
pub fn stderr() -> (BackgroundStderr, LogGuard) {
    let (queue, lines) = sync_channel(QUEUE);
    let started = std::thread::Builder::new()
        .name("ochre-log".into())
        .spawn(move || drain(&lines, std::io::stderr()));
    if started.is_ok() {
        let _ = PROCESS_QUEUE.set(queue.clone());
    }
    let guard = LogGuard {
        queue: started.is_ok().then(|| queue.clone()),
    };
    (BackgroundStderr { queue }, guard)
}

/// Waits until every line logged so far is written: before something is
/// printed to standard error directly, so that it comes after them.
pub fn flush() {
    if let Some(queue) = PROCESS_QUEUE.get() {
        flush_queue(queue);
    }
}

fn flush_queue(queue: &SyncSender<Message>) {
    let (done, flushed) = sync_channel(1);
    if queue.send(Message::Flush(done)).is_ok() {
        let _ = flushed.recv_timeout(FLUSH_WAIT);
    }
}

/// The thread: one redacted write per batch of queued lines, at most one
/// batch per [`BATCH_WINDOW`].
fn drain(lines: &Receiver<Message>, sink: impl Write) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, sink);
    while let Ok(first) = lines.recv() {
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Line(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    // A log write that fails has nowhere to report to.
                    let _ = out.write_all(redact(&text).as_bytes());
                }
                Message::Flush(done) => {
                    let _ = out.flush();
                    let _ = done.send(());
                }
            }
            next = lines.try_recv().ok();
        }
        let _ = out.flush();
        std::thread::sleep(BATCH_WINDOW);
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(queue) = self.queue.take() {
            flush_queue(&queue);
        }
    }
}

/// One event's bytes, queued on drop.
#[derive(Debug)]
pub struct QueuedLine {
    buffer: Vec<u8>,
    queue: SyncSender<Message>,
}

impl Write for QueuedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for QueuedLine {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let bytes = std::mem::take(&mut self.buffer);
        if let Err(failed) = self.queue.send(Message::Line(bytes))
            && let Message::Line(bytes) = failed.0
        {
            let text = String::from_utf8_lossy(&bytes);
            let _ = std::io::stderr().write_all(redact(&text).as_bytes());
        }
    }
}

impl<'a> MakeWriter<'a> for BackgroundStderr {
    type Writer = QueuedLine;

    fn make_writer(&'a self) -> Self::Writer {
        QueuedLine {
            buffer: Vec::with_capacity(256),
            queue: self.queue.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read after the thread wrote to it.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn queued_lines_are_redacted_written_in_order_and_flushed_by_the_guard() {
        let (queue, lines) = sync_channel(4);
        let sink = Shared::default();
        let thread = {
            let sink = sink.clone();
            std::thread::spawn(move || drain(&lines, sink))
        };
        let writer = BackgroundStderr {
            queue: queue.clone(),
        };
        for n in 0..100 {
            let mut line = writer.make_writer();
            let _ = writeln!(line, "line {n} authorization: Bearer FAKEtoken{n}abcdef");
        }
        drop(LogGuard {
            queue: Some(queue.clone()),
        });
        let written = String::from_utf8(sink.0.lock().map(|b| b.clone()).unwrap_or_default())
            .unwrap_or_default();
        let lines: Vec<&str> = written.lines().collect();
        assert_eq!(lines.len(), 100, "every line, none lost: {written}");
        for (n, line) in lines.iter().enumerate() {
            assert!(line.starts_with(&format!("line {n} ")), "in order: {line}");
            assert!(!line.contains("FAKEtoken"), "redacted: {line}");
        }
        drop((writer, queue));
        assert!(thread.join().is_ok(), "the thread ends with its senders");
    }
}
