//! HubSpot request signature v3: `X-HubSpot-Signature-v3` (base64) and
//! `X-HubSpot-Request-Timestamp` (Unix **milliseconds**).
//!
//! Signed bytes are `method + uri + body + timestamp`, where `uri` is the
//! full URL HubSpot called with these escapes decoded (and no others):
//! `%3A : %2F / %3F ? %40 @ %21 ! %24 $ %27 ' %28 ( %29 ) %2A * %2C , %3B ;`
//! (<https://developers.hubspot.com/docs/api/webhooks/validating-requests>).
//! HMAC-SHA256 keyed with the app's client secret, base64 encoded. Default
//! window 300 s. Delivery id: the `eventId`s of the (array) body, joined
//! with `,` in body order.

use super::model::VerifyError;
use super::wire::{self, Ctx};

const SIG_HEADER: &str = "x-hubspot-signature-v3";
const TS_HEADER: &str = "x-hubspot-request-timestamp";
const HOST_HEADER: &str = "host";

/// The byte a listed escape decodes to, if `hi lo` is one of them.
fn listed_escape(hi: u8, lo: u8) -> Option<u8> {
    let value = (char::from(hi).to_digit(16)? << 4) | char::from(lo).to_digit(16)?;
    let byte = u8::try_from(value).ok()?;
    b":/?@!$'()*,;".contains(&byte).then_some(byte)
}

/// Decode only HubSpot's listed escapes, in one left-to-right pass (so a
/// literal `%253A` stays `%253A`). Hex digits match in either case.
pub(super) fn decode_listed_escapes(uri: &str) -> String {
    let bytes = uri.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escape = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => listed_escape(hi, lo),
            _ => None,
        };
        if let Some(decoded) = escape {
            out.push(decoded);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    // Only ASCII bytes were substituted for ASCII runs, so this is lossless.
    String::from_utf8_lossy(&out).into_owned()
}

/// The absolute URL HubSpot signed: `uri` itself when absolute, else
/// `https://` + `Host` + `uri`.
fn signed_url(ctx: &Ctx<'_>) -> Result<String, VerifyError> {
    let uri = ctx.inbound.uri;
    let has_scheme = |scheme: &str| {
        uri.get(..scheme.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
    };
    if has_scheme("https://") || has_scheme("http://") {
        return Ok(uri.to_owned());
    }
    let host = wire::required_header(ctx.inbound.headers, HOST_HEADER)?;
    Ok(format!("https://{host}{uri}"))
}

/// The `eventId`s of an authenticated body: an array of events or one event.
/// One event of a batch: only `eventId` is read, the rest is skipped.
#[derive(serde::Deserialize)]
struct Event {
    #[serde(rename = "eventId")]
    event_id: Option<EventId>,
}

/// A number as it was written, or a string.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum EventId {
    Number(serde_json::Number),
    Text(String),
}

fn event_ids(body: &[u8]) -> Result<String, VerifyError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let events: Vec<Event> = if first == Some(&b'[') {
        serde_json::from_slice(body)
    } else {
        serde_json::from_slice(body).map(|one| vec![one])
    }
    .map_err(|_| VerifyError::MalformedBody)?;
    let mut ids = Vec::with_capacity(events.len());
    for event in events {
        match event.event_id {
            Some(EventId::Number(n)) => ids.push(n.to_string()),
            Some(EventId::Text(s)) if !s.is_empty() => ids.push(s),
            _ => return Err(VerifyError::MalformedBody),
        }
    }
    if ids.is_empty() {
        return Err(VerifyError::MalformedBody);
    }
    Ok(ids.join(","))
}

/// Verify a HubSpot v3 request (see the module docs).
pub(super) fn authenticate(ctx: &Ctx<'_>) -> Result<Option<u64>, VerifyError> {
    let inbound = ctx.inbound;
    let sig_text = wire::required_header(inbound.headers, SIG_HEADER)?;
    let sig = wire::b64_decode_32(sig_text).ok_or(VerifyError::MalformedHeader(SIG_HEADER))?;
    let ts_text = wire::required_header(inbound.headers, TS_HEADER)?;
    let ts_ms = wire::parse_digits(ts_text).ok_or(VerifyError::MalformedHeader(TS_HEADER))?;
    let url = decode_listed_escapes(&signed_url(ctx)?);
    let parts: [&[u8]; 4] = [
        inbound.method.as_bytes(),
        url.as_bytes(),
        inbound.body,
        ts_text.as_bytes(),
    ];
    if !wire::any_match(ctx.secrets, &parts, &[sig]) {
        return Err(VerifyError::BadSignature);
    }
    wire::check_window_ms(ts_ms, ctx.now_unix, ctx.tolerance_secs)?;
    Ok(Some(ts_ms / 1000))
}

/// The `eventId`s of an authenticated body, joined by `,`.
pub(super) fn delivery_id(ctx: &Ctx<'_>) -> Result<String, VerifyError> {
    event_ids(ctx.inbound.body)
}

/// The `X-HubSpot-Signature-v3` value HubSpot would send (tests).
#[cfg(test)]
pub(super) fn sign(secret: &[u8], method: &str, url: &str, body: &[u8], ts_ms: u64) -> String {
    use base64::Engine as _;
    let url = decode_listed_escapes(url);
    let ts = ts_ms.to_string();
    let parts: [&[u8]; 4] = [method.as_bytes(), url.as_bytes(), body, ts.as_bytes()];
    let tag = wire::hmac_sha256(secret, &parts).unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(tag)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn decodes_exactly_the_listed_escapes() {
        assert_eq!(
            decode_listed_escapes("https://x.test/a%3Ab%2fc%3F%40%21%24%27%28%29%2A%2C%3B"),
            "https://x.test/a:b/c?@!$'()*,;"
        );
        // Not listed: space, %, #, &, =, non-ASCII; no double decoding.
        assert_eq!(
            decode_listed_escapes("%20%25%23%26%3D%C3%A9"),
            "%20%25%23%26%3D%C3%A9"
        );
        assert_eq!(decode_listed_escapes("%253A"), "%253A");
        assert_eq!(decode_listed_escapes("%3"), "%3");
        assert_eq!(decode_listed_escapes("%"), "%");
        assert_eq!(decode_listed_escapes("é%3Aü"), "é:ü");
    }

    #[test]
    fn event_ids_shapes() {
        assert_eq!(
            event_ids(br#"[{"eventId":1},{"eventId":"2"}]"#).unwrap(),
            "1,2"
        );
        assert_eq!(event_ids(br#"{"eventId":7}"#).unwrap(), "7");
        for bad in [
            &b"[]"[..],
            b"[{}]",
            b"{}",
            b"nope",
            br#"[{"eventId":null}]"#,
        ] {
            assert_eq!(event_ids(bad), Err(VerifyError::MalformedBody));
        }
    }
}
