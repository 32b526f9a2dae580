//! What verification works on and answers: the providers, the inbound
//! request exactly as received, and the outcomes.

/// A webhook sender whose signature scheme we know how to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Stripe: `Stripe-Signature: t=..,v1=..`.
    Stripe,
    /// Slack: `X-Slack-Signature: v0=..` + `X-Slack-Request-Timestamp`.
    Slack,
    /// HubSpot signature v3 (`X-HubSpot-Signature-v3`).
    HubSpot,
    /// Linear: `Linear-Signature` + `webhookTimestamp` in the body.
    Linear,
    /// GitHub: `X-Hub-Signature-256: sha256=..` + `X-GitHub-Delivery`.
    GitHub,
    /// Resend, Svix and Standard Webhooks (`svix-*` or `webhook-*` headers).
    Resend,
    /// Meta (WhatsApp, Messenger, Instagram): `X-Hub-Signature-256`.
    Meta,
    /// Paddle Billing: `Paddle-Signature: ts=..;h1=..`.
    Paddle,
    /// Mercado Pago: `x-signature: ts=..,v1=..` + `x-request-id`.
    MercadoPago,
}

impl Provider {
    /// Every provider, in declaration order.
    pub const ALL: [Provider; 9] = [
        Provider::Stripe,
        Provider::Slack,
        Provider::HubSpot,
        Provider::Linear,
        Provider::GitHub,
        Provider::Resend,
        Provider::Meta,
        Provider::Paddle,
        Provider::MercadoPago,
    ];

    /// The provider's id in the integration catalog and in webhook URLs.
    pub const fn id(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Slack => "slack",
            Provider::HubSpot => "hubspot",
            Provider::Linear => "linear",
            Provider::GitHub => "github",
            Provider::Resend => "resend",
            Provider::Meta => "meta",
            Provider::Paddle => "paddle",
            Provider::MercadoPago => "mercadopago",
        }
    }

    /// The provider with catalog id `id`.
    pub fn from_id(id: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.id() == id)
    }

    /// The vault field holding the secret this provider signs with.
    pub const fn signing_field(self) -> &'static str {
        match self {
            Provider::Slack => "signing_secret",
            Provider::Meta => "app_secret",
            _ => "webhook_signing_secret",
        }
    }

    /// The timestamp window used when the caller passes `tolerance_secs = 0`.
    ///
    /// `None` means the provider signs no timestamp (GitHub, Meta).
    pub const fn default_tolerance_secs(self) -> Option<u64> {
        match self {
            Provider::Stripe | Provider::Slack | Provider::HubSpot => Some(300),
            Provider::Resend | Provider::MercadoPago => Some(300),
            Provider::Linear => Some(60),
            Provider::Paddle => Some(5),
            Provider::GitHub | Provider::Meta => None,
        }
    }
}

/// One HTTP request as it arrived, before anything was parsed.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    /// The request method as received (`"POST"`). Signed by HubSpot only.
    pub method: &'a str,
    /// The request target as received: path and query (`/hooks/mp?data.id=1`).
    ///
    /// HubSpot v3 signs the full URL; pass an absolute URL
    /// (`https://host/path?query`) if you have it, otherwise
    /// `https://` + the `Host` header is prefixed.
    pub uri: &'a str,
    /// All request headers.
    pub headers: &'a http::HeaderMap,
    /// The raw request body, byte for byte.
    pub body: &'a [u8],
}

/// What a successful verification yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// A provider-specific id to deduplicate deliveries on (see
    /// [`verify()`](super::verify()) for where each one comes from).
    pub delivery_id: String,
    /// The signed timestamp, in Unix **seconds** (milliseconds are truncated);
    /// `None` for providers that sign none (GitHub, Meta).
    pub timestamp: Option<u64>,
}

/// Why a delivery was refused. Messages never contain secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is absent (the header's name).
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is present but cannot be parsed (the header's name).
    #[error("malformed header {0}")]
    MalformedHeader(&'static str),
    /// No signature matched any configured secret.
    #[error("signature does not match")]
    BadSignature,
    /// The signed timestamp is older than the tolerance allows.
    #[error("timestamp outside tolerance (too old)")]
    Stale,
    /// The signed timestamp is further in the future than the tolerance allows.
    #[error("timestamp outside tolerance (in the future)")]
    Future,
    /// The signature matched but the body lacks what we need from it.
    #[error("authenticated body is malformed")]
    MalformedBody,
}

/// What authentication alone yields: the signed timestamp, in Unix
/// seconds (`None` for providers that sign none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authenticated {
    pub timestamp: Option<u64>,
}
