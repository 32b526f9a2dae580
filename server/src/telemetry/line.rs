//! The human log line, written with less work per line than
//! tracing-subscriber's `Full` format (which paints every field name and
//! separator through an ANSI style even with colours off, and formats
//! every value through `fmt::Debug`), and byte for byte the same text:
//! `2026-12-08T00:57:54.428872Z  INFO request{method="…"}: target: message
//! name="value" n=1`. Plain string values (printable ASCII, no quote or
//! backslash, which `Debug` would escape) are copied as they are; anything
//! else, the message (ANSI escapes sanitised) and errors with their sources
//! go through tracing-subscriber's own visitor; a `log` crate record shows
//! its own target and level. The tests compare both formats on the same
//! events.

use std::fmt::{self, Write as _};

use tracing::{Event, Level, Subscriber, field::Field};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::{
    field::{MakeVisitor, RecordFields, Visit, VisitOutput as _},
    fmt::{
        FmtContext, FormatEvent, FormatFields,
        format::{DefaultVisitor, Writer},
    },
    registry::LookupSpan,
};

/// The fields of events and spans (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct LineFields;

/// The line of an event: time, level, spans, target, fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineFormat;

impl<'writer> FormatFields<'writer> for LineFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = LineVisitor {
            writer,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

impl<'a> MakeVisitor<Writer<'a>> for LineFields {
    type Visitor = LineVisitor<'a>;
    fn make_visitor(&self, writer: Writer<'a>) -> Self::Visitor {
        LineVisitor {
            writer,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// Writes `name=value` pairs separated by spaces.
#[derive(Debug)]
pub struct LineVisitor<'a> {
    writer: Writer<'a>,
    is_empty: bool,
    result: fmt::Result,
}

impl LineVisitor<'_> {
    fn pad(&mut self) -> fmt::Result {
        if std::mem::take(&mut self.is_empty) {
            Ok(())
        } else {
            self.writer.write_char(' ')
        }
    }

    /// tracing-subscriber's own visitor, for `r#` names and errors (never a
    /// `log.*` field: those write nothing and are skipped before).
    fn fallback(&mut self, visit: impl FnOnce(&mut DefaultVisitor<'_>)) {
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        visit(&mut visitor);
        self.is_empty = false;
        self.result = self.result.and(visitor.finish());
    }
}

/// A value `Debug` would print as `"value"` unchanged.
fn plain(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// Names tracing-subscriber's visitor treats specially (`record_debug`
/// handles each).
fn special(name: &str) -> bool {
    name == "message" || name.starts_with("r#") || name.starts_with("log.")
}

impl Visit for LineVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let name = field.name();
        if self.result.is_err() || !plain(value) || special(name) {
            // As tracing-subscriber's visitor does: a message as its text,
            // anything else as its `Debug`.
            return match name {
                "message" => self.record_debug(field, &format_args!("{value}")),
                _ => self.record_debug(field, &value),
            };
        }
        self.result = self.pad().and_then(|()| {
            self.writer.write_str(name)?;
            self.writer.write_str("=\"")?;
            self.writer.write_str(value)?;
            self.writer.write_char('"')
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_ok() {
            self.fallback(|v| v.record_error(field, value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        if name.starts_with("log.") {
            // A `log` record's metadata, shown in the line's head instead.
            return;
        }
        if name == "message" {
            // As tracing-subscriber writes it: the value's `Debug` (a
            // message's is its text) with ANSI and C1 controls escaped.
            self.result = self.pad().and_then(|()| {
                write!(
                    Sanitising {
                        inner: &mut self.writer
                    },
                    "{value:?}"
                )
            });
            return;
        }
        if name.starts_with("r#") {
            return self.fallback(|v| v.record_debug(field, value));
        }
        self.result = self
            .pad()
            .and_then(|()| write!(self.writer, "{name}={value:?}"));
    }
}

/// Escapes what tracing-subscriber's `EscapeGuard` escapes (ESC, BEL, BS,
/// FF, DEL and the C1 controls), the same way; text without any of them,
/// the usual case, is passed on whole instead of a character at a time.
struct Sanitising<'a, 'b> {
    inner: &'a mut Writer<'b>,
}

impl fmt::Write for Sanitising<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let escaped = |c: char| {
            matches!(
                c,
                '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}'
            )
        };
        if !s.chars().any(escaped) {
            return self.inner.write_str(s);
        }
        for c in s.chars() {
            match c {
                '\u{80}'..='\u{9f}' => write!(self.inner, "\\u{{{:x}}}", c as u32)?,
                c if escaped(c) => write!(self.inner, "\\x{:02x}", c as u32)?,
                c => self.inner.write_char(c)?,
            }
        }
        Ok(())
    }
}

impl<S> FormatEvent<S, LineFields> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, LineFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // A `log` crate record's own target and level, as `Full` shows them.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        write_time(&mut writer, std::time::SystemTime::now())?;
        writer.write_str(match *meta.level() {
            Level::TRACE => " TRACE ",
            Level::DEBUG => " DEBUG ",
            Level::INFO => "  INFO ",
            Level::WARN => "  WARN ",
            Level::ERROR => " ERROR ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                seen = true;
                let ext = span.extensions();
                if let Some(fields) =
                    ext.get::<tracing_subscriber::fmt::FormattedFields<LineFields>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            if seen {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// `2026-12-08T00:57:54.428872Z`, as tracing-subscriber writes the time
/// (UTC, microseconds).
fn write_time(writer: &mut Writer<'_>, now: std::time::SystemTime) -> fmt::Result {
    // Before 1970 or after 9999: rare enough for chrono (the same text).
    let other = |writer: &mut Writer<'_>| {
        let t = chrono::DateTime::<chrono::Utc>::from(now);
        write!(writer, "{}", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    };
    let Ok(since) = now.duration_since(std::time::UNIX_EPOCH) else {
        return other(writer);
    };
    let (secs, micros) = (since.as_secs() as i64, since.subsec_micros());
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return other(writer);
    }
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, width: usize, mut n: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u64);
    put(5, 2, u64::from(month));
    put(8, 2, u64::from(day));
    put(11, 2, (rem / 3600) as u64);
    put(14, 2, (rem / 60 % 60) as u64);
    put(17, 2, (rem % 60) as u64);
    put(20, 6, u64::from(micros));
    // Only ASCII digits and separators were written.
    writer.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[path = "line_tests.rs"]
mod tests;
