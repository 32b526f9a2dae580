//! The per-address rate limits of the HTTP routes: `webhook.address` for
//! provider deliveries, `operator.address` for `/cron/{job}` (README "Rate
//! limits"). A refusal is 429 with `Retry-After`
//! (whole seconds), after reading up to 64 KiB of the body so that HTTP/1.1
//! clients see the answer rather than a broken pipe.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use http_body_util::BodyExt as _;

use super::{reply::error, state::HttpState};
use crate::{
    error::ApiError,
    limits::{Charge, address_key},
};

/// How much of a refused request's body is read before answering.
const DRAIN_LIMIT: usize = 64 * 1024;

/// Charges the route's limit for the client address; 429 when refused.
pub async fn per_address(
    State(state): State<Arc<HttpState>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = if request.uri().path().starts_with("/webhooks/") {
        "webhook.address"
    } else {
        "operator.address"
    };
    let key =
        crate::edge::ClientAddr::of(&request).map_or_else(|| "ip:unknown".to_owned(), address_key);
    match state.limiter.charge_local(&[Charge::new(limit, key)]) {
        Ok(()) => next.run(request).await,
        Err(ApiError::Throttled { retry_after, .. }) => {
            drain(request.into_body()).await;
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests from this address",
            );
            if let Ok(value) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "try again later"),
    }
}

async fn drain(mut body: axum::body::Body) {
    let mut read = 0usize;
    while read <= DRAIN_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    read += data.len();
                }
            }
            _ => break,
        }
    }
}
