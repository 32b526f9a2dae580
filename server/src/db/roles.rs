//! The runtime roles, checked before the server serves: row-level
//! security holds only while `ochre_app` and `ochre_service` cannot step
//! around it. A role that is a superuser or has BYPASSRLS skips every
//! policy; one that may set `backtrace_functions` can write any caller
//! into the parameter the policies read; one with TEMPORARY or CREATE can
//! shadow or add objects; one that owns tables can turn their policies
//! off. The bootstrap grants none of these; an operator's mistake can (the
//! owner's URL given as the app's, a `GRANT ... TO PUBLIC`), so the server
//! refuses to start rather than serve without isolation.

use sea_orm::{DbErr, FromQueryResult, Statement, TransactionTrait as _};

use super::pool::Db;
use crate::pg::PINNED_CALLER_PARAMETER;

/// One privilege the connected role must not have.
#[derive(Debug, FromQueryResult)]
struct Finding {
    finding: String,
}

/// Each risky privilege of the connected role, as `<role> <what> (<fix>)`.
fn findings_sql() -> String {
    let p = PINNED_CALLER_PARAMETER;
    format!(
        "SELECT current_user || ' ' || v.finding AS finding \
           FROM pg_catalog.pg_roles r \
          CROSS JOIN LATERAL (VALUES \
            (r.rolsuper, 'is a superuser, which no policy binds'), \
            (r.rolbypassrls, 'has BYPASSRLS, which no policy binds'), \
            (pg_catalog.has_parameter_privilege('{p}', 'SET'), \
             'may set {p}, the parameter that holds the verified caller \
              (REVOKE SET ON PARAMETER {p} FROM ' || current_user || ', PUBLIC)'), \
            (pg_catalog.has_database_privilege(pg_catalog.current_database(), 'TEMPORARY'), \
             'may create temporary tables (REVOKE TEMPORARY ON DATABASE ' \
              || pg_catalog.quote_ident(pg_catalog.current_database()) || ' FROM ' \
              || current_user || ', PUBLIC)'), \
            (pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE'), \
             'may create schemas (REVOKE CREATE ON DATABASE ' \
              || pg_catalog.quote_ident(pg_catalog.current_database()) || ' FROM ' \
              || current_user || ', PUBLIC)'), \
            (pg_catalog.has_schema_privilege('public', 'CREATE'), \
             'may create objects in schema public (REVOKE CREATE ON SCHEMA public FROM ' \
              || current_user || ', PUBLIC)'), \
            (EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relowner = r.oid), \
             'owns tables, whose policies an owner can turn off') \
          ) v(risky, finding) \
          WHERE r.rolname = current_user AND v.risky \
          ORDER BY 1"
    )
}

impl Db {
    /// What the roles of the app and service pools may do that would undo
    /// row-level security: empty when the server may serve.
    pub async fn unsafe_role_privileges(&self) -> Result<Vec<String>, DbErr> {
        let sql = findings_sql();
        let statement = || Statement::from_string(sea_orm::DbBackend::Postgres, sql.clone());
        let tx = self.app.begin("BEGIN READ ONLY").await?;
        let app = Finding::find_by_statement(statement()).all(&tx).await;
        tx.finish();
        // In a transaction: through a transaction pooler, a statement's
        // Parse and Execute outside one can reach two server connections.
        let tx = self.service.connection().begin().await?;
        let service = Finding::find_by_statement(statement()).all(&tx).await;
        tx.rollback().await?;
        let service = service?;
        Ok(app?.into_iter().chain(service).map(|f| f.finding).collect())
    }
}
