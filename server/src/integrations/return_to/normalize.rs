//! Normalisation of a `return_to` before its same-origin check.

use url::Url;

/// Decodes percent-escapes of unreserved characters (RFC 3986 2.3: ALPHA,
/// DIGIT, `-`, `.`, `_`, `~`), which mean the same decoded, so `%2e%2e` is
/// seen as the `..` it is. Other escapes stay (the caller has already
/// refused malformed and suspicious ones).
pub(super) fn decode_unreserved(candidate: &str) -> String {
    let bytes = candidate.as_bytes();
    let mut out = String::with_capacity(candidate.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| candidate.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        match escaped {
            Some(b) => {
                out.push(char::from(b));
                i += 3;
            }
            None => {
                out.push(char::from(bytes[i]));
                i += 1;
            }
        }
    }
    out
}

/// Collapses repeated slashes in the path of a parsed URL (its dot segments
/// are already resolved). False, and the URL untouched, when the path starts
/// with `//`: a client that uses the path alone would send the browser to
/// another host.
pub(super) fn path(url: &mut Url) -> bool {
    if url.path().starts_with("//") {
        return false;
    }
    if url.path().contains("//") {
        let mut collapsed = String::with_capacity(url.path().len());
        for c in url.path().chars() {
            if !(c == '/' && collapsed.ends_with('/')) {
                collapsed.push(c);
            }
        }
        url.set_path(&collapsed);
    }
    true
}
