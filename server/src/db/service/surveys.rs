//! The two public survey gates of `ochre_service`: read the survey a
//! verified token names, and store its one answer. The server has checked
//! the token's HMAC and expiry before either runs; both functions match all
//! four ids the token binds (org, conversation, customer, nonce) against
//! the row.

use chrono::{DateTime, Utc};
use sea_orm::FromQueryResult;
use secrecy::{ExposeSecret as _, SecretString};

use super::{Db, DbError, stmt};
use crate::crypto::survey_token::SurveyClaims;

/// Where a survey stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyState {
    Open,
    Answered,
    /// Revoked by a newer send for the same conversation and customer.
    Replaced,
    Expired,
}

/// What the survey page shows.
#[derive(Debug, Clone)]
pub struct SurveyView {
    pub org_name: String,
    pub expires_at: DateTime<Utc>,
    pub state: SurveyState,
}

/// What storing an answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    Stored(DateTime<Utc>),
    AlreadyAnswered,
    Expired,
    Replaced,
    /// The caller's credentials are the org's own staff.
    Staff,
    /// No survey matches the token.
    Unknown,
}

/// Credentials a public caller presented, used only to refuse staff.
#[derive(Debug, Clone, Copy, Default)]
pub struct PresentedStaff<'a> {
    /// The user of a MAC-verified access token.
    pub user: Option<crate::ids::UserId>,
    /// An API key, whole (hashed and compared in the database; its `Debug`
    /// is redacted).
    pub api_key: Option<&'a SecretString>,
}

#[derive(Debug, Clone, FromQueryResult)]
struct ViewRow {
    org_name: String,
    expires_at: DateTime<Utc>,
    state: String,
}

#[derive(Debug, Clone, FromQueryResult)]
struct SubmitRow {
    outcome: String,
    submitted_at: Option<DateTime<Utc>>,
}

fn ids(claims: &SurveyClaims) -> [sea_orm::Value; 4] {
    [
        claims.org.into(),
        claims.conversation.into(),
        claims.customer.into(),
        claims.nonce.to_vec().into(),
    ]
}

impl Db {
    /// The survey a verified token names (`None`: no such survey, or its
    /// org is deleted). Records nothing.
    pub async fn survey_by_token(
        &self,
        claims: &SurveyClaims,
    ) -> Result<Option<SurveyView>, DbError> {
        let row = ViewRow::find_by_statement(stmt(
            "SELECT org_name, expires_at, state FROM survey_by_token($1, $2, $3, $4)",
            ids(claims),
        ))
        .one(&self.service)
        .await?;
        Ok(row.map(|r| SurveyView {
            org_name: r.org_name,
            expires_at: r.expires_at,
            state: match r.state.as_str() {
                "open" => SurveyState::Open,
                "answered" => SurveyState::Answered,
                "replaced" => SurveyState::Replaced,
                _ => SurveyState::Expired,
            },
        }))
    }

    /// Stores the survey's one answer (see [`Submitted`]).
    pub async fn submit_survey_response(
        &self,
        claims: &SurveyClaims,
        score: i32,
        comment: &str,
        staff: PresentedStaff<'_>,
    ) -> Result<Submitted, DbError> {
        let [org, conversation, customer, nonce] = ids(claims);
        let row = SubmitRow::find_by_statement(stmt(
            "SELECT outcome, submitted_at \
               FROM submit_survey_response($1, $2, $3, $4, $5, $6, $7, $8)",
            [
                org,
                conversation,
                customer,
                nonce,
                score.into(),
                comment.into(),
                staff.user.into(),
                staff.api_key.map(|k| k.expose_secret().to_owned()).into(),
            ],
        ))
        .one(&self.service)
        .await?;
        let Some(row) = row else {
            return Ok(Submitted::Unknown);
        };
        Ok(match (row.outcome.as_str(), row.submitted_at) {
            ("stored", Some(at)) => Submitted::Stored(at),
            ("answered", _) => Submitted::AlreadyAnswered,
            ("expired", _) => Submitted::Expired,
            ("replaced", _) => Submitted::Replaced,
            ("staff", _) => Submitted::Staff,
            _ => Submitted::Unknown,
        })
    }
}
