//! What is kept of a verified delivery besides its body: a bounded delivery
//! id, the provider's event type, and the content type. Everything here
//! runs only after the signature matched.

use sha2::{Digest as _, Sha256};

use crate::webhooks::Provider;

/// Longest delivery id kept as is; longer ones (HubSpot batches) are kept
/// as `sha256:<hex>` of the id, which dedupes the same way.
pub const MAX_DELIVERY_ID: usize = 200;
/// Longest event type or content type kept.
const MAX_LABEL: usize = 200;

/// The delivery id as stored.
pub fn delivery_id(raw: String) -> String {
    if raw.len() <= MAX_DELIVERY_ID {
        raw
    } else {
        let digest = Sha256::digest(raw.as_bytes());
        let mut out = String::with_capacity(7 + 64);
        out.push_str("sha256:");
        for b in digest {
            out.push_str(&format!("{b:02x}"));
        }
        out
    }
}

/// Printable ASCII, at most `MAX_LABEL` characters.
pub fn label(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(MAX_LABEL)
        .collect()
}

fn str_at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, key| v.get(key))
        .and_then(serde_json::Value::as_str)
}

/// The provider's name for the event, when the delivery carries one.
pub fn event_type(provider: Provider, headers: &http::HeaderMap, body: &[u8]) -> String {
    if provider == Provider::GitHub {
        let header = headers
            .get("x-github-event")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        return label(header);
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let found = match provider {
        Provider::Stripe | Provider::Resend | Provider::MercadoPago => str_at(&json, &["type"]),
        Provider::Paddle => str_at(&json, &["event_type"]),
        Provider::Slack => str_at(&json, &["event", "type"]).or(str_at(&json, &["type"])),
        Provider::Meta => str_at(&json, &["object"]),
        Provider::HubSpot => json
            .get(0)
            .and_then(|first| first.get("subscriptionType"))
            .and_then(serde_json::Value::as_str),
        Provider::Linear => {
            return match (str_at(&json, &["type"]), str_at(&json, &["action"])) {
                (Some(t), Some(a)) => label(&format!("{t}.{a}")),
                (Some(t), None) => label(t),
                _ => String::new(),
            };
        }
        Provider::GitHub => None,
    };
    found.map(label).unwrap_or_default()
}

/// Slack's endpoint check: the challenge to echo for a (verified)
/// `url_verification` body.
pub fn slack_challenge(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    (str_at(&json, &["type"]) == Some("url_verification"))
        .then(|| str_at(&json, &["challenge"]).map(str::to_owned))
        .flatten()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn long_delivery_ids_are_kept_as_their_digest() {
        assert_eq!(delivery_id("evt_1".to_owned()), "evt_1");
        let long = "1,".repeat(150);
        let kept = delivery_id(long.clone());
        assert!(kept.starts_with("sha256:") && kept.len() == 71);
        assert_eq!(kept, delivery_id(long));
        assert!(kept.len() <= MAX_DELIVERY_ID);
    }

    #[test]
    fn event_types_come_from_each_providers_field() {
        let h = http::HeaderMap::new();
        let t = |p, body: &str| event_type(p, &h, body.as_bytes());
        assert_eq!(
            t(Provider::Stripe, r#"{"type":"invoice.paid"}"#),
            "invoice.paid"
        );
        assert_eq!(t(Provider::Paddle, r#"{"event_type":"a.b"}"#), "a.b");
        assert_eq!(
            t(
                Provider::Slack,
                r#"{"type":"event_callback","event":{"type":"message"}}"#
            ),
            "message"
        );
        assert_eq!(
            t(
                Provider::HubSpot,
                r#"[{"subscriptionType":"contact.creation"}]"#
            ),
            "contact.creation"
        );
        assert_eq!(
            t(Provider::Linear, r#"{"type":"Issue","action":"create"}"#),
            "Issue.create"
        );
        assert_eq!(t(Provider::Meta, "not json"), "");
        let mut gh = http::HeaderMap::new();
        gh.insert("x-github-event", http::HeaderValue::from_static("issues"));
        assert_eq!(event_type(Provider::GitHub, &gh, b"{}"), "issues");
    }

    #[test]
    fn only_a_url_verification_body_has_a_challenge() {
        assert_eq!(
            slack_challenge(br#"{"type":"url_verification","challenge":"c1"}"#).as_deref(),
            Some("c1")
        );
        assert_eq!(
            slack_challenge(br#"{"type":"event_callback","challenge":"c1"}"#),
            None
        );
    }
}
