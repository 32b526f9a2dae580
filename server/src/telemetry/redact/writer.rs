//! The writer side of the redaction stage: the subscriber formats a whole
//! event into one [`RedactedLine`], which is redacted as a unit (so a PEM
//! block or a field split over several writes is still seen whole) and
//! handed to the sink when the event is done.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

/// Wraps a subscriber's writer: every event it writes is redacted first.
#[derive(Debug, Clone)]
pub struct RedactingWriter<M> {
    inner: M,
}

impl<M> RedactingWriter<M> {
    /// Redacts what the subscriber writes before `inner` sees it.
    pub const fn new(inner: M) -> Self {
        RedactingWriter { inner }
    }
}

/// One event's bytes, redacted and written to the sink on drop.
#[derive(Debug)]
pub struct RedactedLine<W: Write> {
    buffer: Vec<u8>,
    sink: W,
}

impl<W: Write> Write for RedactedLine<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactedLine<W> {
    fn drop(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let clean = super::redact(&text);
        // A log write that fails has nowhere to report to.
        let _ = self.sink.write_all(clean.as_bytes());
        let _ = self.sink.flush();
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingWriter<M> {
    type Writer = RedactedLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedLine {
            buffer: Vec::new(),
            sink: self.inner.make_writer(),
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        RedactedLine {
            buffer: Vec::new(),
            sink: self.inner.make_writer_for(meta),
        }
    }
}
