//! Linear: `Linear-Signature: <hex>` over the raw body, `Linear-Delivery`.
//!
//! HMAC-SHA256 of the body keyed with the webhook secret, hex encoded.
//! The timestamp is not a header: it is `webhookTimestamp` (Unix
//! **milliseconds**) inside the signed JSON body, so it is read only after
//! the MAC matched. Linear's SDK skips the check when the field is absent;
//! we require it (no timestamp, no replay protection), default window 60 s.
//! Delivery id: the `Linear-Delivery` header (not covered by the MAC; the
//! 60 s window bounds replays under a fresh id).

use super::model::VerifyError;
use super::wire::{self, Ctx};

const SIG_HEADER: &str = "linear-signature";
const DELIVERY_HEADER: &str = "linear-delivery";

/// Verify a Linear delivery (see the module docs).
pub(super) fn authenticate(ctx: &Ctx<'_>) -> Result<Option<u64>, VerifyError> {
    let inbound = ctx.inbound;
    let sig_text = wire::required_header(inbound.headers, SIG_HEADER)?;
    let sig = wire::hex_decode_32(sig_text).ok_or(VerifyError::MalformedHeader(SIG_HEADER))?;
    wire::required_header(inbound.headers, DELIVERY_HEADER)?;
    if !wire::any_match(ctx.secrets, &[inbound.body], &[sig]) {
        return Err(VerifyError::BadSignature);
    }
    let ts_ms: u64 = wire::json_top_field(inbound.body, "webhookTimestamp")?
        .ok_or(VerifyError::MalformedBody)?;
    wire::check_window_ms(ts_ms, ctx.now_unix, ctx.tolerance_secs)?;
    Ok(Some(ts_ms / 1000))
}

/// The `Linear-Delivery` header (outside the MAC).
pub(super) fn delivery_id(ctx: &Ctx<'_>) -> Result<String, VerifyError> {
    wire::required_header(ctx.inbound.headers, DELIVERY_HEADER).map(str::to_owned)
}

/// The `Linear-Signature` value Linear would send (tests).
#[cfg(test)]
pub(super) fn sign(secret: &[u8], body: &[u8]) -> String {
    wire::hex_encode(
        wire::hmac_sha256(secret, &[body])
            .unwrap_or_default()
            .as_bytes(),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::test_support::headers;
    use super::super::{Inbound, Provider, verify};
    use super::*;

    fn run(body: &[u8], now: u64) -> Result<crate::webhooks::verify::Verified, VerifyError> {
        let sig = sign(b"s3cr3t", body);
        let map = headers(&[(SIG_HEADER, &sig), (DELIVERY_HEADER, "d-1")]);
        let inbound = Inbound {
            method: "POST",
            uri: "/",
            headers: &map,
            body,
        };
        verify(Provider::Linear, &inbound, &[b"s3cr3t"], now, 0)
    }

    #[test]
    fn webhook_timestamp_must_be_an_unsigned_integer() {
        let now = 1_700_000_000;
        assert!(run(br#"{"webhookTimestamp":1700000000000}"#, now).is_ok());
        for body in [
            &br#"{"webhookTimestamp":"1700000000000"}"#[..],
            br#"{"webhookTimestamp":-1}"#,
            br#"{"webhookTimestamp":1.7e12}"#,
            br#"{"webhookTimestamp":null}"#,
            br#"[1700000000000]"#,
            b"",
        ] {
            assert_eq!(run(body, now), Err(VerifyError::MalformedBody), "{body:?}");
        }
        // Milliseconds: 60 s default window, checked to the millisecond.
        assert_eq!(
            run(br#"{"webhookTimestamp":1699999939999}"#, now),
            Err(VerifyError::Stale)
        );
        assert!(run(br#"{"webhookTimestamp":1700000060000}"#, now).is_ok());
        assert_eq!(
            run(br#"{"webhookTimestamp":1700000060001}"#, now),
            Err(VerifyError::Future)
        );
    }
}
