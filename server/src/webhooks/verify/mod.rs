//! Inbound webhook signature verification for third-party providers.
//!
//! Everything here is a pure function: no I/O, no clock, no globals. The
//! caller passes the request exactly as received ([`Inbound`]), the
//! provider's signing secrets (current first, then any previous ones during a
//! rotation), the current Unix time and an optional tolerance override.
//!
//! Rules every provider follows (the providers' documented schemes; the README
//! lists them per provider):
//!
//! * The MAC is computed over the **exact raw bytes** that were received and
//!   compared in constant time ([`subtle`]). Nothing in the body is parsed
//!   before the MAC has matched; the body is parsed afterwards only to pull
//!   out the delivery id (and, for Linear, the signed `webhookTimestamp`).
//! * Several signatures in one header (Stripe `v1=`, Svix `v1,…`, Paddle
//!   `h1=`) and several secrets both mean a rotation is under way: any
//!   (secret, signature) pair that matches is accepted.
//! * Signed timestamps must fall inside `[now - tolerance, now + tolerance]`;
//!   older is [`VerifyError::Stale`], newer is [`VerifyError::Future`].
//!   GitHub and Meta sign no timestamp and have no window: deduplicate on
//!   [`Verified::delivery_id`].
//! * Header parsers ([`parse_stripe_signature`], [`parse_slack_signature`],
//!   [`parse_svix_signature`], [`parse_paddle_signature`],
//!   [`parse_mercadopago_signature`]) never panic on any input.
//! * Not everything is authenticated: Mercado Pago signs no body bytes (only
//!   the query's `data.id`, `x-request-id` and `ts`), so treat its body as a
//!   hint and fetch the resource by id; an alphanumeric `data.id` is
//!   accepted signed lower-cased (the docs) or as sent (most SDKs); GitHub's `X-GitHub-Delivery` and
//!   Linear's `Linear-Delivery` ids are outside the MAC.

mod github;
mod hubspot;
mod linear;
mod mercadopago;
mod model;
mod paddle;
mod slack;
mod stripe;
mod svix;
mod wire;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests_negative;
#[cfg(test)]
mod tests_props;
#[cfg(test)]
mod tests_vectors;
#[cfg(test)]
mod tests_vectors_pay;

pub use mercadopago::{MercadoPagoSig, parse_mercadopago_signature};
pub use model::{Authenticated, Inbound, Provider, Verified, VerifyError};
pub use paddle::{PaddleSig, parse_paddle_signature};
pub use slack::{SlackSig, parse_slack_signature};
pub use stripe::{StripeSig, parse_stripe_signature};
pub use svix::{SvixSig, parse_svix_signature};

/// Check one inbound delivery's signature (and signed timestamp) only:
/// the MAC over the exact raw bytes in constant time, then the window.
/// Nothing in the body is read, except Linear's `webhookTimestamp`, which
/// is part of what Linear signs. See [`verify()`] for the arguments.
pub fn authenticate(
    provider: Provider,
    inbound: &Inbound<'_>,
    secrets: &[&[u8]],
    now_unix: u64,
    tolerance_secs: u64,
) -> Result<Authenticated, VerifyError> {
    let ctx = context(provider, inbound, secrets, now_unix, tolerance_secs);
    let timestamp = match provider {
        Provider::Stripe => stripe::authenticate(&ctx),
        Provider::Slack => slack::authenticate(&ctx),
        Provider::HubSpot => hubspot::authenticate(&ctx),
        Provider::Linear => linear::authenticate(&ctx),
        Provider::GitHub => github::authenticate_github(&ctx),
        Provider::Resend => svix::authenticate(&ctx),
        Provider::Meta => github::authenticate_meta(&ctx),
        Provider::Paddle => paddle::authenticate(&ctx),
        Provider::MercadoPago => mercadopago::authenticate(&ctx),
    }?;
    Ok(Authenticated { timestamp })
}

/// The delivery id of a delivery [`authenticate()`] accepted (see
/// [`verify()`] for where each comes from). Call it only after
/// authentication: it reads the body.
pub fn delivery_id(
    provider: Provider,
    inbound: &Inbound<'_>,
    authenticated: &Authenticated,
) -> Result<String, VerifyError> {
    let ctx = context(provider, inbound, &[], 0, 0);
    match provider {
        Provider::Stripe => stripe::delivery_id(&ctx),
        Provider::Slack => Ok(slack::delivery_id(
            &ctx,
            authenticated.timestamp.unwrap_or_default(),
        )),
        Provider::HubSpot => hubspot::delivery_id(&ctx),
        Provider::Linear => linear::delivery_id(&ctx),
        Provider::GitHub => github::github_delivery_id(&ctx),
        Provider::Resend => svix::delivery_id(&ctx),
        Provider::Meta => Ok(github::meta_delivery_id(&ctx)),
        Provider::Paddle => paddle::delivery_id(&ctx),
        Provider::MercadoPago => mercadopago::delivery_id(&ctx),
    }
}

fn context<'a>(
    provider: Provider,
    inbound: &'a Inbound<'a>,
    secrets: &'a [&'a [u8]],
    now_unix: u64,
    tolerance_secs: u64,
) -> wire::Ctx<'a> {
    let tolerance = match (tolerance_secs, provider.default_tolerance_secs()) {
        (0, Some(default)) => default,
        (given, _) => given,
    };
    wire::Ctx {
        inbound,
        secrets,
        now_unix,
        tolerance_secs: tolerance,
    }
}

/// Verify one inbound delivery from `provider`: [`authenticate()`], then
/// [`delivery_id()`].
///
/// `secrets` are tried in turn (current and previous secrets during a
/// rotation); empty secrets are ignored, and no secrets at all can never
/// verify. `tolerance_secs = 0` selects the provider's default
/// ([`Provider::default_tolerance_secs`]); it is ignored for providers
/// without a signed timestamp.
///
/// Delivery ids: Stripe event `id` (body), Slack `event_id` (body, else
/// `<timestamp>:<sha256(body)>`), HubSpot `eventId`s joined by `,` (body),
/// Linear `Linear-Delivery`, GitHub `X-GitHub-Delivery`, Svix / Standard
/// Webhooks message id, Meta hex SHA-256 of the body, Paddle `event_id`
/// (body), Mercado Pago `x-request-id`.
pub fn verify(
    provider: Provider,
    inbound: &Inbound<'_>,
    secrets: &[&[u8]],
    now_unix: u64,
    tolerance_secs: u64,
) -> Result<Verified, VerifyError> {
    let authenticated = authenticate(provider, inbound, secrets, now_unix, tolerance_secs)?;
    Ok(Verified {
        delivery_id: delivery_id(provider, inbound, &authenticated)?,
        timestamp: authenticated.timestamp,
    })
}
