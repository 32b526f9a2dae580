//! Resend, Svix and Standard Webhooks.
//!
//! Headers `svix-id`, `svix-timestamp`, `svix-signature` (Svix, Resend) or
//! `webhook-id`, `webhook-timestamp`, `webhook-signature` (Standard
//! Webhooks); the `svix-` family wins when `svix-id` is present. Signed
//! bytes are `id + "." + timestamp + "." + body`, HMAC-SHA256 keyed with the
//! base64-decoded part of the secret after `whsec_` (the prefix is
//! optional), base64 encoded. The signature header is a space-separated
//! list of `version,signature`; only `v1` counts (`v1a` asymmetric and
//! unknown versions are ignored). Default window 300 s. Delivery id: the
//! message id.

use base64::Engine as _;

use super::model::VerifyError;
use super::wire::{self, Ctx};

const SVIX_ID: &str = "svix-id";
const SVIX_TS: &str = "svix-timestamp";
const SVIX_SIG: &str = "svix-signature";
const STD_ID: &str = "webhook-id";
const STD_TS: &str = "webhook-timestamp";
const STD_SIG: &str = "webhook-signature";

/// A parsed `svix-signature` / `webhook-signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvixSig {
    /// Every well-formed `v1` signature, in header order.
    pub v1: Vec<[u8; 32]>,
}

/// Parse a `svix-signature` / `webhook-signature` value. Never panics.
///
/// # Errors
///
/// [`VerifyError::MalformedHeader`] (named `svix-signature`) for: an
/// empty or oversized header, or an entry without a `,`. Entries of other
/// versions, or `v1` entries whose base64 is not 32 bytes, are skipped.
pub fn parse_svix_signature(header: &str) -> Result<SvixSig, VerifyError> {
    parse_with_name(header, SVIX_SIG)
}

fn parse_with_name(header: &str, name: &'static str) -> Result<SvixSig, VerifyError> {
    if header.len() > wire::MAX_HEADER_LEN {
        return Err(VerifyError::MalformedHeader(name));
    }
    let mut v1 = Vec::new();
    let mut any_entry = false;
    for entry in header.split_ascii_whitespace() {
        any_entry = true;
        let (version, sig) = entry
            .split_once(',')
            .ok_or(VerifyError::MalformedHeader(name))?;
        if version == "v1" {
            v1.extend(wire::b64_decode_32(sig));
        }
    }
    if !any_entry {
        return Err(VerifyError::MalformedHeader(name));
    }
    Ok(SvixSig { v1 })
}

/// The HMAC key for one configured secret: base64 after an optional
/// `whsec_`. Secrets that do not decode are skipped (they can never match).
fn signing_key(secret: &[u8]) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(b"whsec_").unwrap_or(secret);
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .filter(|key| !key.is_empty())
}

/// Verify a Svix / Standard Webhooks delivery (see the module docs).
pub(super) fn authenticate(ctx: &Ctx<'_>) -> Result<Option<u64>, VerifyError> {
    let headers = ctx.inbound.headers;
    let (id_name, ts_name, sig_name) = if wire::header(headers, SVIX_ID)?.is_some() {
        (SVIX_ID, SVIX_TS, SVIX_SIG)
    } else if wire::header(headers, STD_ID)?.is_some() {
        (STD_ID, STD_TS, STD_SIG)
    } else {
        return Err(VerifyError::MissingHeader(SVIX_ID));
    };
    let id = wire::required_header(headers, id_name)?;
    let ts_text = wire::required_header(headers, ts_name)?;
    let ts = wire::parse_digits(ts_text).ok_or(VerifyError::MalformedHeader(ts_name))?;
    let sig = parse_with_name(wire::required_header(headers, sig_name)?, sig_name)?;
    let keys: Vec<Vec<u8>> = ctx.secrets.iter().filter_map(|s| signing_key(s)).collect();
    let parts: [&[u8]; 5] = [
        id.as_bytes(),
        b".",
        ts_text.as_bytes(),
        b".",
        ctx.inbound.body,
    ];
    if !wire::any_match(&keys, &parts, &sig.v1) {
        return Err(VerifyError::BadSignature);
    }
    wire::check_window(ts, ctx.now_unix, ctx.tolerance_secs)?;
    Ok(Some(ts))
}

/// The message id (`svix-id`, else `webhook-id`).
pub(super) fn delivery_id(ctx: &Ctx<'_>) -> Result<String, VerifyError> {
    let headers = ctx.inbound.headers;
    match wire::header(headers, SVIX_ID)? {
        Some(id) if !id.is_empty() => Ok(id.to_owned()),
        _ => wire::required_header(headers, STD_ID).map(str::to_owned),
    }
}

/// The `v1,<base64>` entry Svix would send (tests).
#[cfg(test)]
pub(super) fn sign(secret: &[u8], id: &str, ts: u64, body: &[u8]) -> String {
    let key = signing_key(secret).unwrap_or_default();
    let ts = ts.to_string();
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", ts.as_bytes(), b".", body];
    let tag = wire::hmac_sha256(&key, &parts).unwrap_or_default();
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(tag)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parser_shapes() {
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(parse_svix_signature(good).unwrap().v1.len(), 1);
        // Mixed versions as in standard-webhooks libraries/go/webhook_test.go
        // ("valid multi sig is valid"): only v1 entries are kept.
        let multi =
            format!("v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,AAAA {good} v1a,xyz");
        assert_eq!(parse_svix_signature(&multi).unwrap().v1.len(), 2);
        assert!(
            parse_svix_signature("v1,not-base64!")
                .unwrap()
                .v1
                .is_empty()
        );
        for bad in [
            "",
            "   ",
            "v1",
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ] {
            assert_eq!(
                parse_svix_signature(bad),
                Err(VerifyError::MalformedHeader(SVIX_SIG)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn secret_prefix_is_optional() {
        assert_eq!(signing_key(b"whsec_AAEC"), Some(vec![0, 1, 2]));
        assert_eq!(signing_key(b"AAEC"), Some(vec![0, 1, 2]));
        assert_eq!(signing_key(b"whsec_***"), None);
        assert_eq!(signing_key(b"whsec_"), None);
    }
}
