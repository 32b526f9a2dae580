//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…][,v0=<hex>]`.
//!
//! Signed bytes are `t + "." + body`, HMAC-SHA256 keyed with the whole
//! signing secret string (`whsec_…`, not decoded), hex encoded. Only `v1`
//! signatures count; `v0` (test-mode legacy) and unknown schemes are
//! ignored, as are `v1` values that are not 64 hex digits (stripe-go does
//! the same). Default window 300 s. Delivery id: the event `id` in the body.

use super::model::VerifyError;
use super::wire::{self, Ctx};

const HEADER: &str = "stripe-signature";

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeSig {
    /// The signed timestamp `t`, Unix seconds.
    pub timestamp: u64,
    /// Every well-formed `v1` signature, in header order.
    pub v1: Vec<[u8; 32]>,
}

/// Parse a `Stripe-Signature` header value. Never panics.
///
/// # Errors
///
/// [`VerifyError::MalformedHeader`] for: an item without `=`, a missing,
/// repeated or non-numeric `t`, an oversized header. A header with no
/// usable `v1` parses (with an empty list) and then fails verification.
pub fn parse_stripe_signature(header: &str) -> Result<StripeSig, VerifyError> {
    let malformed = VerifyError::MalformedHeader(HEADER);
    if header.len() > wire::MAX_HEADER_LEN {
        return Err(malformed);
    }
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for item in header.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (key, value) = wire::split_kv(item).ok_or_else(|| malformed.clone())?;
        match key {
            "t" => {
                let ts = wire::parse_digits(value).ok_or_else(|| malformed.clone())?;
                if timestamp.replace(ts).is_some() {
                    return Err(malformed);
                }
            }
            "v1" => v1.extend(wire::hex_decode_32(value)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(malformed)?;
    Ok(StripeSig { timestamp, v1 })
}

/// Verify a Stripe delivery (see the module docs).
pub(super) fn authenticate(ctx: &Ctx<'_>) -> Result<Option<u64>, VerifyError> {
    let inbound = ctx.inbound;
    let sig = parse_stripe_signature(wire::required_header(inbound.headers, HEADER)?)?;
    let ts = sig.timestamp.to_string();
    let parts: [&[u8]; 3] = [ts.as_bytes(), b".", inbound.body];
    if !wire::any_match(ctx.secrets, &parts, &sig.v1) {
        return Err(VerifyError::BadSignature);
    }
    wire::check_window(sig.timestamp, ctx.now_unix, ctx.tolerance_secs)?;
    Ok(Some(sig.timestamp))
}

/// The event `id` of an authenticated body.
pub(super) fn delivery_id(ctx: &Ctx<'_>) -> Result<String, VerifyError> {
    wire::json_str_field(ctx.inbound.body, "id")
}

/// The `Stripe-Signature` value Stripe would send (tests and fixtures).
#[cfg(test)]
pub(super) fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> wire::Tag {
    let ts = timestamp.to_string();
    *wire::hmac_sha256(secret, &[ts.as_bytes(), b".", body])
        .unwrap_or_default()
        .as_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_header_shape() {
        // Header shape from https://docs.stripe.com/webhooks#verify-manually
        let header = "t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
        let sig = parse_stripe_signature(header).unwrap();
        assert_eq!(sig.timestamp, 1_492_774_577);
        assert_eq!(sig.v1.len(), 1);
        assert_eq!(
            wire::hex_encode(&sig.v1[0]),
            "5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
        );
    }

    #[test]
    fn malformed_shapes() {
        // "v1,t=1" and "t=" are ErrInvalidHeader in stripe-go webhook/client_test.go.
        for bad in [
            "",
            "v1,t=1",
            "t=",
            "t=abc,v1=00",
            "t=1,t=2",
            "v1=00",
            "t=-1",
            "t=01",
        ] {
            assert_eq!(
                parse_stripe_signature(bad),
                Err(VerifyError::MalformedHeader(HEADER)),
                "{bad:?}"
            );
        }
        // Unreadable v1 values are ignored, not fatal (stripe-go: "should be ignored").
        let sig = parse_stripe_signature("t=1,v1=bad_signature").unwrap();
        assert!(sig.v1.is_empty());
    }
}
