//! `POST /webhooks/{provider}/{org_id}/{integration_id}`: read the raw body
//! (bounded), check the headers, fetch the signing secrets of the org's
//! integration through the service gate, verify the signature on the exact
//! bytes, then store the event (committed before the 2xx; a known delivery
//! id is a duplicate).

use std::{sync::Arc, time::Duration};

use tokio::sync::{Semaphore, SemaphorePermit};

use axum::{
    body::Body,
    extract::{Path, Request, State},
    http::StatusCode,
    response::Response,
};
use bytes::Bytes;
use sea_orm::{ConnAcquireErr, DbErr};
use serde_json::json;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::body::{self, BodyError};
use super::refusal::{
    Refusal, busy, pending_deletion, refusal, too_large, unknown_integration, verify_refusal,
};
use super::{Outcome, event};
use crate::db::DbError;
use crate::ids::{IntegrationId, OrgId, WebhookEventId};
use crate::routes::{
    reply::{error, json},
    state::{HttpState, MAX_BODY},
};
use crate::{
    clock::unix_now,
    crypto::contexts::secret_context,
    db::service::webhooks::{NewEvent, Recorded, SigningSecrets},
    webhooks::verify::{self, Inbound, Provider, Verified, VerifyError},
};

/// Bodies larger than this are verified on the blocking pool.
const INLINE_VERIFY_LIMIT: usize = 64 * 1024;
/// A delivery is answered within this (503 at worst), well under the
/// server's 60 s call timeout.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a delivery waits for a body slot or share before a 503 (for a
/// database connection: the ingress pool's own 2 s wait).
const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// The request as the verifier needs it, owned (so a large body can be
/// verified on the blocking pool).
struct Delivery {
    provider: Provider,
    method: http::Method,
    uri: String,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Delivery {
    fn verify(&self, secrets: &[Zeroizing<Vec<u8>>], now: u64) -> Result<Verified, VerifyError> {
        let keys: Vec<&[u8]> = secrets.iter().map(|s| s.as_slice()).collect();
        let inbound = Inbound {
            method: self.method.as_str(),
            uri: &self.uri,
            headers: &self.headers,
            body: &self.body,
        };
        verify::verify(self.provider, &inbound, &keys, now, 0)
    }
}

/// One permit of `slots`, waiting at most [`QUEUE_WAIT`]; 503 otherwise.
async fn permit(slots: &Semaphore) -> Result<SemaphorePermit<'_>, Refusal> {
    match tokio::time::timeout(QUEUE_WAIT, slots.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => {
            tracing::warn!("webhook ingress saturated: answering 503");
            Err(busy())
        }
    }
}

/// Reads at most [`MAX_BODY`] bytes at the minimum rate ([`body`]).
async fn read_body(raw: Body) -> Result<Bytes, Refusal> {
    match body::read(raw, MAX_BODY).await {
        Ok(bytes) => Ok(bytes),
        Err(BodyError::TooLarge) => Err(too_large()),
        Err(BodyError::Broken) => Err(refusal(
            Outcome::Malformed,
            StatusCode::BAD_REQUEST,
            "the body could not be read",
        )),
        Err(BodyError::TooSlow) => Err(refusal(
            Outcome::Malformed,
            StatusCode::REQUEST_TIMEOUT,
            "the body arrived too slowly",
        )),
    }
}

/// A path segment as logged: the UUID when it is one, empty otherwise (a
/// caller-chosen string never reaches a log line).
fn well_formed(segment: &str) -> String {
    Uuid::parse_str(segment)
        .map(|u| u.to_string())
        .unwrap_or_default()
}

/// The handler.
pub async fn receive(
    State(ingress): State<Arc<HttpState>>,
    Path((provider_id, org, integration)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let provider = Provider::from_id(&provider_id);
    // The integration is the org's: a malformed org id is as unknown as a
    // malformed integration id.
    let ids = Uuid::parse_str(&org)
        .ok()
        .zip(Uuid::parse_str(&integration).ok());
    let result = match (provider, ids) {
        (Some(provider), Some((org, integration))) => {
            // Answered (503) well before the server's own call timeout, which
            // would answer a plain-HTTP caller with an empty 200.
            tokio::time::timeout(
                HANDLER_TIMEOUT,
                handle(
                    &ingress,
                    provider,
                    OrgId::from_uuid(org),
                    IntegrationId::from_uuid(integration),
                    request,
                ),
            )
            .await
            .unwrap_or_else(|_| {
                tracing::warn!("webhook delivery timed out: answering 503");
                Err(busy())
            })
        }
        (None, _) => Err(refusal(
            Outcome::NotFound,
            StatusCode::NOT_FOUND,
            "unknown provider",
        )),
        (Some(_), None) => Err(unknown_integration()),
    };
    match result {
        Ok((outcome, response)) => {
            ingress.metrics.count(provider, outcome);
            response
        }
        Err(r) => {
            ingress.metrics.count(provider, r.outcome);
            // The path's values are logged only when they are well-formed.
            tracing::warn!(
                provider = provider.map_or("unknown", Provider::id),
                org_id = %well_formed(&org),
                integration_id = %well_formed(&integration),
                outcome = r.outcome.label(),
                reason = r.message,
                "webhook refused"
            );
            let mut response = error(r.status, r.message);
            if r.status == StatusCode::SERVICE_UNAVAILABLE {
                response.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("5"),
                );
            }
            response
        }
    }
}

async fn handle(
    ingress: &HttpState,
    provider: Provider,
    org_id: OrgId,
    integration: IntegrationId,
    request: Request,
) -> Result<(Outcome, Response), Refusal> {
    let client = crate::edge::ClientAddr::of(&request);
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |pq| pq.as_str());
    let mut delivery = Delivery {
        provider,
        method: parts.method,
        uri: format!("{}{path}", ingress.public_base),
        headers: parts.headers,
        body: Bytes::new(),
    };
    let now = unix_now();
    // Header checks cost no body and no database work: with no secret
    // nothing can verify, so only a missing or malformed header is refused
    // here, before the body is read. The window is judged after the MAC,
    // on an authenticated timestamp.
    if let Err(e @ (VerifyError::MissingHeader(_) | VerifyError::MalformedHeader(_))) =
        delivery.verify(&[], now)
    {
        return Err(verify_refusal(&e));
    }
    // The integration is looked up (by org and id) before any body byte is
    // read: a delivery to an unknown pair costs no body slot and no upload
    // time.
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "webhook ingress: database unavailable");
        busy()
    };
    // Past the ingress pool's size a delivery waits briefly (2 s) for a
    // connection, then gets 503.
    let db_failed = |e: DbError| match e.0 {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => {
            tracing::warn!("webhook ingress saturated: answering 503");
            busy()
        }
        _ => unavailable(&e),
    };
    let found = ingress
        .db
        .webhook_signing_secrets(org_id, integration, provider.id(), provider.signing_field())
        .await
        .map_err(db_failed)?;
    let secrets = match found {
        SigningSecrets::Found { secrets } => secrets,
        SigningSecrets::PendingDeletion => return Err(pending_deletion()),
        SigningSecrets::Unknown => return Err(unknown_integration()),
    };
    // Fair shares, then bounded memory: a few bodies per integration and per
    // address, at most `inflight` bodies read and held at once.
    // The shares are held while the body is read; the memory bound
    // (`_reading`) while the body is held.
    let _reading = {
        let _for_integration = ingress
            .per_integration
            .take((org_id, integration), QUEUE_WAIT)
            .await
            .ok_or_else(busy)?;
        let _for_address = match client {
            Some(ip) => Some(
                ingress
                    .per_address
                    .take(ip, QUEUE_WAIT)
                    .await
                    .ok_or_else(busy)?,
            ),
            None => None,
        };
        let reading = permit(&ingress.inflight).await?;
        delivery.body = read_body(body).await?;
        reading
    };
    let delivery = Arc::new(delivery);
    let mut keys = Vec::with_capacity(secrets.len());
    for (field, blob) in &secrets {
        match ingress
            .vault
            .decrypt(&secret_context(org_id, integration, field), blob)
        {
            Ok(key) => keys.push(key),
            Err(e) => {
                tracing::error!(%org_id, integration_id = %integration, field, error = %e,
                    "a signing secret does not decrypt");
            }
        }
    }
    if keys.is_empty() {
        return Err(if secrets.is_empty() {
            // The same answer as a wrong signature; the log tells them apart.
            tracing::warn!(%org_id, integration_id = %integration, "no signing secret is configured");
            verify_refusal(&VerifyError::BadSignature)
        } else {
            busy()
        });
    }
    let verified = if delivery.body.len() <= INLINE_VERIFY_LIMIT {
        delivery.verify(&keys, now)
    } else {
        let d = delivery.clone();
        tokio::task::spawn_blocking(move || d.verify(&keys, now))
            .await
            .map_err(|e| unavailable(&e))?
    }
    .map_err(|e| verify_refusal(&e))?;
    drop(secrets);

    let delivery_id = event::delivery_id(verified.delivery_id);
    let event_type = event::event_type(provider, &delivery.headers, &delivery.body);
    let content_type = delivery
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(event::label)
        .unwrap_or_default();
    let id = WebhookEventId::generate();
    let recorded = ingress
        .db
        .record_webhook_event(&NewEvent {
            id,
            org_id,
            integration_id: integration,
            provider: provider.id(),
            delivery_id: &delivery_id,
            event_type: &event_type,
            signed_at: verified
                .timestamp
                .and_then(|t| i64::try_from(t).ok())
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
            content_type: &content_type,
            payload: &delivery.body,
        })
        .await
        .map_err(db_failed)?;
    let (outcome, body) = match recorded {
        Recorded::Stored => {
            tracing::info!(%org_id, integration_id = %integration, provider = provider.id(),
                delivery_id, event_id = %id, event_type, "webhook accepted");
            (
                Outcome::Accepted,
                json!({ "status": "accepted", "event_id": id }),
            )
        }
        Recorded::Duplicate => {
            tracing::info!(%org_id, integration_id = %integration, provider = provider.id(),
                delivery_id, "webhook duplicate acknowledged");
            (Outcome::Duplicate, json!({ "status": "duplicate" }))
        }
        Recorded::Gone => {
            return Err(unknown_integration());
        }
        Recorded::PendingDeletion => {
            return Err(pending_deletion());
        }
    };
    // Slack checks a new endpoint by asking it to echo a challenge.
    let challenge = (provider == Provider::Slack)
        .then(|| event::slack_challenge(&delivery.body))
        .flatten();
    let body = match challenge {
        Some(challenge) => json!({ "challenge": challenge }),
        None => body,
    };
    Ok((outcome, json(StatusCode::OK, body)))
}
