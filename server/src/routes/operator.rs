//! The operator routes, authenticated by `Authorization: Bearer
//! <OCHRE_CRON_SECRET>` (compared in constant time, as SHA-256 digests so
//! the comparison does not depend on the length either):
//! `POST /cron/{job}` runs a maintenance job. (The metrics are on the admin
//! listener, never here.)

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{
    reply::{error, json},
    state::HttpState,
};

/// Whether the request carries the cron secret as its bearer token.
fn authorized(ingress: &HttpState, headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let Some(token) = value
        .as_bytes()
        .strip_prefix(b"Bearer ")
        .or_else(|| value.as_bytes().strip_prefix(b"bearer "))
    else {
        return false;
    };
    let digest: [u8; 32] = Sha256::digest(token).into();
    bool::from(digest.ct_eq(&ingress.cron_digest))
}

fn unauthorized() -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// `POST /cron/{job}`.
pub async fn cron(
    State(ingress): State<Arc<HttpState>>,
    Path(job): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&ingress, &headers) {
        tracing::warn!("cron call refused: bad or missing bearer token");
        return unauthorized();
    }
    match job.as_str() {
        "purge-expired" => match ingress
            .db
            .purge_expired(crate::db::service::purge::PurgeRun::now())
            .await
        {
            Ok(deleted) => {
                tracing::info!(job, %deleted, "cron job done");
                json(StatusCode::OK, json!({ "job": job, "deleted": deleted }))
            }
            Err(e) => {
                tracing::error!(job, error = %e, "cron job failed");
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the job failed, retry later",
                )
            }
        },
        // Every org with events since its last checkpoint, now (before a
        // backup, say); the server also checkpoints on its own.
        "audit-checkpoint" => match ingress
            .db
            .checkpoint_audit(&ingress.checkpoints, 1, 0.0)
            .await
        {
            Ok(recorded) => {
                tracing::info!(job, recorded, "cron job done");
                json(
                    StatusCode::OK,
                    json!({ "job": job, "checkpoints": recorded }),
                )
            }
            Err(e) => {
                tracing::error!(job, error = %e, "cron job failed");
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the job failed, retry later",
                )
            }
        },
        _ => error(StatusCode::NOT_FOUND, "unknown job"),
    }
}
