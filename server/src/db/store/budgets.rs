//! Consumption budgets (0009_budgets): every write is a definer function
//! that takes the budget row's lock first (`set_budget()`,
//! `clear_budget()`, `reserve_budget()`, `settle_budget()`,
//! `release_budget()`); usage is read under row-level security (owners and
//! admins).

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, FromQueryResult};

use super::audit::AuditContext;
use super::{ip_text, stmt};
use crate::db::{DbError, TenantTx};
use crate::ids::{BudgetReservationId, CustomerId};

/// One kind's usage in its current window (every kind has one, set or not).
#[derive(Debug, Clone, FromQueryResult)]
pub struct UsageRow {
    pub kind: String,
    /// None: no limit.
    pub limit_amount: Option<i64>,
    pub period: String,
    pub spent: i64,
    /// Held by reservations not yet expired.
    pub reserved: i64,
    pub overrun: i64,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
}

/// A stored reservation.
#[derive(Debug, Clone, FromQueryResult)]
pub struct ReservationRow {
    pub id: BudgetReservationId,
    pub kind: String,
    pub amount: i64,
    pub state: String,
    pub actual_amount: Option<i64>,
    pub charged_amount: Option<i64>,
    pub customer_id: Option<CustomerId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// What a reserve, settle or release call answered.
#[derive(Debug, Clone, FromQueryResult)]
pub struct Answer {
    /// `admitted`, `replayed`, `conflict` or `exhausted` for a
    /// reservation; `settled`, `released` or `replayed` otherwise.
    pub outcome: String,
    /// What is left under the limit (None without one, or not reported).
    pub remaining: Option<i64>,
    #[sea_orm(nested)]
    pub reservation: Option<ReservationRow>,
}

/// The usage of every kind, by the SQL of `budget_refresh()`: a past
/// window's counters read as 0, expired holds do not count.
const USAGE: &str = "\
    WITH k AS (SELECT kind, n FROM unnest(ARRAY['ai_cost', 'file_bytes', 'embedding_tokens', \
                                                'emails_sent']) WITH ORDINALITY AS k(kind, n)), \
    u AS (SELECT k.kind, k.n, b.limit_amount, coalesce(b.period, 'month') AS period, \
                 date_trunc(coalesce(b.period, 'month'), now(), 'UTC') AS window_start, b.period_start, \
                 coalesce(b.spent, 0) AS spent, coalesce(b.overrun, 0) AS overrun, \
                 coalesce(b.reserved, 0) - coalesce((SELECT sum(r.amount) FROM budget_reservations r \
                    WHERE r.org_id = $1 AND r.kind = k.kind AND r.state = 'active' \
                      AND r.expires_at <= now()), 0)::bigint AS reserved \
            FROM k LEFT JOIN budgets b ON b.org_id = $1 AND b.kind = k.kind) \
    SELECT kind, limit_amount, period, \
           CASE WHEN period_start < window_start THEN 0 ELSE spent END AS spent, reserved, \
           CASE WHEN period_start < window_start THEN 0 ELSE overrun END AS overrun, \
           window_start AS period_start, \
           window_start + CASE period WHEN 'day' THEN interval '1 day' \
                                      ELSE interval '1 month' END AS period_end \
      FROM u ORDER BY n";

const RESERVATION: &str = "(o.reservation).id, (o.reservation).kind, (o.reservation).amount, \
     (o.reservation).state, (o.reservation).actual_amount, (o.reservation).charged_amount, \
     (o.reservation).customer_id, (o.reservation).created_at, (o.reservation).expires_at, \
     (o.reservation).closed_at";

/// Every kind's usage in the org, in the contract's order.
pub async fn usage(tx: &TenantTx) -> Result<Vec<UsageRow>, DbError> {
    Ok(UsageRow::find_by_statement(stmt(USAGE, [tx.org().into()]))
        .all(tx.conn())
        .await?)
}

/// The usage of one kind (after a change).
async fn usage_of(tx: &TenantTx, kind: &str) -> Result<UsageRow, DbError> {
    usage(tx)
        .await?
        .into_iter()
        .find(|u| u.kind == kind)
        .ok_or_else(|| DbError(DbErr::RecordNotFound("budget usage".to_owned())))
}

/// Sets the limit and period of `kind`; appends `budget.set`.
pub async fn set(
    tx: &TenantTx,
    kind: &str,
    limit: i64,
    period: &str,
    ctx: &AuditContext,
) -> Result<UsageRow, DbError> {
    use sea_orm::ConnectionTrait as _;
    tx.conn()
        .execute_raw(stmt(
            "SELECT 1 FROM set_budget($1, $2, $3, $4, $5)",
            [
                kind.into(),
                limit.into(),
                period.into(),
                ip_text(ctx.client_ip),
                ctx.request_id.clone().into(),
            ],
        ))
        .await?;
    usage_of(tx, kind).await
}

/// Removes the limit of `kind`; appends `budget.cleared`.
pub async fn clear(tx: &TenantTx, kind: &str, ctx: &AuditContext) -> Result<UsageRow, DbError> {
    use sea_orm::ConnectionTrait as _;
    tx.conn()
        .execute_raw(stmt(
            "SELECT 1 FROM clear_budget($1, $2, $3)",
            [
                kind.into(),
                ip_text(ctx.client_ip),
                ctx.request_id.clone().into(),
            ],
        ))
        .await?;
    usage_of(tx, kind).await
}

/// What a reservation asks for.
#[derive(Debug, Clone)]
pub struct Reserve {
    pub kind: &'static str,
    pub amount: i64,
    pub idempotency_key: String,
    pub customer: Option<CustomerId>,
    pub ttl_secs: i32,
}

async fn answer(tx: &TenantTx, sql: &str, values: Vec<sea_orm::Value>) -> Result<Answer, DbError> {
    Answer::find_by_statement(stmt(sql, values))
        .one(tx.conn())
        .await?
        .ok_or_else(|| DbError(DbErr::RecordNotFound("budget answer".to_owned())))
}

/// Admission: one call of `reserve_budget()`.
pub async fn reserve(tx: &TenantTx, r: Reserve) -> Result<Answer, DbError> {
    answer(
        tx,
        &format!(
            "SELECT o.outcome, o.remaining, {RESERVATION} FROM reserve_budget($1, $2, $3, $4, $5) o"
        ),
        vec![
            r.kind.into(),
            r.amount.into(),
            r.idempotency_key.into(),
            r.customer.into(),
            r.ttl_secs.into(),
        ],
    )
    .await
}

/// Settles the reservation with the actual amount.
pub async fn settle(
    tx: &TenantTx,
    id: BudgetReservationId,
    actual: i64,
) -> Result<Answer, DbError> {
    answer(
        tx,
        &format!("SELECT o.outcome, NULL::bigint AS remaining, {RESERVATION} FROM settle_budget($1, $2) o"),
        vec![id.into(), actual.into()],
    )
    .await
}

/// Releases the reservation's hold.
pub async fn release(tx: &TenantTx, id: BudgetReservationId) -> Result<Answer, DbError> {
    answer(
        tx,
        &format!(
            "SELECT o.outcome, NULL::bigint AS remaining, {RESERVATION} FROM release_budget($1) o"
        ),
        vec![id.into()],
    )
    .await
}
