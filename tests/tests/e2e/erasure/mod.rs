//! EraseCustomer: an end user's rows are gone from every table that
//! referenced them (found in the catalog), their email and phone occur in
//! no text of the org, everything else of the org and every other org is
//! as it was; and only owners and admins of the customer's own org erase.

mod complete;
mod every_table;
mod refusals;

use ochre_sdk::v1::{EraseCustomerRequest, EraseCustomerResponse};
use ochre_tests::prelude::*;
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};
use tonic::Status;

/// Calls EraseCustomer as the bearer of `token` in `org`.
async fn erase(
    app: &TestApp,
    token: &str,
    org: &str,
    customer_id: &str,
) -> Result<EraseCustomerResponse, Status> {
    let request = EraseCustomerRequest {
        customer_id: customer_id.to_owned(),
    };
    app.client::<CustomerClient>()
        .erase_customer(with_auth(request, token, Some(org)))
        .await
        .map(tonic::Response::into_inner)
}

/// The rows of one query as text (each row's first column).
async fn texts(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}

/// Every table with an `org_id` column, from the catalog.
async fn org_tables(su: &DatabaseConnection) -> Vec<String> {
    texts(
        su,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped \
         WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1",
    )
    .await
}

/// Every row of `org` in every org table, as text, table by table: equal
/// before and after means byte-identical rows.
async fn org_rows(su: &DatabaseConnection, org: &str) -> Vec<String> {
    let mut all = Vec::new();
    for t in org_tables(su).await {
        let sql = format!(
            "SELECT '{t}: ' || coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') \
               FROM {t} x WHERE org_id = '{org}'"
        );
        all.extend(texts(su, &sql).await);
    }
    all
}
