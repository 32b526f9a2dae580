//! The shapes redacted wherever they occur in a line: credentials by their
//! published formats, credentials by where they stand (URL userinfo,
//! `token=` query values, secret-named fields), email addresses (keyed
//! tags) and phone numbers (last two digits kept).

use std::{borrow::Cow, sync::LazyLock};

use regex::{Captures, Regex, RegexSet};

/// A shape with the text that replaces it (`$n` refer to its groups).
struct Rule {
    regex: Regex,
    with: &'static str,
}

fn rule(pattern: &str, with: &'static str) -> Rule {
    Rule {
        // The patterns are fixed and covered by the unit tests.
        #[allow(clippy::expect_used)]
        regex: Regex::new(pattern).expect("a valid redaction pattern"),
        with,
    }
}

/// Credentials by shape, in order (a later rule sees the earlier ones'
/// replacements, which none of them matches).
static CREDENTIALS: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    RULES
        .iter()
        .map(|(pattern, with)| rule(pattern, with))
        .collect()
});

/// All of [`CREDENTIALS`] in one automaton: one pass over a line says which
/// rules can match it (most lines match none), instead of one pass per rule.
static ANY_CREDENTIAL: LazyLock<RegexSet> = LazyLock::new(|| {
    // The patterns are fixed and covered by the unit tests.
    #[allow(clippy::expect_used)]
    RegexSet::new(RULES.iter().map(|(pattern, _)| *pattern)).expect("valid redaction patterns")
});

/// The credential shapes: (pattern, replacement).
const RULES: &[(&str, &str)] = &[
    // PEM blocks, even when the END line was cut off.
    (
        r"(?s)-----BEGIN [A-Z0-9 ]{1,40}-----(?:.*?-----END [A-Z0-9 ]{1,40}-----|(?:[A-Za-z0-9+/=\s]|\\[nr])*)",
        "[redacted:pem]",
    ),
    // URL userinfo: scheme://user:password@host.
    (
        r#"\b([A-Za-z][A-Za-z0-9+.-]{1,20}://)[^/\s@"'<>]+@"#,
        "${1}[redacted]@",
    ),
    // Ochre's own: access tokens, refresh tokens, API keys, invitations,
    // sign-in tickets; survey tokens and OAuth states (v1.<id>.<b64>…).
    (
        r"\bochre_at_v1\.[A-Za-z0-9_.-]+",
        "[redacted:ochre-access-token]",
    ),
    (
        r"\bochre_(rt|sk|inv|tk)_[A-Za-z0-9_-]{8,}",
        "[redacted:ochre-$1]",
    ),
    (
        r"\bv1\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]{16,}){1,2}",
        "[redacted:ochre-signed-token]",
    ),
    // Authorization schemes.
    (
        r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}",
        "$1 [redacted]",
    ),
    // Provider formats.
    (
        r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}",
        "[redacted:stripe-key]",
    ),
    (
        r"\bwhsec_[A-Za-z0-9+/=]{8,}",
        "[redacted:stripe-webhook-secret]",
    ),
    (r"\bxox[abposr]-[A-Za-z0-9-]{8,}", "[redacted:slack-token]"),
    (r"\bxapp-[A-Za-z0-9-]{8,}", "[redacted:slack-token]"),
    (r"\bgh[pousr]_[A-Za-z0-9]{20,}", "[redacted:github-token]"),
    (r"\bgithub_pat_[A-Za-z0-9_]{20,}", "[redacted:github-token]"),
    (
        r"\bpat-[a-z]{2}[0-9]?-[0-9A-Fa-f-]{20,}",
        "[redacted:hubspot-token]",
    ),
    (
        r"\blin_(?:api|oauth)_[A-Za-z0-9]{16,}",
        "[redacted:linear-key]",
    ),
    (
        r"\bre_[A-Za-z0-9]{6,}_[A-Za-z0-9]{12,}|\bre_[A-Za-z0-9]{20,}",
        "[redacted:resend-key]",
    ),
    (r"\bsk-[A-Za-z0-9_-]{20,}", "[redacted:openai-key]"),
    // JWTs (header and payload are base64url JSON objects).
    (
        r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
        "[redacted:jwt]",
    ),
    // Signature header values (sha256=<hex>, v1=<hex>).
    (r"\b(sha1|sha256|v0|v1)=[0-9a-fA-F]{40,}", "$1=[redacted]"),
    // Query values: ?token=…, &key=…, &signature=….
    (
        r"(?i)([?&;](?:access_token|refresh_token|id_token|token|api_key|apikey|key|signature|sig|secret|client_secret|password|code|state)=)[^&\s#'<>\\]+",
        "${1}[redacted]",
    ),
    // Fields named like secrets: token=…, "password":"…", api_key: ….
    (
        r#"(?i)\b([a-z_]*(?:token|secret|password|passwd|signature|api_?key|authorization))(["']?\s*[=:]\s*["']?)[^\s"'&,;}\]\\]+"#,
        "$1$2[redacted]",
    ),
];

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"(?i)\b[a-z0-9._%+-]+(?:@|%40)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b")
        .expect("a valid email pattern")
});

/// `+` and 8 to 15 digits (spaces, dots, dashes, brackets between them), or
/// the North American `(555) 123-4567` / `555-123-4567` forms.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"\B\+\d[\d ().-]{6,20}\d\b|(?:\(\d{3}\)\s?|\b\d{3}[-. ])\d{3}[-. ]\d{4}\b")
        .expect("a valid phone pattern")
});

/// Applies every credential shape.
pub(super) fn credentials(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    // Most lines match no rule: one forward search that may stop early
    // says so, before the search that names every rule that matches.
    if !ANY_CREDENTIAL.is_match(text) {
        return out;
    }
    let hits = ANY_CREDENTIAL.matches(text);
    if !hits.matched_any() {
        return out;
    }
    // Only the rules that match the line as it came: no replacement text
    // matches any rule, so a rule that did not match before cannot match
    // after an earlier one replaced something.
    for rule in hits.iter().filter_map(|i| CREDENTIALS.get(i)) {
        if let Cow::Owned(replaced) = rule.regex.replace_all(&out, rule.with) {
            out = Cow::Owned(replaced);
        }
    }
    out
}

/// Replaces each email address by `e:` and its keyed tag (of the address in
/// lower case, `%40` read as `@`).
pub(super) fn emails<'a>(text: &'a str, tag: &dyn Fn(&[u8]) -> String) -> Cow<'a, str> {
    // Every address has its `@` (or `%40`): a line without one has none.
    if !text.contains('@') && !text.contains("%40") {
        return Cow::Borrowed(text);
    }
    EMAIL.replace_all(text, |c: &Captures<'_>| {
        let address = c[0].replace("%40", "@").to_ascii_lowercase();
        format!("e:{}", tag(address.as_bytes()))
    })
}

/// Replaces each phone number by its last two digits.
pub(super) fn phones(text: &str) -> Cow<'_, str> {
    PHONE.replace_all(text, |c: &Captures<'_>| {
        let digits: Vec<char> = c[0].chars().filter(char::is_ascii_digit).collect();
        if c[0].starts_with('+') && !(8..=15).contains(&digits.len()) {
            return c[0].to_owned();
        }
        let last: String = digits[digits.len().saturating_sub(2)..].iter().collect();
        format!("[phone:**{last}]")
    })
}
