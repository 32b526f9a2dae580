//! Validation of the OAuth `return_to` parameter (open-redirect defence).
//!
//! After an OAuth connect flow the browser is sent back to `return_to`. That
//! value arrives from the client, so it must never point anywhere but Ochre
//! itself: it has to be same-origin with `OCHRE_PUBLIC_URL` (scheme, host and
//! port equal after URL normalisation).
//!
//! Two shapes are accepted:
//! * an absolute path (`/settings/integrations?x=1#frag`), resolved against
//!   the public URL;
//! * an absolute `http`/`https` URL of exactly the public origin.
//!
//! The value is normalised before the check, and the normalised value is
//! what is returned: percent-escapes of unreserved characters are decoded
//! (`%2e` is `.`), dot segments are resolved, repeated slashes collapse, and
//! a path that would then start with `//` (`/..//evil.com`, `/.//evil.com`,
//! `/%2e%2e//evil.com`) is refused as scheme-relative.
//!
//! Everything ambiguous is refused before parsing, because browsers and
//! servers disagree on ambiguous input: control characters and whitespace,
//! non-ASCII, backslashes, percent-encoded `/`, `\`, `%` or control bytes
//! (which also rules out double encoding), malformed escapes, scheme-relative
//! `//host`, userinfo (`user@`), and non-http(s) schemes such as
//! `javascript:`. The error says why, but never echoes the input.

mod normalize;

use url::Url;

/// Longest `return_to` accepted, in bytes.
pub const MAX_RETURN_TO_LEN: usize = 2048;

/// Why a `return_to` was refused. The messages never contain the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReturnToError {
    /// The candidate is the empty string.
    #[error("return_to is empty")]
    Empty,
    /// Longer than [`MAX_RETURN_TO_LEN`] bytes.
    #[error("return_to is too long")]
    TooLong,
    /// Contains a control character or whitespace.
    #[error("return_to contains control characters or whitespace")]
    ControlOrWhitespace,
    /// Contains a non-ASCII character (IDN / homograph hosts included).
    #[error("return_to contains non-ASCII characters")]
    NonAscii,
    /// Contains a backslash.
    #[error("return_to contains a backslash")]
    Backslash,
    /// Percent-encodes `/`, `\`, `%` or a control byte, or has a bad escape.
    #[error("return_to contains suspicious percent-encoding")]
    SuspiciousEncoding,
    /// Starts with `//` (scheme-relative, i.e. another host).
    #[error("return_to is scheme-relative")]
    SchemeRelative,
    /// Neither an absolute path nor an absolute URL.
    #[error("return_to must be an absolute path or an absolute URL")]
    RelativePath,
    /// A scheme other than `http` or `https`.
    #[error("return_to uses a disallowed scheme")]
    DisallowedScheme,
    /// Absolute URL whose authority is malformed or that fails to parse.
    #[error("return_to is not a well-formed URL")]
    Malformed,
    /// Carries userinfo (`user:password@`), even empty.
    #[error("return_to must not carry userinfo")]
    Userinfo,
    /// Same host but a different scheme (e.g. an https to http downgrade).
    #[error("return_to scheme differs from the public URL")]
    SchemeMismatch,
    /// A host other than the public host.
    #[error("return_to host differs from the public URL")]
    HostMismatch,
    /// Same scheme and host, different port.
    #[error("return_to port differs from the public URL")]
    PortMismatch,
    /// The configured public URL itself has no http(s) origin.
    #[error("public URL has no http(s) origin")]
    PublicUrlUnusable,
}

/// Checks that `candidate` is a safe `return_to` for `public_url` and returns
/// it as an absolute URL of the public origin.
///
/// # Errors
/// A [`ReturnToError`] naming the first rule the candidate breaks.
pub fn validate_return_to(public_url: &Url, candidate: &str) -> Result<Url, ReturnToError> {
    use ReturnToError as E;
    if !is_http_scheme(public_url.scheme()) || public_url.host_str().is_none() {
        return Err(E::PublicUrlUnusable);
    }
    check_characters(candidate)?;
    let decoded = normalize::decode_unreserved(candidate);
    let candidate = decoded.as_str();

    let mut url = if let Some(rest) = candidate.strip_prefix('/') {
        if rest.starts_with('/') {
            return Err(E::SchemeRelative);
        }
        public_url.join(candidate).map_err(|_| E::Malformed)?
    } else {
        let scheme = scheme_of(candidate).ok_or(E::RelativePath)?;
        if !is_http_scheme(&scheme.to_ascii_lowercase()) {
            return Err(E::DisallowedScheme);
        }
        let after_scheme = candidate.get(scheme.len() + 1..).unwrap_or_default();
        // Exactly `scheme://` then the host: no `https:host`, no `https:///host`.
        let authority_and_rest = after_scheme
            .strip_prefix("//")
            .filter(|r| !r.is_empty() && !r.starts_with('/'))
            .ok_or(E::Malformed)?;
        let authority_end = authority_and_rest
            .find(['/', '?', '#'])
            .unwrap_or(authority_and_rest.len());
        if authority_and_rest
            .get(..authority_end)
            .is_some_and(|a| a.contains('@'))
        {
            return Err(E::Userinfo);
        }
        Url::parse(candidate).map_err(|_| E::Malformed)?
    };
    if !normalize::path(&mut url) {
        return Err(E::SchemeRelative);
    }
    check_same_origin(public_url, &url)?;
    Ok(url)
}

fn is_http_scheme(scheme: &str) -> bool {
    scheme == "http" || scheme == "https"
}

/// The RFC 3986 scheme before the first `:`, if the candidate has one.
fn scheme_of(candidate: &str) -> Option<&str> {
    let (scheme, _) = candidate.split_once(':')?;
    let mut chars = scheme.chars();
    let first_is_alpha = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_is_alpha && rest_ok).then_some(scheme)
}

/// Refusals that need no parsing: length, characters and percent-escapes.
fn check_characters(candidate: &str) -> Result<(), ReturnToError> {
    use ReturnToError as E;
    if candidate.is_empty() {
        return Err(E::Empty);
    }
    if candidate.len() > MAX_RETURN_TO_LEN {
        return Err(E::TooLong);
    }
    if candidate
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(E::ControlOrWhitespace);
    }
    if !candidate.is_ascii() {
        return Err(E::NonAscii);
    }
    if candidate.contains('\\') {
        return Err(E::Backslash);
    }
    let bytes = candidate.as_bytes();
    for (i, _) in candidate.match_indices('%') {
        let hi = bytes.get(i + 1).and_then(|b| char::from(*b).to_digit(16));
        let lo = bytes.get(i + 2).and_then(|b| char::from(*b).to_digit(16));
        let (Some(hi), Some(lo)) = (hi, lo) else {
            return Err(E::SuspiciousEncoding);
        };
        let decoded = hi * 16 + lo;
        if matches!(decoded, 0x00..=0x1f | 0x7f | 0x25 | 0x2f | 0x5c) {
            return Err(E::SuspiciousEncoding);
        }
    }
    Ok(())
}

/// Scheme, host and port (default ports filled in) must equal the public URL's;
/// userinfo must be absent.
fn check_same_origin(public_url: &Url, url: &Url) -> Result<(), ReturnToError> {
    use ReturnToError as E;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(E::Userinfo);
    }
    if url.host_str() != public_url.host_str() || url.host_str().is_none() {
        return Err(E::HostMismatch);
    }
    if url.scheme() != public_url.scheme() {
        return Err(E::SchemeMismatch);
    }
    if url.port_or_known_default() != public_url.port_or_known_default() {
        return Err(E::PortMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
