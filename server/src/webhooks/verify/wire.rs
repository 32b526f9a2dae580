//! Primitives shared by every provider: header access, strict number and
//! hex parsing, HMAC-SHA256 with constant-time matching, timestamp windows
//! and the few body look-ups made after a MAC has matched.

use std::marker::PhantomData;

use serde::{
    Deserialize, Deserializer,
    de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor},
};
use sha2::{Digest, Sha256};
use subtle::Choice;

use crate::crypto::mac::MacTag;

use super::model::{Inbound, VerifyError};

/// An HMAC-SHA256 output or a decoded signature of the same size.
pub(super) type Tag = [u8; 32];

/// Header values longer than this are refused outright (no provider sends
/// anything close; this bounds the work done on hostile input).
pub(super) const MAX_HEADER_LEN: usize = 8 * 1024;

/// Everything one verification needs, after the tolerance was resolved.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ctx<'a> {
    /// The request as received.
    pub inbound: &'a Inbound<'a>,
    /// Candidate secrets (current and previous).
    pub secrets: &'a [&'a [u8]],
    /// The caller's clock, Unix seconds.
    pub now_unix: u64,
    /// The effective tolerance in seconds (provider default already applied).
    pub tolerance_secs: u64,
}

/// The value of header `name` (lower-case), if present exactly once.
///
/// A repeated header, a value that is not visible ASCII, or an oversized
/// value is [`VerifyError::MalformedHeader`].
pub(super) fn header<'h>(
    headers: &'h http::HeaderMap,
    name: &'static str,
) -> Result<Option<&'h str>, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || first.len() > MAX_HEADER_LEN {
        return Err(VerifyError::MalformedHeader(name));
    }
    first
        .to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| VerifyError::MalformedHeader(name))
}

/// Like [`header`], but absence is [`VerifyError::MissingHeader`] and an
/// empty value is [`VerifyError::MalformedHeader`].
pub(super) fn required_header<'h>(
    headers: &'h http::HeaderMap,
    name: &'static str,
) -> Result<&'h str, VerifyError> {
    match header(headers, name)? {
        None => Err(VerifyError::MissingHeader(name)),
        Some("") => Err(VerifyError::MalformedHeader(name)),
        Some(value) => Ok(value),
    }
}

/// A canonical unsigned decimal: ASCII digits only, no sign, no leading
/// zero (except `"0"` itself), fits in `u64`.
///
/// Canonical form means re-formatting the number reproduces the signed
/// text exactly.
pub(super) fn parse_digits(s: &str) -> Option<u64> {
    let bytes = s.as_bytes();
    let canonical = !bytes.is_empty()
        && bytes.len() <= 20
        && bytes.iter().all(u8::is_ascii_digit)
        && (bytes.len() == 1 || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

/// Lower-case hex of `bytes`.
pub(super) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            if let Some(&c) = DIGITS.get(usize::from(nibble)) {
                out.push(char::from(c));
            }
        }
    }
    out
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Exactly 64 hex digits (either case) decoded to 32 bytes.
pub(super) fn hex_decode_32(s: &str) -> Option<Tag> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_value(*hi)?, hex_value(*lo)?),
            _ => return None,
        };
        *slot = (hi << 4) | lo;
    }
    Some(out)
}

/// Standard (padded) base64 that decodes to exactly 32 bytes.
pub(super) fn b64_decode_32(s: &str) -> Option<Tag> {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    Tag::try_from(decoded.as_slice()).ok()
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`: a [`MacTag`],
/// which compares only in constant time (no `==`).
pub(super) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Option<MacTag> {
    crate::crypto::mac::hmac_sha256(key, parts)
}

/// Whether any non-empty key's MAC over `parts` equals any candidate.
///
/// Every comparison is constant-time and all pairs are always compared, so
/// the time taken depends only on the number of keys and candidates.
pub(super) fn any_match<K: AsRef<[u8]>>(keys: &[K], parts: &[&[u8]], candidates: &[Tag]) -> bool {
    let mut matched = Choice::from(0);
    for key in keys.iter().map(AsRef::as_ref).filter(|k| !k.is_empty()) {
        let Some(expected) = hmac_sha256(key, parts) else {
            continue;
        };
        for candidate in candidates {
            matched |= expected.ct_eq(&MacTag::from_bytes(*candidate));
        }
    }
    bool::from(matched)
}

/// Refuse `ts` outside `[now - tolerance, now + tolerance]` (any one unit).
pub(super) fn check_window(ts: u64, now: u64, tolerance: u64) -> Result<(), VerifyError> {
    if now.saturating_sub(ts) > tolerance {
        Err(VerifyError::Stale)
    } else if ts.saturating_sub(now) > tolerance {
        Err(VerifyError::Future)
    } else {
        Ok(())
    }
}

/// [`check_window`] for a millisecond timestamp against a seconds clock.
pub(super) fn check_window_ms(
    ts_ms: u64,
    now_unix: u64,
    tolerance_secs: u64,
) -> Result<(), VerifyError> {
    check_window(
        ts_ms,
        now_unix.saturating_mul(1000),
        tolerance_secs.saturating_mul(1000),
    )
}

/// Lower-case hex SHA-256 of `bytes`.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex_encode(&Sha256::digest(bytes))
}

/// Split `item` at its first `=`, trimming both halves.
pub(super) fn split_kv(item: &str) -> Option<(&str, &str)> {
    item.split_once('=').map(|(k, v)| (k.trim(), v.trim()))
}

/// A map key seed that only answers whether the key equals `name`
/// (no allocation for unescaped keys).
struct KeyIs<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// Finds one top-level member of a JSON object; every other value is
/// skipped without being built (`IgnoredAny`). A repeated member: the last
/// one wins, as in `serde_json::Value`.
struct TopField<'n, T>(&'n str, PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for TopField<'_, T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut found = None;
        while let Some(is_it) = map.next_key_seed(KeyIs(self.0))? {
            if is_it {
                found = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// The top-level member `field` of an authenticated JSON object body
/// (`None` when absent); a body that is not a JSON object, or a member of
/// another type, is [`VerifyError::MalformedBody`].
pub(super) fn json_top_field<'de, T: Deserialize<'de>>(
    body: &'de [u8],
    field: &str,
) -> Result<Option<T>, VerifyError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = de
        .deserialize_map(TopField(field, PhantomData))
        .and_then(|found| de.end().map(|()| found))
        .map_err(|_| VerifyError::MalformedBody)?;
    Ok(found)
}

/// The non-empty string member `field` of an authenticated JSON object body.
pub(super) fn json_str_field(body: &[u8], field: &str) -> Result<String, VerifyError> {
    json_top_field::<String>(body, field)?
        .filter(|s| !s.is_empty())
        .ok_or(VerifyError::MalformedBody)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_strict_and_canonical() {
        assert_eq!(parse_digits("0"), Some(0));
        assert_eq!(parse_digits("1614265330"), Some(1_614_265_330));
        assert_eq!(parse_digits("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "+1",
            "-1",
            "01",
            " 1",
            "1 ",
            "1e3",
            "18446744073709551616",
            "١٢",
        ] {
            assert_eq!(parse_digits(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn hex_round_trips_and_rejects() {
        let bytes: [u8; 32] = core::array::from_fn(|i| (i * 37) as u8);
        let text = hex_encode(&bytes);
        let decoded = hex_decode_32;
        assert_eq!(decoded(&text), Some(bytes));
        assert_eq!(decoded(&text.to_uppercase()), Some(bytes));
        assert_eq!(decoded(&text[..62]), None);
        assert_eq!(decoded(&format!("{}zz", &text[..62])), None);
        assert_eq!(hex_encode(&[0x00, 0xff, 0x0a]), "00ff0a");
    }

    #[test]
    fn top_level_members_are_found_and_everything_else_is_skipped() {
        let body = br#"{"a":{"id":"inner"},"id":"evt_1","n":[1,{"x":null}],"ts":17}"#;
        assert_eq!(json_str_field(body, "id"), Ok("evt_1".to_owned()));
        assert_eq!(json_top_field::<u64>(body, "ts"), Ok(Some(17)));
        assert_eq!(json_top_field::<u64>(body, "nope"), Ok(None));
        assert_eq!(
            json_str_field(br#"{"id":"a","id":"b"}"#, "id"),
            Ok("b".to_owned())
        );
        assert_eq!(
            json_str_field(br#"{"i\u0064":"esc"}"#, "id"),
            Ok("esc".to_owned())
        );
        for bad in [
            &b"[]"[..],
            b"{\"id\":1}",
            b"{\"id\":\"\"}",
            b"{\"id\":\"x\"} trailing",
            b"{\"id\":\"x\"",
            b"",
        ] {
            assert_eq!(json_str_field(bad, "id"), Err(VerifyError::MalformedBody));
        }
        assert_eq!(
            json_top_field::<u64>(br#"{"ts":1.5}"#, "ts"),
            Err(VerifyError::MalformedBody)
        );
    }

    #[test]
    fn window_edges() {
        assert_eq!(check_window(100, 400, 300), Ok(()));
        assert_eq!(check_window(99, 400, 300), Err(VerifyError::Stale));
        assert_eq!(check_window(700, 400, 300), Ok(()));
        assert_eq!(check_window(701, 400, 300), Err(VerifyError::Future));
        assert_eq!(check_window(u64::MAX, 0, u64::MAX), Ok(()));
        assert_eq!(check_window_ms(15_000_000, 15_000, 300), Ok(()));
        assert_eq!(
            check_window_ms(14_699_999, 15_000, 300),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn repeated_or_binary_headers_are_malformed() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-a", http::HeaderValue::from_static("1"));
        headers.append("x-a", http::HeaderValue::from_static("2"));
        headers.insert("x-b", http::HeaderValue::from_bytes(b"\xff").unwrap());
        headers.insert("x-c", http::HeaderValue::from_static(""));
        assert_eq!(
            header(&headers, "x-a"),
            Err(VerifyError::MalformedHeader("x-a"))
        );
        assert_eq!(
            header(&headers, "x-b"),
            Err(VerifyError::MalformedHeader("x-b"))
        );
        assert_eq!(
            required_header(&headers, "x-c"),
            Err(VerifyError::MalformedHeader("x-c"))
        );
        assert_eq!(
            required_header(&headers, "x-d"),
            Err(VerifyError::MissingHeader("x-d"))
        );
    }
}
