//! The `return_to` rules as a table, the refusal texts, and random hostile
//! input.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
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
