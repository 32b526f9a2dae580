//! The nine webhook senders as the tests know them: catalog id, vault
//! field, signature header, timestamp window; and the HMAC primitive every
//! scheme is computed with (independently of the server's verifier).

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// A webhook sender, as the tests know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum P {
    Stripe,
    Slack,
    HubSpot,
    Linear,
    GitHub,
    Resend,
    Meta,
    Paddle,
    MercadoPago,
}

impl P {
    pub const ALL: [P; 9] = [
        P::Stripe,
        P::Slack,
        P::HubSpot,
        P::Linear,
        P::GitHub,
        P::Resend,
        P::Meta,
        P::Paddle,
        P::MercadoPago,
    ];

    /// The catalog id, also the path segment.
    pub fn id(self) -> &'static str {
        match self {
            P::Stripe => "stripe",
            P::Slack => "slack",
            P::HubSpot => "hubspot",
            P::Linear => "linear",
            P::GitHub => "github",
            P::Resend => "resend",
            P::Meta => "meta",
            P::Paddle => "paddle",
            P::MercadoPago => "mercadopago",
        }
    }

    /// The vault field holding the signing secret.
    pub fn field(self) -> &'static str {
        match self {
            P::Slack => "signing_secret",
            P::Meta => "app_secret",
            _ => "webhook_signing_secret",
        }
    }

    /// The signed timestamp's window, for providers that sign one.
    pub fn window_secs(self) -> Option<u64> {
        match self {
            P::Stripe | P::Slack | P::HubSpot | P::Resend | P::MercadoPago => Some(300),
            P::Linear => Some(60),
            P::Paddle => Some(5),
            P::GitHub | P::Meta => None,
        }
    }

    /// Whether one header carries several signatures during a rotation.
    pub fn multi_signature(self) -> bool {
        matches!(self, P::Stripe | P::Resend | P::Paddle)
    }

    /// A fresh signing secret in the provider's format: Resend's is
    /// `whsec_` + base64 of random key bytes, the others a random string.
    pub fn new_secret(self) -> String {
        let mut bytes = uuid::Uuid::new_v4().as_bytes().to_vec();
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        match self {
            P::Resend => format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
            _ => format!("{}_whsecret_{}", self.id(), hex::encode(bytes)),
        }
    }

    /// The header carrying the signature.
    pub fn signature_header(self) -> &'static str {
        match self {
            P::Stripe => "stripe-signature",
            P::Slack => "x-slack-signature",
            P::HubSpot => "x-hubspot-signature-v3",
            P::Linear => "linear-signature",
            P::GitHub | P::Meta => "x-hub-signature-256",
            P::Resend => "svix-signature",
            P::Paddle => "paddle-signature",
            P::MercadoPago => "x-signature",
        }
    }

    /// A signature header value that cannot be parsed.
    pub fn malformed_signature(self) -> &'static str {
        match self {
            P::Stripe | P::Paddle | P::MercadoPago => "garbage",
            P::Slack => "v0=zz",
            P::HubSpot => "***not base64***",
            P::Linear => "zz",
            P::GitHub | P::Meta => "sha1=abc",
            P::Resend => "garbage",
        }
    }

    /// Other headers the scheme requires (without them: 400).
    pub fn other_required_headers(self) -> &'static [&'static str] {
        match self {
            P::Slack => &["x-slack-request-timestamp"],
            P::HubSpot => &["x-hubspot-request-timestamp"],
            P::Linear => &["linear-delivery"],
            P::GitHub => &["x-github-delivery"],
            P::Resend => &["svix-id", "svix-timestamp"],
            P::MercadoPago => &["x-request-id"],
            P::Stripe | P::Meta | P::Paddle => &[],
        }
    }

    /// The HMAC key a secret string stands for.
    pub fn key(self, secret: &str) -> Vec<u8> {
        match self {
            P::Resend => {
                let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .expect("a Resend secret is whsec_ + base64")
            }
            _ => secret.as_bytes().to_vec(),
        }
    }
}

/// HMAC-SHA256 of the concatenated parts.
pub fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        m.update(part);
    }
    m.finalize().into_bytes().into()
}

/// Standard base64 with padding.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
