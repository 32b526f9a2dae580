//! What is kept of a verified delivery besides its body: a bounded delivery
//! id, the provider's event type, and the content type. Everything here
//! runs only after the signature matched.

use sha2::{Digest as _, Sha256};

use super::verify::Provider;

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

/// The members an event type is read from; everything else in the body is
/// skipped without being built.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Names {
    #[serde(rename = "type")]
    kind: Option<Label>,
    event_type: Option<Label>,
    object: Option<Label>,
    action: Option<Label>,
    challenge: Option<Label>,
    event: Option<Inner>,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Inner {
    #[serde(rename = "type")]
    kind: Option<Label>,
}

/// HubSpot batches: the first event's `subscriptionType`.
#[derive(serde::Deserialize)]
struct HubSpotEvent {
    #[serde(rename = "subscriptionType", default)]
    subscription_type: Option<Label>,
}

/// A member read as it is (only these few members are ever built).
type Label = serde_json::Value;

/// The member's text, when it is a string.
fn text(l: Option<Label>) -> Option<String> {
    match l {
        Some(serde_json::Value::String(s)) => Some(s),
        _ => None,
    }
}

/// The provider's name for the event, when the delivery carries one.
pub fn event_type(provider: Provider, headers: &http::HeaderMap, body: &[u8]) -> String {
    match provider {
        Provider::GitHub => {
            let header = headers
                .get("x-github-event")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            label(header)
        }
        Provider::HubSpot => serde_json::from_slice::<Vec<HubSpotEvent>>(body)
            .ok()
            .and_then(|events| events.into_iter().next())
            .and_then(|first| text(first.subscription_type))
            .map(|t| label(&t))
            .unwrap_or_default(),
        _ => {
            let Ok(n) = serde_json::from_slice::<Names>(body) else {
                return String::new();
            };
            let found = match provider {
                Provider::Paddle => text(n.event_type),
                Provider::Slack => text(n.event.and_then(|e| e.kind)).or(text(n.kind)),
                Provider::Meta => text(n.object),
                Provider::Linear => match (text(n.kind), text(n.action)) {
                    (Some(t), Some(a)) => Some(format!("{t}.{a}")),
                    (t, _) => t,
                },
                _ => text(n.kind),
            };
            found.map(|t| label(&t)).unwrap_or_default()
        }
    }
}

/// Slack's endpoint check: the challenge to echo for a (verified)
/// `url_verification` body.
pub fn slack_challenge(body: &[u8]) -> Option<String> {
    let n: Names = serde_json::from_slice(body).ok()?;
    match text(n.kind).as_deref() {
        Some("url_verification") => text(n.challenge),
        _ => None,
    }
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
