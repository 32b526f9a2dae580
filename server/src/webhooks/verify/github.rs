//! GitHub and Meta: `X-Hub-Signature-256: sha256=<hex>` over the raw body.
//!
//! Both sign the body as received with HMAC-SHA256 (GitHub: the webhook
//! secret; Meta: the app secret), hex encoded. Neither signs a timestamp, so
//! there is no window: replays must be caught by deduplicating on the
//! delivery id. GitHub's id is the `X-GitHub-Delivery` header, which is
//! **not** covered by the signature; Meta's is the hex SHA-256 of the
//! signed body, which is. The legacy SHA-1 `X-Hub-Signature` is ignored.

use super::model::VerifyError;
use super::wire::{self, Ctx};

const SIG_HEADER: &str = "x-hub-signature-256";
const DELIVERY_HEADER: &str = "x-github-delivery";

/// Parse `sha256=<64 hex>`.
fn parse_sha256_header(header: &str) -> Result<wire::Tag, VerifyError> {
    header
        .strip_prefix("sha256=")
        .and_then(wire::hex_decode_32)
        .ok_or(VerifyError::MalformedHeader(SIG_HEADER))
}

/// Check the body MAC shared by GitHub and Meta.
fn check_body_mac(ctx: &Ctx<'_>) -> Result<(), VerifyError> {
    let inbound = ctx.inbound;
    let sig = parse_sha256_header(wire::required_header(inbound.headers, SIG_HEADER)?)?;
    if wire::any_match(ctx.secrets, &[inbound.body], &[sig]) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// Verify a GitHub delivery; the id is `X-GitHub-Delivery`.
pub(super) fn authenticate_github(ctx: &Ctx<'_>) -> Result<Option<u64>, VerifyError> {
    wire::required_header(ctx.inbound.headers, DELIVERY_HEADER)?;
    check_body_mac(ctx)?;
    Ok(None)
}

/// The `X-GitHub-Delivery` header (outside the MAC).
pub(super) fn github_delivery_id(ctx: &Ctx<'_>) -> Result<String, VerifyError> {
    wire::required_header(ctx.inbound.headers, DELIVERY_HEADER).map(str::to_owned)
}

/// Verify a Meta delivery; the id is the hex SHA-256 of the signed body.
pub(super) fn authenticate_meta(ctx: &Ctx<'_>) -> Result<Option<u64>, VerifyError> {
    check_body_mac(ctx)?;
    Ok(None)
}

/// Meta sends no delivery id: the SHA-256 of the signed body stands in.
pub(super) fn meta_delivery_id(ctx: &Ctx<'_>) -> String {
    wire::sha256_hex(ctx.inbound.body)
}

/// The `X-Hub-Signature-256` value GitHub / Meta would send (tests).
#[cfg(test)]
pub(super) fn sign_header(secret: &[u8], body: &[u8]) -> String {
    let tag = wire::hmac_sha256(secret, &[body]).unwrap_or_default();
    format!("sha256={}", wire::hex_encode(tag.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parser_shapes() {
        let hex = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(parse_sha256_header(&format!("sha256={hex}")).is_ok());
        for bad in [
            String::new(),
            hex.to_owned(),
            format!("sha1={hex}"),
            format!("sha256={}", &hex[1..]),
            format!("sha256= {hex}"),
        ] {
            assert_eq!(
                parse_sha256_header(&bad),
                Err(VerifyError::MalformedHeader(SIG_HEADER)),
                "{bad:?}"
            );
        }
    }
}
