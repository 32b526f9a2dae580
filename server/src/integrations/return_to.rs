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
//! Everything ambiguous is refused before parsing, because browsers and
//! servers disagree on ambiguous input: control characters and whitespace,
//! non-ASCII, backslashes, percent-encoded `/`, `\`, `%` or control bytes
//! (which also rules out double encoding), malformed escapes, scheme-relative
//! `//host`, userinfo (`user@`), and non-http(s) schemes such as
//! `javascript:`. The error says why, but never echoes the input.

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

    let url = if let Some(rest) = candidate.strip_prefix('/') {
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
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng as _, SeedableRng as _};

    fn public() -> Url {
        Url::parse("https://app.ochre.test/").unwrap()
    }

    #[test]
    fn the_table_of_accepted_and_refused_candidates_holds() {
        use ReturnToError as E;
        let ok = |s: &'static str| (s, Ok(s));
        let long_path = format!("/{}", "a".repeat(MAX_RETURN_TO_LEN));
        let cases: Vec<(&str, Result<&str, E>)> = vec![
            (
                "/settings/integrations?x=1#frag",
                Ok("https://app.ochre.test/settings/integrations?x=1#frag"),
            ),
            ("/", Ok("https://app.ochre.test/")),
            ("/a/../b", Ok("https://app.ochre.test/b")),
            (
                "/caf%C3%A9?q=a%20b",
                Ok("https://app.ochre.test/caf%C3%A9?q=a%20b"),
            ),
            ok("https://app.ochre.test/settings"),
            ("https://app.ochre.test", Ok("https://app.ochre.test/")),
            (
                "https://app.ochre.test:443/x",
                Ok("https://app.ochre.test/x"),
            ),
            ("HTTPS://APP.OCHRE.TEST/x", Ok("https://app.ochre.test/x")),
            ok("https://app.ochre.test/?next=/home#top"),
            ("", Err(E::Empty)),
            (&long_path, Err(E::TooLong)),
            ("https://evil.com/", Err(E::HostMismatch)),
            ("//evil.com", Err(E::SchemeRelative)),
            ("///evil.com", Err(E::SchemeRelative)),
            ("/\\evil.com", Err(E::Backslash)),
            ("/settings\\x", Err(E::Backslash)),
            ("https://evil.com\\@app.ochre.test", Err(E::Backslash)),
            ("javascript:alert(1)", Err(E::DisallowedScheme)),
            ("JaVaScRiPt:alert(1)", Err(E::DisallowedScheme)),
            ("data:text/html,<script>", Err(E::DisallowedScheme)),
            ("vbscript:msgbox", Err(E::DisallowedScheme)),
            ("ftp://app.ochre.test/", Err(E::DisallowedScheme)),
            ("\tjavascript:alert(1)", Err(E::ControlOrWhitespace)),
            (" javascript:alert(1)", Err(E::ControlOrWhitespace)),
            ("java\nscript:alert(1)", Err(E::ControlOrWhitespace)),
            ("java\u{0}script:alert(1)", Err(E::ControlOrWhitespace)),
            ("/settings ", Err(E::ControlOrWhitespace)),
            ("/a\u{a0}b", Err(E::ControlOrWhitespace)),
            ("https://app.ochre.test@evil.com/", Err(E::Userinfo)),
            ("https://user:pw@app.ochre.test/", Err(E::Userinfo)),
            ("https://@app.ochre.test/", Err(E::Userinfo)),
            ("/%2F%2Fevil.com", Err(E::SuspiciousEncoding)),
            ("%2F%2Fevil.com", Err(E::SuspiciousEncoding)),
            ("/%5Cevil.com", Err(E::SuspiciousEncoding)),
            ("/%5cevil.com", Err(E::SuspiciousEncoding)),
            ("/%252F%252Fevil.com", Err(E::SuspiciousEncoding)),
            ("/%0d%0aSet-Cookie:x", Err(E::SuspiciousEncoding)),
            ("/bad%zz", Err(E::SuspiciousEncoding)),
            ("/trailing%", Err(E::SuspiciousEncoding)),
            ("https://app.ochre.test.evil.com/", Err(E::HostMismatch)),
            (
                "https://evil.com/?https://app.ochre.test",
                Err(E::HostMismatch),
            ),
            ("https://app.ochre.test./", Err(E::HostMismatch)),
            ("https://app.ochre.test:8443/", Err(E::PortMismatch)),
            ("http://app.ochre.test/", Err(E::SchemeMismatch)),
            ("https://аpp.ochre.test/", Err(E::NonAscii)),
            ("https://xn--pp-8cd.ochre.test/", Err(E::HostMismatch)),
            ("settings", Err(E::RelativePath)),
            ("../x", Err(E::RelativePath)),
            ("?x=1", Err(E::RelativePath)),
            ("app.ochre.test/x", Err(E::RelativePath)),
            ("https:app.ochre.test/x", Err(E::Malformed)),
            ("https:/app.ochre.test/x", Err(E::Malformed)),
            ("https:///app.ochre.test/x", Err(E::Malformed)),
            ("https://app.ochre.test:99999/", Err(E::Malformed)),
        ];
        assert!(cases.len() >= 40);
        for (candidate, expected) in cases {
            let got = validate_return_to(&public(), candidate);
            let got = got.as_ref().map(Url::as_str).map_err(|e| *e);
            assert_eq!(got, expected, "candidate {candidate:?}");
        }
    }

    #[test]
    fn error_messages_never_echo_the_candidate() {
        let candidate = "https://evil.example.com/steal";
        let err = validate_return_to(&public(), candidate).unwrap_err();
        assert!(!err.to_string().contains("evil"));
    }

    #[test]
    fn a_public_url_with_a_port_and_path_is_matched_by_origin() {
        let public = Url::parse("http://localhost:8080/ui/").unwrap();
        let got = validate_return_to(&public, "/settings").unwrap();
        assert_eq!(got.as_str(), "http://localhost:8080/settings");
        let got = validate_return_to(&public, "http://localhost:8080/ui/x").unwrap();
        assert_eq!(got.as_str(), "http://localhost:8080/ui/x");
        let err = validate_return_to(&public, "http://localhost/ui/x").unwrap_err();
        assert_eq!(err, ReturnToError::PortMismatch);
    }

    #[test]
    fn a_public_url_without_an_http_origin_refuses_everything() {
        let public = Url::parse("mailto:ops@ochre.test").unwrap();
        let err = validate_return_to(&public, "/settings").unwrap_err();
        assert_eq!(err, ReturnToError::PublicUrlUnusable);
    }

    #[test]
    fn random_hostile_strings_are_only_ever_accepted_for_the_public_origin() {
        const ALPHABET: &[&str] = &[
            "/",
            "\\",
            "%",
            ":",
            "@",
            ".",
            "a",
            "Z",
            "0",
            "9",
            " ",
            "\t",
            "\n",
            "javascript",
            "evil.com",
            "app.ochre.test",
            "2F",
            "5C",
            "25",
            "?",
            "#",
            "https:",
            "//",
            "http",
        ];
        const PREFIXES: &[&str] = &["", "/", "https://app.ochre.test", "https://"];
        let public = public();
        let mut rng = StdRng::seed_from_u64(0x0c4e_7e70);
        let mut accepted = 0;
        for _ in 0..10_000 {
            let mut s = String::from(PREFIXES[rng.random_range(0..PREFIXES.len())]);
            for _ in 0..rng.random_range(0..12) {
                s.push_str(ALPHABET[rng.random_range(0..ALPHABET.len())]);
            }
            let Ok(url) = validate_return_to(&public, &s) else {
                continue;
            };
            accepted += 1;
            assert_eq!(url.scheme(), public.scheme(), "{s:?}");
            assert_eq!(url.host_str(), public.host_str(), "{s:?}");
            assert_eq!(url.port_or_known_default(), public.port_or_known_default());
            assert!(
                url.username().is_empty() && url.password().is_none(),
                "{s:?}"
            );
            assert_eq!(Url::parse(url.as_str()).unwrap(), url, "{s:?}");
        }
        assert!(
            accepted > 100,
            "only {accepted} accepted: the test is vacuous"
        );
    }
}
