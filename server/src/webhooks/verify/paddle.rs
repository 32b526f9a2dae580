//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>…]`.
//!
//! Signed bytes are `ts + ":" + body`, HMAC-SHA256 keyed with the whole
//! notification secret string (`pdl_ntf_…`), hex encoded. Several `h1`
//! values mean a rotation; unknown keys (`h2=…`) and unreadable `h1` values
//! are ignored, as Paddle's SDKs do. Default window 5 s (the SDKs'
//! default). Delivery id: `event_id` in the body.

use super::model::VerifyError;
use super::wire::{self, Ctx};

const HEADER: &str = "paddle-signature";

/// A parsed `Paddle-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddleSig {
    /// The signed timestamp `ts`, Unix seconds.
    pub timestamp: u64,
    /// Every well-formed `h1` signature, in header order.
    pub h1: Vec<[u8; 32]>,
}

/// Parse a `Paddle-Signature` header value. Never panics.
///
/// # Errors
///
/// [`VerifyError::MalformedHeader`] for: an item without `=`, a missing,
/// repeated or non-numeric `ts`, no `h1` key at all (the cases
/// paddle-node-sdk's header tests reject), an oversized header.
pub fn parse_paddle_signature(header: &str) -> Result<PaddleSig, VerifyError> {
    let malformed = VerifyError::MalformedHeader(HEADER);
    if header.len() > wire::MAX_HEADER_LEN {
        return Err(malformed);
    }
    let mut timestamp = None;
    let mut h1 = Vec::new();
    let mut saw_h1 = false;
    for item in header.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = wire::split_kv(item).ok_or_else(|| malformed.clone())?;
        match key {
            "ts" => {
                let ts = wire::parse_digits(value).ok_or_else(|| malformed.clone())?;
                if timestamp.replace(ts).is_some() {
                    return Err(malformed);
                }
            }
            "h1" => {
                saw_h1 = true;
                h1.extend(wire::hex_decode_32(value));
            }
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if saw_h1 => Ok(PaddleSig { timestamp, h1 }),
        _ => Err(malformed),
    }
}

/// Verify a Paddle delivery (see the module docs).
pub(super) fn authenticate(ctx: &Ctx<'_>) -> Result<Option<u64>, VerifyError> {
    let inbound = ctx.inbound;
    let sig = parse_paddle_signature(wire::required_header(inbound.headers, HEADER)?)?;
    let ts = sig.timestamp.to_string();
    let parts: [&[u8]; 3] = [ts.as_bytes(), b":", inbound.body];
    if !wire::any_match(ctx.secrets, &parts, &sig.h1) {
        return Err(VerifyError::BadSignature);
    }
    wire::check_window(sig.timestamp, ctx.now_unix, ctx.tolerance_secs)?;
    Ok(Some(sig.timestamp))
}

/// The `event_id` of an authenticated body.
pub(super) fn delivery_id(ctx: &Ctx<'_>) -> Result<String, VerifyError> {
    wire::json_str_field(ctx.inbound.body, "event_id")
}

/// The `h1` hex Paddle would send (tests).
#[cfg(test)]
pub(super) fn sign(secret: &[u8], ts: u64, body: &[u8]) -> String {
    let ts = ts.to_string();
    let tag = wire::hmac_sha256(secret, &[ts.as_bytes(), b":", body]).unwrap_or_default();
    wire::hex_encode(tag.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parser_shapes() {
        // paddle-node-sdk src/__tests__/notifications/webhooks-validator.test.ts
        // "validate header": all three must be refused.
        for bad in [
            "invalid_header",
            "h1=invalid_header",
            "ts=1234;h2=invalid_header",
        ] {
            assert_eq!(
                parse_paddle_signature(bad),
                Err(VerifyError::MalformedHeader(HEADER))
            );
        }
        for bad in ["", "ts=;h1=00", "ts=1;ts=1;h1=00", "ts=x;h1=00"] {
            assert_eq!(
                parse_paddle_signature(bad),
                Err(VerifyError::MalformedHeader(HEADER))
            );
        }
        // "ts=1234;h1=invalid_signature" parses; it just cannot match.
        let sig = parse_paddle_signature("ts=1234;h1=invalid_signature").unwrap();
        assert_eq!((sig.timestamp, sig.h1.len()), (1234, 0));
    }
}
