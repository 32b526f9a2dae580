//! The runtime roles, checked before the server serves: row-level
//! security holds only while `ochre_app` and `ochre_service` cannot step
//! around it. A role that is a superuser or has BYPASSRLS skips every
//! policy; one that may set `backtrace_functions` (or ALTER SYSTEM it) can
//! write any caller into the parameter the policies read; one with
//! TEMPORARY or CREATE can shadow or add objects; one that owns tables can
//! turn their policies off; CREATEROLE and REPLICATION reach around them;
//! and a role it can become (SET ROLE to a role it is a member of, RESET
//! ROLE to the login role) counts as itself. The bootstrap grants none of
//! these; an operator's mistake can (the owner's URL given as the app's, a
//! `GRANT ... TO PUBLIC`), so the server refuses to start rather than
//! serve without isolation.

use sea_orm::{DbErr, FromQueryResult, Statement};

use super::pool::Db;
use crate::pg::PINNED_CALLER_PARAMETER;

/// One privilege the connected role must not have.
#[derive(Debug, FromQueryResult)]
struct Finding {
    finding: String,
}

/// Each risky attribute or privilege of the connected role, of every
/// role it can become (`SET ROLE`: its memberships, inherited or not),
/// and of the session's login role (`RESET ROLE` returns to it), as
/// `<role> <what> (<fix>)`.
fn findings_sql() -> String {
    let p = PINNED_CALLER_PARAMETER;
    format!(
        "WITH who AS ( \
           SELECT r.oid, r.rolname, r.rolsuper, r.rolbypassrls, r.rolcreaterole, \
                  r.rolreplication FROM pg_catalog.pg_roles r \
            WHERE pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER') \
               OR pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER')), \
         names AS (SELECT pg_catalog.quote_ident(current_user) AS me, \
                          pg_catalog.quote_ident(pg_catalog.current_database()) AS db) \
         SELECT pg_catalog.quote_ident(who.rolname) \
                || CASE WHEN who.rolname = current_user THEN '' \
                        ELSE ' (which ' || names.me || ' can become)' END \
                || ' ' || v.finding || ' (' \
                || CASE WHEN who.rolname = current_user THEN v.fix \
                        WHEN who.rolname = session_user \
                          THEN 'log in as ' || names.me || ' itself' \
                        ELSE 'REVOKE ' || pg_catalog.quote_ident(who.rolname) \
                             || ' FROM ' || names.me END \
                || ')' AS finding \
           FROM who CROSS JOIN names CROSS JOIN LATERAL (VALUES \
            (who.rolsuper, 'is a superuser, which no policy binds', \
             'ALTER ROLE ' || names.me || ' NOSUPERUSER'), \
            (who.rolbypassrls, 'has BYPASSRLS, which no policy binds', \
             'ALTER ROLE ' || names.me || ' NOBYPASSRLS'), \
            (who.rolcreaterole, 'may create roles and grant itself others', \
             'ALTER ROLE ' || names.me || ' NOCREATEROLE'), \
            (who.rolreplication, 'may stream every row by replication', \
             'ALTER ROLE ' || names.me || ' NOREPLICATION'), \
            (pg_catalog.has_parameter_privilege(who.oid, '{p}', 'SET'), \
             'may set {p}, the parameter that holds the verified caller', \
             'REVOKE SET ON PARAMETER {p} FROM ' || names.me || ', PUBLIC'), \
            (pg_catalog.has_parameter_privilege(who.oid, '{p}', 'ALTER SYSTEM'), \
             'may set {p} for the whole server with ALTER SYSTEM', \
             'REVOKE ALTER SYSTEM ON PARAMETER {p} FROM ' || names.me || ', PUBLIC'), \
            (pg_catalog.has_database_privilege(who.oid, pg_catalog.current_database(), 'TEMPORARY'), \
             'may create temporary tables', \
             'REVOKE TEMPORARY ON DATABASE ' || names.db || ' FROM ' || names.me || ', PUBLIC'), \
            (pg_catalog.has_database_privilege(who.oid, pg_catalog.current_database(), 'CREATE'), \
             'may create schemas', \
             'REVOKE CREATE ON DATABASE ' || names.db || ' FROM ' || names.me || ', PUBLIC'), \
            (pg_catalog.has_schema_privilege(who.oid, 'public', 'CREATE'), \
             'may create objects in schema public', \
             'REVOKE CREATE ON SCHEMA public FROM ' || names.me || ', PUBLIC'), \
            (EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relowner = who.oid), \
             'owns tables, whose policies an owner can turn off', \
             'give the app and service URLs the runtime roles'), \
            (who.rolname IN ('pg_execute_server_program', 'pg_write_server_files', \
                             'pg_read_server_files'), \
             'runs programs or reads and writes files as the database server', \
             'REVOKE ' || pg_catalog.quote_ident(who.rolname) || ' FROM ' || names.me) \
          ) v(risky, finding, fix) \
          WHERE v.risky \
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
        // Admitted like every other service-pool transaction: under load
        // the check waits its turn (and the health probe's timeout keeps
        // the last verdict) instead of taking a connection past the queue.
        let tx = self.service.begin().await?;
        let service = Finding::find_by_statement(statement()).all(&*tx).await;
        tx.rollback().await?;
        let service = service?;
        Ok(app?.into_iter().chain(service).map(|f| f.finding).collect())
    }
}
