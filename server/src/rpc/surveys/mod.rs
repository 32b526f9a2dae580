//! `ochre.v1.SurveyService`: members send CSAT surveys and read the
//! answers; customers read and answer them without an account
//! ([`public`]).

mod public;

use std::sync::Arc;

use ochre_sdk::v1::{
    GetCsatSummaryRequest, GetCsatSummaryResponse, GetSurveyRequest, GetSurveyResponse,
    ListSurveyResponsesRequest, ListSurveyResponsesResponse, SendSurveyRequest, SendSurveyResponse,
    SubmitSurveyResponseRequest, SubmitSurveyResponseResponse, SurveyResponse,
    survey_service_server::SurveyService,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    convert::{parse_id, time, ts},
    pager::{ListKind, page_size},
    request_ids::{self, fresh_or_replay},
};
use crate::{
    crypto::survey_token::{SurveyClaims, random_nonce},
    db::store::{
        audit::{self, AuditTarget},
        request_ids::About,
        surveys::{self as store, Filter, ResponseRow},
    },
    error::{ApiError, Reason},
    gate::principal,
    ids::{ConversationId, SurveyId, UserId},
    rpc::state::AppState,
};

/// Days a survey link is valid unless the sender says otherwise.
pub const DEFAULT_TTL_DAYS: i32 = 7;
/// The longest validity a sender may ask for.
pub const MAX_TTL_DAYS: i32 = 28;

/// The handler of `SurveyService`.
#[derive(Debug, Clone)]
pub struct SurveyApi {
    state: AppState,
    limits: Arc<public::PublicLimits>,
}

impl SurveyApi {
    pub fn new(state: AppState) -> Self {
        SurveyApi {
            state,
            limits: Arc::default(),
        }
    }
}

fn ttl_days(requested: i32) -> Result<i32, ApiError> {
    match requested {
        0 => Ok(DEFAULT_TTL_DAYS),
        1..=MAX_TTL_DAYS => Ok(requested),
        _ => Err(ApiError::invalid_field(
            "ttl_days",
            format!("ttl_days must be between 1 and {MAX_TTL_DAYS} (0: {DEFAULT_TTL_DAYS})"),
        )),
    }
}

fn filter(
    since: Option<&prost_types::Timestamp>,
    until: Option<&prost_types::Timestamp>,
    agent: &str,
) -> Result<Filter, ApiError> {
    let filter = Filter {
        since: time("since", since)?,
        until: time("until", until)?,
        agent: match agent {
            "" => None,
            id => Some(parse_id::<UserId>("agent_user_id", id)?),
        },
    };
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since >= until
    {
        return Err(ApiError::invalid_field(
            "since",
            "since must be before until",
        ));
    }
    Ok(filter)
}

fn response(r: ResponseRow) -> SurveyResponse {
    SurveyResponse {
        survey_id: r.survey_id.to_string(),
        conversation_id: r.conversation_id.to_string(),
        customer_id: r.customer_id.to_string(),
        agent_user_id: r.agent_user_id.map(|u| u.to_string()).unwrap_or_default(),
        score: i32::from(r.score),
        comment: r.comment,
        submitted_at: Some(ts(r.submitted_at)),
    }
}

#[tonic::async_trait]
impl SurveyService for SurveyApi {
    async fn send_survey(
        &self,
        request: Request<SendSurveyRequest>,
    ) -> Result<Response<SendSurveyResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let conversation: ConversationId = parse_id("conversation_id", &req.conversation_id)?;
        let ttl = ttl_days(req.ttl_days)?;
        let (org, _) = p.require_org()?;
        let id = SurveyId::from_uuid(Uuid::now_v7());
        let nonce = random_nonce();
        let tx = p.tenant(&self.state.db).await?;
        let ticket = fresh_or_replay!(
            request_ids::start(&self.state, &tx, &p, req, org).await?,
            tx
        );
        let target = store::lock_target(&tx, conversation)
            .await?
            .ok_or_else(ApiError::not_found)?;
        // One rating per conversation and customer: an answered survey is
        // never replaced (so nobody holding the link can vote again).
        if target.answered {
            return Err(ApiError::FailedPrecondition(
                Reason::SurveyAnswered,
                "this conversation's survey has already been answered".into(),
            )
            .into());
        }
        let agent = target.assignee_id.or(p.user_id());
        let expires_at = store::send(&tx, id, conversation, &target, agent, &nonce, ttl).await?;
        let detail = serde_json::json!({ "conversation_id": conversation, "ttl_days": ttl });
        audit::record(
            &tx,
            "survey.sent",
            AuditTarget::of("survey", id),
            detail,
            &p.audit(),
        )
        .await?;
        let claims = SurveyClaims {
            org,
            conversation,
            customer: target.customer_id,
            nonce,
            expires_at: expires_at.timestamp(),
        };
        let answer = SendSurveyResponse {
            survey_id: id.to_string(),
            token: self.state.surveys.issue(&claims),
            expires_at: Some(ts(expires_at)),
        };
        let about = About {
            customer: Some(target.customer_id),
            conversation: Some(conversation),
        };
        ticket.keep(&self.state, &tx, &answer, about).await?;
        tx.commit().await?;
        Ok(Response::new(answer))
    }

    async fn get_survey(
        &self,
        request: Request<GetSurveyRequest>,
    ) -> Result<Response<GetSurveyResponse>, Status> {
        Ok(Response::new(
            public::get(&self.state, &self.limits, &request).await?,
        ))
    }

    async fn submit_survey_response(
        &self,
        request: Request<SubmitSurveyResponseRequest>,
    ) -> Result<Response<SubmitSurveyResponseResponse>, Status> {
        Ok(Response::new(
            public::submit(&self.state, &self.limits, &request).await?,
        ))
    }

    async fn list_survey_responses(
        &self,
        request: Request<ListSurveyResponsesRequest>,
    ) -> Result<Response<ListSurveyResponsesResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let size = page_size(req.page_size)?;
        let filter = filter(req.since.as_ref(), req.until.as_ref(), &req.agent_user_id)?;
        let (org, _) = p.require_org()?;
        let key = format!(
            "since={:?};until={:?};agent={:?}",
            filter.since, filter.until, filter.agent
        );
        let after = self.state.pager.resume::<SurveyId>(
            &req.page_token,
            ListKind::SurveyResponses,
            org,
            &key,
        )?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let mut rows = store::responses(&tx, filter, after, size + 1).await?;
        tx.finish_read().await?;
        let next_page_token = self.state.pager.finish(
            &mut rows,
            size,
            false,
            ListKind::SurveyResponses,
            org,
            &key,
            |r| r.survey_id,
        );
        Ok(Response::new(ListSurveyResponsesResponse {
            responses: rows.into_iter().map(response).collect(),
            next_page_token,
        }))
    }

    async fn get_csat_summary(
        &self,
        request: Request<GetCsatSummaryRequest>,
    ) -> Result<Response<GetCsatSummaryResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let filter = filter(req.since.as_ref(), req.until.as_ref(), &req.agent_user_id)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let summary = store::summary(&tx, filter).await?;
        tx.finish_read().await?;
        let csat = if summary.responses > 0 {
            summary.satisfied as f64 / summary.responses as f64
        } else {
            0.0
        };
        Ok(Response::new(GetCsatSummaryResponse {
            responses: summary.responses,
            satisfied: summary.satisfied,
            csat,
        }))
    }
}
