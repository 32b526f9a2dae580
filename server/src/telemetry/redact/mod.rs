//! The redaction stage every log line passes through before any sink
//! ([`RedactingWriter`] wraps the subscriber's writer and redacts each
//! event whole, so both formats, the message, event fields and span fields
//! are covered alike, and a PEM block split over several writes is still
//! seen whole):
//!
//! 1. terminal escape sequences are removed (no colour codes splitting a
//!    value from its field name, no forged lines);
//! 2. known secret values — every secret of the loaded configuration, raw
//!    and in base64 (standard and URL-safe) and hex — become
//!    `[redacted:secret]` ([`register_config`], [`register_secret`]);
//! 3. credential shapes (`shapes.rs`) are replaced;
//! 4. email addresses become `e:` + 8 hex digits of HMAC-SHA256 under a key
//!    derived from `OCHRE_SESSION_SECRET` (a random key until the
//!    configuration is loaded);
//! 5. phone numbers keep their last two digits.

mod shapes;

use std::{
    borrow::Cow,
    io::Write,
    sync::{LazyLock, RwLock},
};

use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
};
use regex::Regex;
use secrecy::{ExposeSecret as _, SecretString};
use tracing_subscriber::fmt::MakeWriter;
use zeroize::Zeroizing;

use crate::{
    config::{Config, DatabaseConfig},
    crypto::log_tag::LogTagKey,
};

/// Known values shorter than this are not registered (they would redact
/// ordinary words).
pub const MIN_KNOWN_LEN: usize = 8;

struct State {
    values: Vec<Zeroizing<String>>,
    known: Option<Regex>,
    key: LogTagKey,
    key_configured: bool,
}

static STATE: LazyLock<RwLock<State>> = LazyLock::new(|| {
    RwLock::new(State {
        values: Vec::new(),
        known: None,
        key: LogTagKey::random(),
        key_configured: false,
    })
});

static ANSI: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b").expect("a valid escape pattern")
});

/// Redacts one log line (or any text bound for a log).
pub fn redact(text: &str) -> Cow<'_, str> {
    let state = STATE
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Every escape sequence starts with ESC.
    let mut out = if text.contains('\x1b') {
        ANSI.replace_all(text, "")
    } else {
        Cow::Borrowed(text)
    };
    if let Some(known) = &state.known
        && let Cow::Owned(s) = known.replace_all(&out, "[redacted:secret]")
    {
        out = Cow::Owned(s);
    }
    if let Cow::Owned(s) = shapes::credentials(&out) {
        out = Cow::Owned(s);
    }
    let tag = |data: &[u8]| state.key.tag_hex(data);
    if let Cow::Owned(s) = shapes::emails(&out, &tag) {
        out = Cow::Owned(s);
    }
    if let Cow::Owned(s) = shapes::phones(&out) {
        out = Cow::Owned(s);
    }
    out
}

/// Adds a secret's bytes to the known values: raw (when text), base64
/// (standard and URL-safe, padded or not) and hex. Values shorter than
/// [`MIN_KNOWN_LEN`] are ignored.
pub fn register_secret_bytes(secret: &[u8]) {
    if secret.len() < MIN_KNOWN_LEN {
        return;
    }
    let mut forms: Vec<Zeroizing<String>> = Vec::new();
    if let Ok(text) = std::str::from_utf8(secret) {
        forms.push(Zeroizing::new(text.to_owned()));
        // As JSON lines escape it.
        let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
        if escaped != text {
            forms.push(Zeroizing::new(escaped));
        }
    }
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        forms.push(Zeroizing::new(engine.encode(secret)));
    }
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    forms.push(Zeroizing::new(hex.to_ascii_uppercase()));
    forms.push(Zeroizing::new(hex));
    let mut state = STATE
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let before = state.values.len();
    for form in forms {
        if !state.values.iter().any(|v| **v == *form) {
            state.values.push(form);
        }
    }
    if state.values.len() != before {
        // Longest first, so a value never leaves the tail of a longer one.
        state.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let pattern = state
            .values
            .iter()
            .map(|v| regex::escape(v))
            .collect::<Vec<_>>()
            .join("|");
        state.known = Regex::new(&pattern).ok();
    }
}

/// Adds a text secret (and, when it is base64 of a key, the key's bytes in
/// every encoding).
pub fn register_secret(secret: &SecretString) {
    let text = secret.expose_secret().trim();
    register_secret_bytes(text.as_bytes());
    for engine in [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(text) {
            register_secret_bytes(&Zeroizing::new(bytes));
            break;
        }
    }
}

/// Registers the password of a database URL and the URL itself.
pub fn register_database_url(url: &SecretString) {
    register_secret(url);
    if let Ok(parsed) = url::Url::parse(url.expose_secret())
        && let Some(password) = parsed.password()
    {
        register_secret(&SecretString::from(password.to_owned()));
        if let Some(decoded) = percent_decode(password) {
            register_secret(&SecretString::from(decoded));
        }
    }
}

/// `%XX` escapes decoded (a URL's userinfo is percent-encoded).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Registers every secret of the loaded configuration, and derives the
/// email tag key from `OCHRE_SESSION_SECRET` (the first configuration
/// registered in a process keeps it).
pub fn register_config(config: &Config) {
    let s = &config.secrets;
    register_secret_bytes(s.byok_enc_key.expose_secret());
    if let Some(previous) = &s.byok_enc_key_previous {
        register_secret_bytes(previous.expose_secret());
    }
    register_secret_bytes(s.audit_signing_key.expose_secret());
    for text in [
        Some(&s.survey_token_secret),
        s.survey_token_secret_previous.as_ref(),
        Some(&s.session_secret),
        Some(&s.oauth_state_secret),
        Some(&s.cron_secret),
    ]
    .into_iter()
    .flatten()
    {
        register_secret(text);
    }
    if let Some(token) = &config.admin.token {
        register_secret(token);
    }
    for client in config.oauth_clients.values() {
        register_secret(&client.client_secret);
    }
    if let DatabaseConfig::External {
        owner_url,
        app_url,
        service_url,
    } = &config.database
    {
        for url in [owner_url, app_url, service_url] {
            register_database_url(url);
        }
    }
    let mut state = STATE
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !state.key_configured {
        state.key = LogTagKey::derive(&s.session_secret);
        state.key_configured = true;
    }
}

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
        let clean = redact(&text);
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

#[cfg(test)]
mod tests;
