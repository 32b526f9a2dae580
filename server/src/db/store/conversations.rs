//! Conversations and messages of the scope's org.

use crate::ids::{ApiKeyId, ConversationId, CustomerId, MessageId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{DbErr, FromQueryResult};
use serde_json::Value as Json;

use super::stmt;
use crate::db::{DbError, TenantTx};
use crate::guard::Screening;

#[derive(Debug, Clone, FromQueryResult)]
pub struct ConversationRow {
    pub id: ConversationId,
    pub customer_id: CustomerId,
    pub channel: String,
    pub subject: String,
    pub status: String,
    pub assignee_id: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, FromQueryResult)]
pub struct MessageRow {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub kind: String,
    pub body: String,
    pub author_user_id: Option<UserId>,
    pub mentions: Vec<String>,
    pub attachments: Json,
    pub created_at: DateTime<Utc>,
    pub guard_verdict: Option<String>,
    pub guard_categories: Vec<String>,
    pub guard_rules_version: Option<String>,
}

const CONV: &str = "id, customer_id, channel, subject, status, assignee_id, created_at, updated_at, last_message_at";
const MSG: &str = "id, conversation_id, kind, body, author_user_id, mentions::text[] AS mentions, attachments, created_at, \
  guard_verdict, guard_categories::text[] AS guard_categories, guard_rules_version";

/// `count(*) AS n`.
#[derive(Debug, Clone, FromQueryResult)]
struct Count {
    n: i64,
}

/// Creates a conversation; a customer outside the org is a foreign-key
/// violation (NOT_FOUND).
pub async fn create(
    tx: &TenantTx,
    id: ConversationId,
    customer_id: CustomerId,
    channel: &str,
    subject: &str,
) -> Result<ConversationRow, DbError> {
    Ok(ConversationRow::find_by_statement(stmt(
        &format!(
            "INSERT INTO conversations (org_id, id, customer_id, channel, subject) \
             VALUES ($5, $1, $2, $3, $4) RETURNING {CONV}"
        ),
        [
            id.into(),
            customer_id.into(),
            channel.into(),
            subject.into(),
            tx.org().into(),
        ],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotInserted)?)
}

pub async fn get(tx: &TenantTx, id: ConversationId) -> Result<Option<ConversationRow>, DbError> {
    Ok(ConversationRow::find_by_statement(stmt(
        &format!("SELECT {CONV} FROM conversations WHERE org_id = $2 AND id = $1"),
        [id.into(), tx.org().into()],
    ))
    .one(tx.conn())
    .await?)
}

/// Newest first, filtered, after the cursor.
pub async fn list(
    tx: &TenantTx,
    status: Option<&str>,
    assignee: Option<UserId>,
    after: Option<ConversationId>,
    limit: u64,
) -> Result<Vec<ConversationRow>, DbError> {
    Ok(ConversationRow::find_by_statement(stmt(
        &format!(
            "SELECT {CONV} FROM conversations WHERE org_id = $5 \
               AND ($1::text IS NULL OR status = $1) AND ($2::uuid IS NULL OR assignee_id = $2) \
               AND ($3::uuid IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4"
        ),
        [
            status.map(str::to_owned).into(),
            assignee.into(),
            after.into(),
            (limit as i64).into(),
            tx.org().into(),
        ],
    ))
    .all(tx.conn())
    .await?)
}

/// Applies a status and/or assignee change (`Some(None)` unassigns).
pub async fn update(
    tx: &TenantTx,
    id: ConversationId,
    status: Option<&str>,
    assignee: Option<Option<UserId>>,
) -> Result<Option<ConversationRow>, DbError> {
    Ok(ConversationRow::find_by_statement(stmt(
        &format!(
            "UPDATE conversations SET status = coalesce($2, status), \
               assignee_id = CASE WHEN $3 THEN $4::uuid ELSE assignee_id END, updated_at = now() \
             WHERE org_id = $5 AND id = $1 RETURNING {CONV}"
        ),
        [
            id.into(),
            status.map(str::to_owned).into(),
            assignee.is_some().into(),
            assignee.flatten().into(),
            tx.org().into(),
        ],
    ))
    .one(tx.conn())
    .await?)
}

/// How many of `users` are members of the scope's org.
pub async fn count_members(tx: &TenantTx, users: &[UserId]) -> Result<usize, DbError> {
    let ids: Vec<String> = users.iter().map(UserId::to_string).collect();
    let r = Count::find_by_statement(stmt(
        "SELECT count(*) AS n FROM memberships WHERE org_id = $2 AND user_id = ANY($1::text[]::uuid[])",
        [ids.into(), tx.org().into()],
    ))
    .one(tx.conn())
    .await?;
    Ok(r.map_or(0, |c| c.n) as usize)
}

#[allow(clippy::too_many_arguments)]
pub async fn add_message(
    tx: &TenantTx,
    id: MessageId,
    conversation_id: ConversationId,
    kind: &str,
    body: &str,
    author_user: Option<UserId>,
    author_key: Option<ApiKeyId>,
    mentions: &[UserId],
    attachments: Json,
    screening: Option<&Screening>,
) -> Result<Option<MessageRow>, DbError> {
    let mention_ids: Vec<String> = mentions.iter().map(UserId::to_string).collect();
    let categories: Vec<String> = screening
        .map(|s| s.categories.iter().map(|c| c.as_str().to_owned()).collect())
        .unwrap_or_default();
    // One statement: the conversation's last_message_at moves and the
    // message is written, or neither when the conversation is not visible.
    Ok(MessageRow::find_by_statement(stmt(
        &format!(
            "WITH touched AS (UPDATE conversations SET last_message_at = now(), updated_at = now() \
                               WHERE org_id = $9 AND id = $2 RETURNING id) \
             INSERT INTO messages (org_id, id, conversation_id, kind, body, author_user_id, \
               author_api_key_id, mentions, attachments, guard_verdict, guard_categories, \
               guard_rules_version) \
             SELECT $9, $1, touched.id, $3, $4, $5, $6, $7::text[]::uuid[], $8, $10, $11::text[], $12 \
             FROM touched \
             RETURNING {MSG}"
        ),
        [
            id.into(),
            conversation_id.into(),
            kind.into(),
            body.into(),
            author_user.into(),
            author_key.into(),
            mention_ids.into(),
            attachments.into(),
            tx.org().into(),
            screening.map(|s| s.verdict.as_str().to_owned()).into(),
            categories.into(),
            screening.map(|s| s.rules_version.clone()).into(),
        ],
    ))
    .one(tx.conn())
    .await?)
}

/// Oldest first, after the cursor.
pub async fn messages(
    tx: &TenantTx,
    conversation_id: ConversationId,
    after: Option<MessageId>,
    limit: u64,
) -> Result<Vec<MessageRow>, DbError> {
    Ok(MessageRow::find_by_statement(stmt(
        &format!(
            "SELECT {MSG} FROM messages WHERE org_id = $4 AND conversation_id = $1 \
               AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
        ),
        [
            conversation_id.into(),
            after.into(),
            (limit as i64).into(),
            tx.org().into(),
        ],
    ))
    .all(tx.conn())
    .await?)
}
