//! BudgetService end to end: owners and admins set limits and read usage,
//! an agent-role API key (a partner worker) reserves, settles and
//! releases; admission holds under concurrency, expired holds return,
//! a stopped database admits nothing, and the app role cannot write the
//! counters by hand.

mod admission;
mod blocked;
mod expiry;
mod failclosed;
mod protocol;
mod refusals;

use ochre_sdk::v1::{
    BudgetKind, BudgetPeriod, BudgetReservation, BudgetUsage, GetBudgetUsageRequest,
    ReleaseBudgetRequest, ReleaseBudgetResponse, ReserveBudgetRequest, ReserveBudgetResponse,
    SetBudgetRequest, SettleBudgetRequest, SettleBudgetResponse,
};
use ochre_tests::prelude::*;
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};
use tonic::Status;

type Reply<T> = Result<T, Status>;

/// An org with its owner and a worker: an agent-role API key.
pub struct Shop {
    pub org: String,
    pub owner: Session,
    pub worker_key: String,
}

impl Shop {
    pub async fn open(app: &TestApp, name: &str) -> Shop {
        let owner = signup_and_login(app, &unique_email()).await;
        let org = create_org(app, &owner, name).await;
        let worker_key = create_api_key(app, &owner, &org, Role::Agent)
            .await
            .expect("an agent key")
            .secret;
        Shop {
            org,
            owner,
            worker_key,
        }
    }

    /// The owner's caller.
    pub fn owner<'a>(&'a self, app: &'a TestApp) -> Budgets<'a> {
        Budgets::new(app, &self.owner.access_token, &self.org)
    }

    /// The worker's caller.
    pub fn worker<'a>(&'a self, app: &'a TestApp) -> Budgets<'a> {
        Budgets::new(app, &self.worker_key, &self.org)
    }
}

/// BudgetService calls as the bearer of a token in an org.
#[derive(Clone)]
pub struct Budgets<'a> {
    client: BudgetClient,
    token: &'a str,
    org: &'a str,
}

impl<'a> Budgets<'a> {
    pub fn new(app: &TestApp, token: &'a str, org: &'a str) -> Self {
        Budgets {
            client: app.client::<BudgetClient>(),
            token,
            org,
        }
    }

    pub async fn set(
        &self,
        kind: BudgetKind,
        limit: i64,
        period: BudgetPeriod,
    ) -> Reply<BudgetUsage> {
        let request = SetBudgetRequest {
            kind: kind.into(),
            limit,
            period: period.into(),
        };
        self.client
            .clone()
            .set_budget(with_auth(request, self.token, Some(self.org)))
            .await
            .map(|r| r.into_inner().usage.expect("usage"))
    }

    pub async fn clear(&self, kind: BudgetKind) -> Reply<BudgetUsage> {
        let request = ochre_sdk::v1::ClearBudgetRequest { kind: kind.into() };
        self.client
            .clone()
            .clear_budget(with_auth(request, self.token, Some(self.org)))
            .await
            .map(|r| r.into_inner().usage.expect("usage"))
    }

    /// Every kind's usage.
    pub async fn usage(&self) -> Reply<Vec<BudgetUsage>> {
        self.client
            .clone()
            .get_budget_usage(with_auth(
                GetBudgetUsageRequest {},
                self.token,
                Some(self.org),
            ))
            .await
            .map(|r| r.into_inner().usage)
    }

    /// One kind's usage.
    pub async fn usage_of(&self, kind: BudgetKind) -> BudgetUsage {
        self.usage()
            .await
            .expect("usage")
            .into_iter()
            .find(|u| u.kind == i32::from(kind))
            .expect("every kind is listed")
    }

    pub async fn reserve_for(
        &self,
        kind: BudgetKind,
        amount: i64,
        key: &str,
        customer_id: &str,
    ) -> Reply<ReserveBudgetResponse> {
        let request = ReserveBudgetRequest {
            kind: kind.into(),
            amount,
            idempotency_key: key.to_owned(),
            customer_id: customer_id.to_owned(),
        };
        self.client
            .clone()
            .reserve_budget(with_auth(request, self.token, Some(self.org)))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn reserve(
        &self,
        kind: BudgetKind,
        amount: i64,
        key: &str,
    ) -> Reply<ReserveBudgetResponse> {
        self.reserve_for(kind, amount, key, "").await
    }

    /// An admitted reservation (panics otherwise).
    pub async fn held(&self, kind: BudgetKind, amount: i64, key: &str) -> BudgetReservation {
        self.reserve(kind, amount, key)
            .await
            .expect("admitted")
            .reservation
            .expect("a reservation")
    }

    pub async fn settle(&self, id: &str, actual: i64) -> Reply<SettleBudgetResponse> {
        let request = SettleBudgetRequest {
            reservation_id: id.to_owned(),
            actual_amount: actual,
        };
        self.client
            .clone()
            .settle_budget(with_auth(request, self.token, Some(self.org)))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn release(&self, id: &str) -> Reply<ReleaseBudgetResponse> {
        let request = ReleaseBudgetRequest {
            reservation_id: id.to_owned(),
        };
        self.client
            .clone()
            .release_budget(with_auth(request, self.token, Some(self.org)))
            .await
            .map(tonic::Response::into_inner)
    }
}

/// The `remaining` of a BUDGET_EXHAUSTED refusal's ErrorInfo.
pub fn remaining_of(status: &Status) -> Option<i64> {
    use tonic_types::StatusExt as _;
    let info = status.get_details_error_info()?;
    (info.reason == "BUDGET_EXHAUSTED")
        .then(|| info.metadata.get("remaining")?.parse().ok())
        .flatten()
}

/// One row of numbers from the database as the superuser.
pub async fn numbers(su: &DatabaseConnection, sql: &str) -> Vec<i64> {
    let row = su
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row");
    (0..)
        .map_while(|i| row.try_get_by_index::<Option<i64>>(i).ok())
        .map(Option::unwrap_or_default)
        .collect()
}

/// The stored counters of one kind: (limit, spent, reserved).
pub async fn counters(su: &DatabaseConnection, org: &str, kind: &str) -> (i64, i64, i64) {
    let n = numbers(
        su,
        &format!(
            "SELECT limit_amount, spent, reserved FROM budgets \
              WHERE org_id = '{org}' AND kind = '{kind}'"
        ),
    )
    .await;
    (n[0], n[1], n[2])
}
