//! Slack: `X-Slack-Signature: v0=<hex>` and `X-Slack-Request-Timestamp`.
//!
//! Signed bytes are `"v0:" + timestamp + ":" + body`, HMAC-SHA256 keyed with
//! the signing secret, hex encoded. Default window 300 s. Delivery id: the
//! Events API `event_id` in a JSON body; slash commands and interactivity
//! post form bodies without one, so the fallback is
//! `<timestamp>:<hex sha256(body)>`.

use super::model::VerifyError;
use super::wire::{self, Ctx};

const SIG_HEADER: &str = "x-slack-signature";
const TS_HEADER: &str = "x-slack-request-timestamp";

/// A parsed `X-Slack-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackSig {
    /// The `v0` signature.
    pub v0: [u8; 32],
}

/// Parse an `X-Slack-Signature` header value (`v0=` + 64 hex). Never panics.
///
/// # Errors
///
/// [`VerifyError::MalformedHeader`] for anything else.
pub fn parse_slack_signature(header: &str) -> Result<SlackSig, VerifyError> {
    header
        .trim()
        .strip_prefix("v0=")
        .and_then(wire::hex_decode_32)
        .map(|v0| SlackSig { v0 })
        .ok_or(VerifyError::MalformedHeader(SIG_HEADER))
}

/// Verify a Slack request (see the module docs).
pub(super) fn authenticate(ctx: &Ctx<'_>) -> Result<Option<u64>, VerifyError> {
    let inbound = ctx.inbound;
    let sig = parse_slack_signature(wire::required_header(inbound.headers, SIG_HEADER)?)?;
    let ts_text = wire::required_header(inbound.headers, TS_HEADER)?;
    let ts = wire::parse_digits(ts_text).ok_or(VerifyError::MalformedHeader(TS_HEADER))?;
    let parts: [&[u8]; 4] = [b"v0:", ts_text.as_bytes(), b":", inbound.body];
    if !wire::any_match(ctx.secrets, &parts, &[sig.v0]) {
        return Err(VerifyError::BadSignature);
    }
    wire::check_window(ts, ctx.now_unix, ctx.tolerance_secs)?;
    Ok(Some(ts))
}

/// The `event_id` of an authenticated body, else `<ts>:<sha256(body)>`.
pub(super) fn delivery_id(ctx: &Ctx<'_>, ts: u64) -> String {
    let body = ctx.inbound.body;
    match wire::json_str_field(body, "event_id") {
        Ok(event_id) => event_id,
        Err(_) => format!("{ts}:{}", wire::sha256_hex(body)),
    }
}

/// The `v0` signature Slack would send (tests and fixtures).
#[cfg(test)]
pub(super) fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> wire::Tag {
    let ts = timestamp.to_string();
    *wire::hmac_sha256(secret, &[b"v0:", ts.as_bytes(), b":", body])
        .unwrap_or_default()
        .as_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parser_shapes() {
        let hex = "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
        assert!(parse_slack_signature(&format!("v0={hex}")).is_ok());
        for bad in [
            String::new(),
            hex.to_owned(),
            format!("v1={hex}"),
            format!("v0={}", &hex[..63]),
            format!("v0={hex}0"),
            "v0=".to_owned(),
        ] {
            assert_eq!(
                parse_slack_signature(&bad),
                Err(VerifyError::MalformedHeader(SIG_HEADER)),
                "{bad:?}"
            );
        }
    }
}
