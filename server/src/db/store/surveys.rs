//! CSAT surveys of the scope's org: sending one (revoking the previous open
//! one of the same conversation and customer) and reading the answers.
//! Answers are written only by the public gate (`db::service::surveys`).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbErr, FromQueryResult};

use super::stmt;
use crate::db::{DbError, TenantTx};
use crate::ids::{ConversationId, CustomerId, SurveyId, UserId};

/// What sending a survey needs of its conversation.
#[derive(Debug, Clone, FromQueryResult)]
pub struct SurveyTarget {
    pub customer_id: CustomerId,
    pub assignee_id: Option<UserId>,
    /// The open survey of this conversation and customer is answered.
    pub answered: bool,
}

#[derive(Debug, Clone, FromQueryResult)]
struct Sent {
    expires_at: DateTime<Utc>,
}

/// One answer with its survey.
#[derive(Debug, Clone, FromQueryResult)]
pub struct ResponseRow {
    pub survey_id: SurveyId,
    pub conversation_id: ConversationId,
    pub customer_id: CustomerId,
    pub agent_user_id: Option<UserId>,
    pub score: i16,
    pub comment: String,
    pub submitted_at: DateTime<Utc>,
}

/// Answers in a period, and how many scored 4 or 5.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Summary {
    pub responses: i64,
    pub satisfied: i64,
}

/// Which answers to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub agent: Option<UserId>,
}

/// Locks the conversation (so concurrent sends for it queue) and returns
/// its customer, its assignee and whether its open survey is answered;
/// `None` when it is not the org's.
pub async fn lock_target(
    tx: &TenantTx,
    conversation: ConversationId,
) -> Result<Option<SurveyTarget>, DbError> {
    Ok(SurveyTarget::find_by_statement(stmt(
        "SELECT c.customer_id, c.assignee_id, EXISTS ( \
                SELECT 1 FROM surveys s JOIN survey_responses r \
                  ON r.org_id = s.org_id AND r.survey_id = s.id \
                 WHERE s.org_id = c.org_id AND s.conversation_id = c.id \
                   AND s.customer_id = c.customer_id AND s.revoked_at IS NULL) AS answered \
           FROM conversations c WHERE c.org_id = $2 AND c.id = $1 FOR UPDATE OF c",
        [conversation.into(), tx.org().into()],
    ))
    .one(tx.conn())
    .await?)
}

/// Revokes the open survey of this conversation and customer, if any, and
/// records a new one sent by the verified caller; returns its expiry.
pub async fn send(
    tx: &TenantTx,
    id: SurveyId,
    conversation: ConversationId,
    target: &SurveyTarget,
    agent: Option<UserId>,
    nonce: &[u8; 16],
    ttl_days: i32,
) -> Result<DateTime<Utc>, DbError> {
    tx.conn()
        .execute_raw(stmt(
            "UPDATE surveys SET revoked_at = now() \
              WHERE org_id = $3 AND conversation_id = $1 AND customer_id = $2 \
                AND revoked_at IS NULL",
            [
                conversation.into(),
                target.customer_id.into(),
                tx.org().into(),
            ],
        ))
        .await?;
    let sent = Sent::find_by_statement(stmt(
        "INSERT INTO surveys (org_id, id, conversation_id, customer_id, agent_user_id, \
           sent_by_user_id, sent_by_api_key_id, nonce, expires_at) \
         VALUES ($7, $1, $2, $3, $4, app_user(), app_api_key(), $5, \
                 now() + make_interval(days => $6)) \
         RETURNING expires_at",
        [
            id.into(),
            conversation.into(),
            target.customer_id.into(),
            agent.into(),
            nonce.to_vec().into(),
            ttl_days.into(),
            tx.org().into(),
        ],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotInserted)?;
    Ok(sent.expires_at)
}

/// Answers newest first (by submission time), after the answer to `after`.
pub async fn responses(
    tx: &TenantTx,
    filter: Filter,
    after: Option<SurveyId>,
    limit: u64,
) -> Result<Vec<ResponseRow>, DbError> {
    Ok(ResponseRow::find_by_statement(stmt(
        "SELECT r.survey_id, s.conversation_id, s.customer_id, s.agent_user_id, r.score, \
                r.comment, r.submitted_at \
           FROM survey_responses r \
           JOIN surveys s ON s.org_id = r.org_id AND s.id = r.survey_id \
          WHERE r.org_id = $6 \
            AND ($1::timestamptz IS NULL OR r.submitted_at >= $1) \
            AND ($2::timestamptz IS NULL OR r.submitted_at < $2) \
            AND ($3::uuid IS NULL OR s.agent_user_id = $3) \
            AND ($4::uuid IS NULL OR (r.submitted_at, r.survey_id) < \
                 (SELECT a.submitted_at, a.survey_id FROM survey_responses a \
                   WHERE a.org_id = $6 AND a.survey_id = $4)) \
          ORDER BY r.submitted_at DESC, r.survey_id DESC LIMIT $5",
        [
            filter.since.into(),
            filter.until.into(),
            filter.agent.into(),
            after.into(),
            (limit as i64).into(),
            tx.org().into(),
        ],
    ))
    .all(tx.conn())
    .await?)
}

/// The count of answers and of satisfied ones (4 or 5).
pub async fn summary(tx: &TenantTx, filter: Filter) -> Result<Summary, DbError> {
    Ok(Summary::find_by_statement(stmt(
        "SELECT count(*) AS responses, count(*) FILTER (WHERE r.score >= 4) AS satisfied \
           FROM survey_responses r \
           JOIN surveys s ON s.org_id = r.org_id AND s.id = r.survey_id \
          WHERE r.org_id = $4 \
            AND ($1::timestamptz IS NULL OR r.submitted_at >= $1) \
            AND ($2::timestamptz IS NULL OR r.submitted_at < $2) \
            AND ($3::uuid IS NULL OR s.agent_user_id = $3)",
        [
            filter.since.into(),
            filter.until.into(),
            filter.agent.into(),
            tx.org().into(),
        ],
    ))
    .one(tx.conn())
    .await?
    .unwrap_or(Summary {
        responses: 0,
        satisfied: 0,
    }))
}
