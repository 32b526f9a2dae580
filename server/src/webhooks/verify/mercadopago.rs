//! Mercado Pago: `x-signature: ts=<ts>,v1=<hex>` and `x-request-id`.
//!
//! Signed bytes are the manifest `id:<data.id>;request-id:<x-request-id>;ts:<ts>;`
//! where `data.id` comes from the notification URL's **query string**
//! (lower-cased when alphanumeric) and parts whose value is absent are left
//! out, as Mercado Pago's docs say
//! (<https://www.mercadopago.com/developers/en/docs/your-integrations/notifications/webhooks>).
//! HMAC-SHA256 keyed with the webhook secret signature, hex encoded.
//!
//! The docs call `ts` milliseconds but print a seconds-sized example; a
//! `ts` of 10^11 or more is taken as milliseconds, smaller as seconds.
//! Window: configurable, default 300 s. Delivery id: `x-request-id` (it is
//! part of the signed manifest).

use super::model::VerifyError;
use super::wire::{self, Ctx};

const SIG_HEADER: &str = "x-signature";
const REQUEST_ID_HEADER: &str = "x-request-id";

/// Timestamps at or above this are milliseconds (10^11 s is year 5138).
const MS_THRESHOLD: u64 = 100_000_000_000;

/// A parsed `x-signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MercadoPagoSig {
    /// `ts` exactly as sent (seconds or milliseconds, see the module docs).
    pub ts: u64,
    /// The `v1` signature.
    pub v1: [u8; 32],
}

impl MercadoPagoSig {
    /// `ts` in Unix seconds.
    #[must_use]
    pub fn unix_seconds(&self) -> u64 {
        if self.ts >= MS_THRESHOLD {
            self.ts / 1000
        } else {
            self.ts
        }
    }
}

/// Parse an `x-signature` header value. Never panics.
///
/// # Errors
///
/// [`VerifyError::MalformedHeader`] for: an item without `=`, a missing
/// or repeated `ts` or `v1`, a non-numeric `ts`, a `v1` that is not 64 hex
/// digits, an oversized header. Unknown keys are ignored.
pub fn parse_mercadopago_signature(header: &str) -> Result<MercadoPagoSig, VerifyError> {
    let malformed = VerifyError::MalformedHeader(SIG_HEADER);
    if header.len() > wire::MAX_HEADER_LEN {
        return Err(malformed);
    }
    let (mut ts, mut v1) = (None, None);
    for item in header.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = wire::split_kv(item).ok_or_else(|| malformed.clone())?;
        let repeated = match key {
            "ts" => {
                let value = wire::parse_digits(value).ok_or_else(|| malformed.clone())?;
                ts.replace(value).is_some()
            }
            "v1" => {
                let value = wire::hex_decode_32(value).ok_or_else(|| malformed.clone())?;
                v1.replace(value).is_some()
            }
            _ => false,
        };
        if repeated {
            return Err(malformed);
        }
    }
    match (ts, v1) {
        (Some(ts), Some(v1)) => Ok(MercadoPagoSig { ts, v1 }),
        _ => Err(malformed),
    }
}

/// The `data.id` query parameter of `uri` exactly as sent (first
/// occurrence, decoded).
fn raw_data_id(uri: &str) -> Option<String> {
    let without_fragment = uri.split('#').next().unwrap_or_default();
    let (_, query) = without_fragment.split_once('?')?;
    let (_, value) = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "data.id")?;
    Some(value.into_owned())
}

/// The `data.id` query parameter of `uri` (first occurrence, decoded),
/// lower-cased when it is ASCII alphanumeric (the docs' rule).
fn query_data_id(uri: &str) -> Option<String> {
    let without_fragment = uri.split('#').next().unwrap_or_default();
    let (_, query) = without_fragment.split_once('?')?;
    let (_, value) = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "data.id")?;
    if value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Some(value.to_ascii_lowercase())
    } else {
        Some(value.into_owned())
    }
}

/// The signed manifest; absent values drop their part.
fn manifest(data_id: Option<&str>, request_id: &str, ts: u64) -> String {
    let mut out = String::new();
    if let Some(id) = data_id.filter(|id| !id.is_empty()) {
        out.push_str("id:");
        out.push_str(id);
        out.push(';');
    }
    out.push_str("request-id:");
    out.push_str(request_id);
    out.push_str(";ts:");
    out.push_str(&ts.to_string());
    out.push(';');
    out
}

/// Verify a Mercado Pago notification (see the module docs).
pub(super) fn authenticate(ctx: &Ctx<'_>) -> Result<Option<u64>, VerifyError> {
    let inbound = ctx.inbound;
    let sig = parse_mercadopago_signature(wire::required_header(inbound.headers, SIG_HEADER)?)?;
    let request_id = wire::required_header(inbound.headers, REQUEST_ID_HEADER)?;
    // The docs lower-case an alphanumeric data.id before signing; most
    // official SDK validators sign it as sent. Either manifest may match
    // (both are computed, so timing does not depend on which).
    let lowered = manifest(query_data_id(inbound.uri).as_deref(), request_id, sig.ts);
    let as_sent = manifest(raw_data_id(inbound.uri).as_deref(), request_id, sig.ts);
    let lowered_ok = wire::any_match(ctx.secrets, &[lowered.as_bytes()], &[sig.v1]);
    let as_sent_ok = wire::any_match(ctx.secrets, &[as_sent.as_bytes()], &[sig.v1]);
    if !(lowered_ok | as_sent_ok) {
        return Err(VerifyError::BadSignature);
    }
    let seconds = sig.unix_seconds();
    if sig.ts >= MS_THRESHOLD {
        wire::check_window_ms(sig.ts, ctx.now_unix, ctx.tolerance_secs)?;
    } else {
        wire::check_window(seconds, ctx.now_unix, ctx.tolerance_secs)?;
    }
    Ok(Some(seconds))
}

/// The body's `data`: only `id` is read, the rest is skipped.
#[derive(serde::Deserialize)]
struct BodyData {
    #[serde(default)]
    id: Option<BodyId>,
}

/// A `data.id` as a string, a number, or null (anything else is malformed).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum BodyId {
    Null,
    Text(String),
    Number(serde_json::Number),
}

/// The `x-request-id` header (inside the signed manifest).
///
/// The body is not signed: when it names a `data.id`, that id must be the
/// signed one from the query (compared case-insensitively), so a captured
/// signature cannot carry a body about another resource.
pub(super) fn delivery_id(ctx: &Ctx<'_>) -> Result<String, VerifyError> {
    let request_id = wire::required_header(ctx.inbound.headers, REQUEST_ID_HEADER)?;
    let data = wire::json_top_field::<BodyData>(ctx.inbound.body, "data")?;
    let body_id = match data.and_then(|d| d.id) {
        None | Some(BodyId::Null) => None,
        Some(BodyId::Text(s)) => Some(s),
        Some(BodyId::Number(n)) => Some(n.to_string()),
    };
    if let Some(body_id) = body_id {
        let signed = raw_data_id(ctx.inbound.uri).unwrap_or_default();
        if !body_id.eq_ignore_ascii_case(&signed) {
            return Err(VerifyError::MalformedBody);
        }
    }
    Ok(request_id.to_owned())
}

/// The `x-signature` value for `uri` with data.id signed as sent (tests).
#[cfg(test)]
pub(super) fn sign_header_as_sent(secret: &[u8], uri: &str, request_id: &str, ts: u64) -> String {
    let signed = manifest(raw_data_id(uri).as_deref(), request_id, ts);
    let tag = wire::hmac_sha256(secret, &[signed.as_bytes()]).unwrap_or_default();
    format!("ts={ts},v1={}", wire::hex_encode(tag.as_bytes()))
}

/// The `x-signature` value Mercado Pago would send for `uri` (tests).
#[cfg(test)]
pub(super) fn sign_header(secret: &[u8], uri: &str, request_id: &str, ts: u64) -> String {
    let signed = manifest(query_data_id(uri).as_deref(), request_id, ts);
    let tag = wire::hmac_sha256(secret, &[signed.as_bytes()]).unwrap_or_default();
    format!("ts={ts},v1={}", wire::hex_encode(tag.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_example() {
        // x-signature example from the Mercado Pago webhooks docs
        // (mercadopago/devsite-docs guides/additional-content/your-integrations/webhooks.en.md).
        let sig = parse_mercadopago_signature(
            "ts=1704908010,v1=618c85345248dd820d5fd456117c2ab2ef8eda45a0282ff693eac24131a5e839",
        )
        .unwrap();
        assert_eq!(sig.ts, 1_704_908_010);
        assert_eq!(sig.unix_seconds(), 1_704_908_010);
        let hex = "618c85345248dd820d5fd456117c2ab2ef8eda45a0282ff693eac24131a5e839";
        for bad in [
            String::new(),
            format!("v1={hex}"),
            "ts=1".to_owned(),
            format!("ts=1,v1={hex},v1={hex}"),
            format!("ts=1,ts=1,v1={hex}"),
            format!("ts=1;v1={hex}"),
            "ts=1,v1=zz".to_owned(),
            format!("ts=1.5,v1={hex}"),
        ] {
            assert_eq!(
                parse_mercadopago_signature(&bad),
                Err(VerifyError::MalformedHeader(SIG_HEADER)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn data_id_from_query() {
        assert_eq!(
            query_data_id("/mp?data.id=123&type=payment").as_deref(),
            Some("123")
        );
        assert_eq!(
            query_data_id("/mp?type=x&data.id=ORD01AB").as_deref(),
            Some("ord01ab")
        );
        assert_eq!(
            query_data_id("/mp?data.id=A-B%20C").as_deref(),
            Some("A-B C")
        );
        assert_eq!(
            query_data_id("https://h/mp?data.id=9#frag").as_deref(),
            Some("9")
        );
        assert_eq!(
            raw_data_id("/mp?type=x&data.id=ORD01AB").as_deref(),
            Some("ORD01AB")
        );
        assert_eq!(query_data_id("/mp?id=9"), None);
        assert_eq!(query_data_id("/mp"), None);
        assert_eq!(manifest(None, "r", 5), "request-id:r;ts:5;");
    }

    #[test]
    fn an_upper_case_data_id_verifies_lowered_or_as_sent() {
        let (secret, uri, rid, ts) = (
            b"s3cret".as_slice(),
            "/mp?data.id=ORD01AB",
            "r-1",
            1_700_000_000,
        );
        let headers = |sig: String| {
            let mut h = http::HeaderMap::new();
            h.insert(SIG_HEADER, sig.parse().unwrap());
            h.insert(REQUEST_ID_HEADER, rid.parse().unwrap());
            h
        };
        for sig in [
            sign_header(secret, uri, rid, ts),
            sign_header_as_sent(secret, uri, rid, ts),
        ] {
            let h = headers(sig);
            let inbound = crate::webhooks::verify::Inbound {
                method: "POST",
                uri,
                headers: &h,
                body: b"{}",
            };
            let got = crate::webhooks::verify::verify(
                crate::webhooks::verify::Provider::MercadoPago,
                &inbound,
                &[secret],
                ts,
                0,
            );
            assert_eq!(got.map(|v| v.delivery_id), Ok(rid.to_owned()));
            let wrong = crate::webhooks::verify::verify(
                crate::webhooks::verify::Provider::MercadoPago,
                &inbound,
                &[b"other"],
                ts,
                0,
            );
            assert_eq!(wrong, Err(VerifyError::BadSignature));
        }
    }
}
