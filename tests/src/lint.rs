//! The schema lint: catalog queries that every table, role and function of
//! the schema must pass. New tables are covered without editing anything.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

const CHECKS: &[(&str, &str)] = &[
    (
        "row level security is not enabled",
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r','p') AND c.relname <> 'seaql_migrations' \
           AND NOT c.relrowsecurity",
    ),
    (
        "row level security is not forced",
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r','p') AND c.relname <> 'seaql_migrations' \
           AND NOT c.relforcerowsecurity",
    ),
    (
        "has no row level security policy",
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r','p') AND c.relname <> 'seaql_migrations' \
           AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)",
    ),
    (
        "has an org_id column outside the public schema without forced row level security",
        "SELECT n.nspname || '.' || c.relname AS name FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped \
         WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema','public') \
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
    ),
    (
        "is owned by a runtime role (ochre_app/ochre_service must own nothing)",
        "SELECT c.relname AS name FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner \
         WHERE r.rolname IN ('ochre_app','ochre_service') \
         UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner \
         WHERE r.rolname IN ('ochre_app','ochre_service') \
         UNION ALL SELECT n.nspname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner \
         WHERE r.rolname IN ('ochre_app','ochre_service')",
    ),
    (
        "is a runtime role that is a superuser or can bypass row level security",
        "SELECT rolname AS name FROM pg_roles WHERE rolname IN ('ochre_app','ochre_service') \
           AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb)",
    ),
    (
        "grants a privilege to PUBLIC",
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, \
           aclexplode(c.relacl) a WHERE n.nspname = 'public' AND a.grantee = 0 \
         UNION ALL SELECT 'schema ' || n.nspname FROM pg_namespace n WHERE n.nspname = 'public' \
           AND (n.nspacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(n.nspacl) a WHERE a.grantee = 0)) \
         UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
           WHERE n.nspname = 'public' AND (p.proacl IS NULL OR EXISTS \
             (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0)) \
         UNION ALL SELECT 'database ' || d.datname FROM pg_database d WHERE d.datname = current_database() \
           AND (d.datacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(d.datacl) a WHERE a.grantee = 0))",
    ),
    (
        // A query that can be suspended (SELECT, SELECT FOR UPDATE) reads a
        // policy's InitPlans when first needed: the role must come in the
        // same evaluation as the org (`app_org_as()`), or a portal resumed
        // after the caller changed combines two callers.
        "reads the caller's role apart from its org (use app_org_as)",
        "SELECT p.tablename || '.' || p.policyname AS name FROM pg_policies p \
         WHERE p.schemaname = 'public' AND p.cmd <> 'INSERT' \
           AND coalesce(p.qual, '') || coalesce(p.with_check, '') LIKE '%app\\_role()%'",
    ),
    (
        // The general rule behind the one above: a query that can be
        // suspended (a policy for SELECT or ALL) reads the pinned caller
        // through ONE sublink, so that one evaluation sees one caller (the
        // org and the user together: `(org_id, user_id) = (SELECT
        // app_org_as(...), app_user())`). memberships_read is the one
        // exception, by name: `user_id = app_user() OR org_id = app_org()`
        // are alternatives, each a view its own caller may have, so even
        // two callers see only the union of what each may see.
        // Counted exactly: the SubLink nodes of the stored expression
        // (`pg_policy.polqual`), whatever their form (`(SELECT ...)`,
        // EXISTS, IN, ANY; a sublink on another table reads the caller
        // through that table's policy; a nested one counts too), for
        // policies that apply to `ochre_app`: by name, through a role it
        // is a member of, or through PUBLIC.
        "reads the caller in more than one evaluation (one sublink per policy)",
        "SELECT c.relname || '.' || p.polname AS name FROM pg_policy p \
         JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND p.polcmd IN ('r', '*') \
           AND EXISTS (SELECT 1 FROM unnest(p.polroles) r(oid) \
                        WHERE CASE WHEN r.oid = 0 THEN true \
                                   ELSE pg_has_role('ochre_app', r.oid, 'MEMBER') END) \
           AND array_length(string_to_array(coalesce(p.polqual::text, ''), '{SUBLINK '), 1) > 2 \
           AND (c.relname, p.polname) <> ('memberships', 'memberships_read')",
    ),
    (
        // pg_temp last: unlisted, it is searched FIRST for tables and
        // types, and a caller with TEMP could shadow what the function reads.
        "is SECURITY DEFINER without a pinned search_path ending in pg_temp",
        "SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname NOT IN ('pg_catalog','information_schema') AND p.prosecdef \
           AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) c \
                            WHERE c LIKE 'search_path=%' AND c LIKE '%pg\\_temp')",
    ),
];

/// Every finding of the lint on the database `db` is connected to, as
/// `"<object>: <problem>"`, sorted. An empty list means the schema passes.
pub async fn schema_findings(db: &impl ConnectionTrait) -> Vec<String> {
    let mut findings = Vec::new();
    for (problem, sql) in CHECKS {
        let rows = db
            .query_all_raw(Statement::from_string(DbBackend::Postgres, *sql))
            .await
            .unwrap_or_else(|e| panic!("lint query failed ({problem}): {e}"));
        for row in rows {
            let name: String = row.try_get_by_index(0).expect("lint row");
            findings.push(format!("{name}: {problem}"));
        }
    }
    findings.sort();
    findings
}
