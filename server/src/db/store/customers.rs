//! Customers of the scope's org.

use crate::ids::CustomerId;
use chrono::{DateTime, Utc};
use sea_orm::{DbErr, FromQueryResult};
use serde_json::Value as Json;

use super::stmt;
use crate::db::{DbError, TenantTx};

#[derive(Debug, Clone, FromQueryResult)]
pub struct CustomerRow {
    pub id: CustomerId,
    pub email: String,
    pub name: String,
    pub phone: String,
    pub custom_fields: Json,
    pub stripe: Option<Json>,
    pub hubspot: Option<Json>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub ai_blocked_until: Option<DateTime<Utc>>,
}

/// What an upsert writes.
#[derive(Debug, Clone)]
pub struct CustomerInput {
    pub email: String,
    pub name: String,
    pub phone: String,
    pub custom_fields: Json,
    pub stripe: Option<Json>,
    pub hubspot: Option<Json>,
}

const COLUMNS: &str = "id, email, name, phone, custom_fields, stripe, hubspot, created_at, updated_at, ai_blocked_until";

/// An upserted customer and whether the upsert created it.
#[derive(Debug, Clone, FromQueryResult)]
struct Upserted {
    #[sea_orm(nested)]
    customer: CustomerRow,
    created: bool,
}

/// Creates or replaces the customer with this email; true when created.
pub async fn upsert(
    tx: &TenantTx,
    id: CustomerId,
    c: CustomerInput,
) -> Result<(CustomerRow, bool), DbError> {
    let r = Upserted::find_by_statement(stmt(
        &format!(
            "INSERT INTO customers (org_id, id, email, name, phone, custom_fields, stripe, hubspot) \
             VALUES ($8, $1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (org_id, email) DO UPDATE SET name = EXCLUDED.name, phone = EXCLUDED.phone, \
               custom_fields = EXCLUDED.custom_fields, stripe = EXCLUDED.stripe, \
               hubspot = EXCLUDED.hubspot, updated_at = now() \
             RETURNING {COLUMNS}, (xmax = 0) AS created"
        ),
        [
            id.into(),
            c.email.into(),
            c.name.into(),
            c.phone.into(),
            c.custom_fields.into(),
            c.stripe.into(),
            c.hubspot.into(),
            tx.org().into(),
        ],
    ))
    .one(tx.conn())
    .await?
    .ok_or(DbErr::RecordNotInserted)?;
    Ok((r.customer, r.created))
}

pub async fn get(tx: &TenantTx, id: CustomerId) -> Result<Option<CustomerRow>, DbError> {
    Ok(CustomerRow::find_by_statement(stmt(
        &format!("SELECT {COLUMNS} FROM customers WHERE org_id = $2 AND id = $1"),
        [id.into(), tx.org().into()],
    ))
    .one(tx.conn())
    .await?)
}

pub async fn by_email(tx: &TenantTx, email: &str) -> Result<Option<CustomerRow>, DbError> {
    Ok(CustomerRow::find_by_statement(stmt(
        &format!("SELECT {COLUMNS} FROM customers WHERE org_id = $2 AND email = $1"),
        [email.into(), tx.org().into()],
    ))
    .one(tx.conn())
    .await?)
}

/// Newest first, after the cursor; one extra row tells whether more exist.
pub async fn list(
    tx: &TenantTx,
    after: Option<CustomerId>,
    limit: u64,
) -> Result<Vec<CustomerRow>, DbError> {
    Ok(CustomerRow::find_by_statement(stmt(
        &format!(
            "SELECT {COLUMNS} FROM customers WHERE org_id = $3 AND ($1::uuid IS NULL OR id < $1) \
             ORDER BY id DESC LIMIT $2"
        ),
        [after.into(), (limit as i64).into(), tx.org().into()],
    ))
    .all(tx.conn())
    .await?)
}
