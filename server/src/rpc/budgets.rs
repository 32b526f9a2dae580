//! `ochre.v1.BudgetService`: per-org consumption budgets. Owners and admins
//! set limits and read usage; workers reserve, settle and release. Every
//! decision is taken in the database under the budget row's lock
//! (`db::store::budgets`); a database that cannot answer admits nothing.

use ochre_sdk::v1::{
    BudgetKind, BudgetPeriod, BudgetReservation, BudgetUsage, ClearBudgetRequest,
    ClearBudgetResponse, GetBudgetUsageRequest, GetBudgetUsageResponse, ReleaseBudgetRequest,
    ReleaseBudgetResponse, ReservationState, ReserveBudgetRequest, ReserveBudgetResponse,
    SetBudgetRequest, SetBudgetResponse, SettleBudgetRequest, SettleBudgetResponse,
    budget_service_server::BudgetService,
};
use tonic::{Request, Response, Status};

use super::convert::{parse_id, ts, ts_opt};
use crate::{
    db::store::budgets::{self, Answer, ReservationRow, Reserve, UsageRow},
    error::{ApiError, Reason},
    gate::principal,
    ids::{BudgetReservationId, CustomerId},
    rpc::state::AppState,
};

/// The handler of `BudgetService`.
#[derive(Debug, Clone)]
pub struct BudgetApi {
    state: AppState,
}

impl BudgetApi {
    pub fn new(state: AppState) -> Self {
        BudgetApi { state }
    }
}

/// The stored name of a kind, or INVALID_ARGUMENT.
fn kind(value: i32) -> Result<&'static str, ApiError> {
    match BudgetKind::try_from(value) {
        Ok(BudgetKind::AiCost) => Ok("ai_cost"),
        Ok(BudgetKind::FileBytes) => Ok("file_bytes"),
        Ok(BudgetKind::EmbeddingTokens) => Ok("embedding_tokens"),
        Ok(BudgetKind::EmailsSent) => Ok("emails_sent"),
        _ => Err(ApiError::invalid_field(
            "kind",
            "kind must be AI_COST, FILE_BYTES, EMBEDDING_TOKENS or EMAILS_SENT",
        )),
    }
}

fn kind_i32(name: &str) -> i32 {
    match name {
        "ai_cost" => BudgetKind::AiCost,
        "file_bytes" => BudgetKind::FileBytes,
        "embedding_tokens" => BudgetKind::EmbeddingTokens,
        "emails_sent" => BudgetKind::EmailsSent,
        _ => BudgetKind::Unspecified,
    }
    .into()
}

fn period(value: i32) -> Result<&'static str, ApiError> {
    match BudgetPeriod::try_from(value) {
        Ok(BudgetPeriod::Day) => Ok("day"),
        Ok(BudgetPeriod::Month) => Ok("month"),
        _ => Err(ApiError::invalid_field(
            "period",
            "period must be DAY or MONTH",
        )),
    }
}

fn period_i32(name: &str) -> i32 {
    match name {
        "day" => BudgetPeriod::Day,
        "month" => BudgetPeriod::Month,
        _ => BudgetPeriod::Unspecified,
    }
    .into()
}

fn state_i32(name: &str) -> i32 {
    match name {
        "active" => ReservationState::Active,
        "settled" => ReservationState::Settled,
        "released" => ReservationState::Released,
        "expired" => ReservationState::Expired,
        _ => ReservationState::Unspecified,
    }
    .into()
}

fn usage(u: &UsageRow) -> BudgetUsage {
    BudgetUsage {
        kind: kind_i32(&u.kind),
        limited: u.limit_amount.is_some(),
        limit: u.limit_amount.unwrap_or_default(),
        period: period_i32(&u.period),
        spent: u.spent,
        reserved: u.reserved,
        remaining: u.limit_amount.map_or(0, |l| {
            l.saturating_sub(u.spent).saturating_sub(u.reserved).max(0)
        }),
        overrun: u.overrun,
        period_start: Some(ts(u.period_start)),
        period_end: Some(ts(u.period_end)),
    }
}

fn reservation(r: &ReservationRow) -> BudgetReservation {
    BudgetReservation {
        id: r.id.to_string(),
        kind: kind_i32(&r.kind),
        amount: r.amount,
        state: state_i32(&r.state),
        actual_amount: r.actual_amount.unwrap_or_default(),
        charged_amount: r.charged_amount.unwrap_or_default(),
        customer_id: r.customer_id.map(|c| c.to_string()).unwrap_or_default(),
        created_at: Some(ts(r.created_at)),
        expires_at: Some(ts(r.expires_at)),
        closed_at: ts_opt(r.closed_at),
    }
}

/// The reservation of an answer that must carry one.
fn held(a: &Answer) -> Result<BudgetReservation, ApiError> {
    a.reservation
        .as_ref()
        .map(reservation)
        .ok_or(ApiError::Corrupt("budget answer without its reservation"))
}

/// A caller-chosen request id: 1-128 printable ASCII characters, no spaces.
fn idempotency_key(raw: &str) -> Result<String, ApiError> {
    if raw.is_empty() || raw.len() > 128 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid_field(
            "idempotency_key",
            "idempotency_key must be 1-128 printable ASCII characters without spaces",
        ));
    }
    Ok(raw.to_owned())
}

fn reservation_id(raw: &str) -> Result<BudgetReservationId, ApiError> {
    parse_id("reservation_id", raw)
}

#[tonic::async_trait]
impl BudgetService for BudgetApi {
    async fn set_budget(
        &self,
        request: Request<SetBudgetRequest>,
    ) -> Result<Response<SetBudgetResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let kind = kind(req.kind)?;
        if req.limit < 0 {
            return Err(ApiError::invalid_field("limit", "limit must be zero or more").into());
        }
        let period = period(req.period)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let row = budgets::set(&tx, kind, req.limit, period, &p.audit()).await?;
        tx.commit().await?;
        Ok(Response::new(SetBudgetResponse {
            usage: Some(usage(&row)),
        }))
    }

    async fn clear_budget(
        &self,
        request: Request<ClearBudgetRequest>,
    ) -> Result<Response<ClearBudgetResponse>, Status> {
        let p = principal(&request)?;
        let kind = kind(request.get_ref().kind)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let row = budgets::clear(&tx, kind, &p.audit()).await?;
        tx.commit().await?;
        Ok(Response::new(ClearBudgetResponse {
            usage: Some(usage(&row)),
        }))
    }

    async fn get_budget_usage(
        &self,
        request: Request<GetBudgetUsageRequest>,
    ) -> Result<Response<GetBudgetUsageResponse>, Status> {
        let p = principal(&request)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let rows = budgets::usage(&tx).await?;
        tx.finish_read().await?;
        Ok(Response::new(GetBudgetUsageResponse {
            usage: rows.iter().map(usage).collect(),
        }))
    }

    async fn reserve_budget(
        &self,
        request: Request<ReserveBudgetRequest>,
    ) -> Result<Response<ReserveBudgetResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let kind = kind(req.kind)?;
        if req.amount <= 0 {
            return Err(ApiError::invalid_field("amount", "amount must be more than zero").into());
        }
        let key = idempotency_key(&req.idempotency_key)?;
        let customer: Option<CustomerId> = match req.customer_id.as_str() {
            "" => None,
            raw => Some(parse_id("customer_id", raw)?),
        };
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let answer = budgets::reserve(
            &tx,
            Reserve {
                kind,
                amount: req.amount,
                idempotency_key: key,
                customer,
                ttl_secs: self.state.budget_reservation_ttl_secs,
            },
        )
        .await?;
        match answer.outcome.as_str() {
            "admitted" | "replayed" => {
                let reservation = held(&answer)?;
                tx.commit().await?;
                Ok(Response::new(ReserveBudgetResponse {
                    reservation: Some(reservation),
                    replayed: answer.outcome == "replayed",
                }))
            }
            "exhausted" => {
                // Nothing was admitted; expired holds it returned stay returned.
                tx.commit().await?;
                Err(ApiError::BudgetExhausted {
                    kind,
                    remaining: answer.remaining.unwrap_or_default(),
                    requested: req.amount,
                }
                .into())
            }
            "conflict" => Err(ApiError::AlreadyExists(
                Reason::IdempotencyKeyReused,
                "this idempotency key names a reservation with another kind, amount or customer"
                    .into(),
            )
            .into()),
            _ => Err(ApiError::Corrupt("an unknown reservation outcome").into()),
        }
    }

    async fn settle_budget(
        &self,
        request: Request<SettleBudgetRequest>,
    ) -> Result<Response<SettleBudgetResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let id = reservation_id(&req.reservation_id)?;
        if req.actual_amount < 0 {
            return Err(ApiError::invalid_field(
                "actual_amount",
                "actual_amount must be zero or more",
            )
            .into());
        }
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let answer = budgets::settle(&tx, id, req.actual_amount).await?;
        let reservation = held(&answer)?;
        tx.commit().await?;
        Ok(Response::new(SettleBudgetResponse {
            reservation: Some(reservation),
            replayed: answer.outcome == "replayed",
        }))
    }

    async fn release_budget(
        &self,
        request: Request<ReleaseBudgetRequest>,
    ) -> Result<Response<ReleaseBudgetResponse>, Status> {
        let p = principal(&request)?;
        let id = reservation_id(&request.get_ref().reservation_id)?;
        p.require_org()?;
        let tx = p.tenant(&self.state.db).await?;
        let answer = budgets::release(&tx, id).await?;
        let reservation = held(&answer)?;
        tx.commit().await?;
        Ok(Response::new(ReleaseBudgetResponse {
            reservation: Some(reservation),
            replayed: answer.outcome == "replayed",
        }))
    }
}
