//! The two public survey RPCs, answered without an account. Each checks
//! the token in memory first (format, key id, HMAC in constant time,
//! expiry): a tampered, unknown or foreign token is refused before any
//! database access, with one uniform answer. Reading records nothing;
//! submitting stores at most one answer per survey.

use ochre_sdk::v1::{
    GetSurveyRequest, GetSurveyResponse, SubmitSurveyResponseRequest, SubmitSurveyResponseResponse,
};
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::{Semaphore, SemaphorePermit};
use tonic::Request;

use crate::{
    clock::unix_now,
    crypto::{
        survey_token::{SurveyClaims, SurveyTokenError},
        tokens::{TokenKind, parse_prefix},
    },
    db::service::surveys::{PresentedStaff, Submitted, SurveyState},
    error::{ApiError, Reason},
    limits::{Charge, WindowLimiter, address_key},
    rpc::{convert::ts, state::AppState, validate},
};

/// The question every survey asks (the scale is 1-5).
pub const QUESTION: &str = "How satisfied were you with the support you received?";

/// The survey RPCs' own limits. Reads are limited per client address by
/// the gate (`public.address`); answers per address by
/// `survey_submit.address`, shared by every replica and charged here once
/// the link is proven genuine (garbage is refused by the HMAC check alone,
/// before any database work).
#[derive(Debug)]
pub struct PublicLimits {
    /// Submissions per survey token.
    per_token: WindowLimiter,
    /// Survey calls at once on the `ochre_service` pool, which sign-in
    /// shares: survey traffic cannot take all of it.
    db_slots: Semaphore,
}

/// Survey calls that may use the service pool at once.
pub const DB_SLOTS: usize = 4;
/// How long a survey call waits for a slot before RESOURCE_EXHAUSTED.
const DB_SLOT_WAIT: Duration = Duration::from_secs(2);

impl Default for PublicLimits {
    fn default() -> Self {
        let minute = Duration::from_secs(60);
        PublicLimits {
            per_token: WindowLimiter::new(5, minute, 100_000),
            db_slots: Semaphore::new(DB_SLOTS),
        }
    }
}

fn invalid_link() -> ApiError {
    ApiError::invalid_field("token", "invalid survey link")
}

fn expired() -> ApiError {
    ApiError::FailedPrecondition(
        Reason::SurveyLinkExpired,
        "this survey link has expired".into(),
    )
}

fn replaced() -> ApiError {
    ApiError::FailedPrecondition(
        Reason::SurveyLinkReplaced,
        "this survey link was replaced by a newer one".into(),
    )
}

/// Charges an answer with a genuine link to its client address's shared
/// limit (`survey_submit.address`, in Postgres: every replica counts).
async fn limit_address<T>(state: &AppState, request: &Request<T>) -> Result<(), ApiError> {
    let key = crate::edge::ClientAddr::from_extensions(request.extensions())
        .map_or_else(|| "ip:unknown".to_owned(), address_key);
    state
        .limiter
        .charge(&[Charge::new("survey_submit.address", key)])
        .await
}

/// A slot on the service pool, waited for briefly.
async fn db_slot(limits: &PublicLimits) -> Result<SemaphorePermit<'_>, ApiError> {
    match tokio::time::timeout(DB_SLOT_WAIT, limits.db_slots.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ApiError::Throttled {
            reason: Reason::ServerBusy,
            message: "surveys are busy: retry in a moment".into(),
            retry_after: Duration::from_secs(1),
        }),
    }
}

/// The claims of a genuine token (nothing else has been looked at yet).
fn claims(state: &AppState, token: &str) -> Result<SurveyClaims, ApiError> {
    let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
    state.surveys.verify(token, now).map_err(|e| match e {
        SurveyTokenError::Expired => expired(),
        SurveyTokenError::Malformed
        | SurveyTokenError::UnknownKey
        | SurveyTokenError::BadSignature => invalid_link(),
    })
}

pub async fn get(
    state: &AppState,
    limits: &PublicLimits,
    request: &Request<GetSurveyRequest>,
) -> Result<GetSurveyResponse, ApiError> {
    let claims = claims(state, &request.get_ref().token)?;
    let _slot = db_slot(limits).await?;
    let view = state
        .db
        .survey_by_token(&claims)
        .await?
        .ok_or_else(invalid_link)?;
    let answered = match view.state {
        SurveyState::Open => false,
        SurveyState::Answered => true,
        SurveyState::Replaced => return Err(replaced()),
        SurveyState::Expired => return Err(expired()),
    };
    Ok(GetSurveyResponse {
        org_name: view.org_name,
        question: QUESTION.to_owned(),
        scale_min: 1,
        scale_max: 5,
        expires_at: Some(ts(view.expires_at)),
        answered,
    })
}

/// Credentials the caller presented, if any: the user of an access token
/// whose MAC verifies (even an expired one), or an API key (the database
/// compares its hash). Used only to refuse the org's staff; a public RPC
/// admits everyone else, so this is the one handler that reads the
/// authorization header itself.
fn presented<T>(
    state: &AppState,
    request: &Request<T>,
) -> (Option<crate::ids::UserId>, Option<SecretString>) {
    let Some(token) = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return (None, None);
    };
    match parse_prefix(token) {
        Some(TokenKind::Access) => (state.signer.subject_of(token), None),
        Some(TokenKind::ApiKey) => (None, Some(SecretString::from(token.to_owned()))),
        _ => (None, None),
    }
}

pub async fn submit(
    state: &AppState,
    limits: &PublicLimits,
    request: &Request<SubmitSurveyResponseRequest>,
) -> Result<SubmitSurveyResponseResponse, ApiError> {
    let req = request.get_ref();
    if !(1..=5).contains(&req.score) {
        return Err(ApiError::invalid_field(
            "score",
            "score must be between 1 and 5",
        ));
    }
    let comment = validate::comment(&req.comment)?;
    let claims = claims(state, &req.token)?;
    limit_address(state, request).await?;
    limits.per_token.hit(
        &base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            claims.nonce,
        ),
        "too many answers for this survey: retry later",
    )?;
    let (user, api_key) = presented(state, request);
    let staff = PresentedStaff {
        user,
        api_key: api_key.as_ref(),
    };
    let _slot = db_slot(limits).await?;
    let outcome = state
        .db
        .submit_survey_response(&claims, req.score, &comment, staff)
        .await?;
    match outcome {
        Submitted::Stored(at) => Ok(SubmitSurveyResponseResponse {
            submitted_at: Some(ts(at)),
        }),
        Submitted::AlreadyAnswered => Err(ApiError::FailedPrecondition(
            Reason::SurveyAnswered,
            "this survey has already been answered".into(),
        )),
        Submitted::Expired => Err(expired()),
        Submitted::Replaced => Err(replaced()),
        Submitted::Staff => Err(ApiError::PermissionDenied(
            Reason::StaffCannotAnswer,
            "members of the org cannot answer its surveys".into(),
        )),
        Submitted::Unknown => Err(invalid_link()),
    }
}
