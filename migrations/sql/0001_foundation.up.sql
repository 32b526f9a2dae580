-- Foundation: the runtime roles, the schema's privileges, and the helpers
-- every policy uses to know the caller.
--
-- Runs as the owner role (the one `ochre migrate` connects as). The owner
-- owns every table; `ochre_app` (runtime) and `ochre_service` (the few gated
-- cross-tenant paths) own nothing, are NOSUPERUSER and NOBYPASSRLS, and see
-- rows only through the policies of each table. Roles are created NOLOGIN
-- when missing; the embedded cluster and the test harness create them with
-- LOGIN and a password before migrating, and an operator with DATABASE_URL
-- does the same (see README).

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ochre_app') THEN
    CREATE ROLE ochre_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ochre_service') THEN
    CREATE ROLE ochre_service NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO ochre_app, ochre_service', current_database());
END $$;

-- Nothing for PUBLIC: not the schema, not the functions the owner creates
-- (so every function below is callable only by the roles granted EXECUTE).
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO ochre_app, ochre_service;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- The health check compares the applied migrations with the binary's list.
GRANT SELECT ON seaql_migrations TO ochre_app, ochre_service;

-- The caller of a transaction is VERIFIED, never taken on the app's word.
--
-- Each tenant transaction starts with one call to verify_session(),
-- verify_api_key() or verify_login_ticket() (0002_identity): SECURITY
-- DEFINER functions that check a live credential against current rows and
-- then PIN the verified caller for the rest of that transaction, as the
-- transaction-local value of a server parameter that only the owner role
-- may set:
--
--   ochre_v1,<org>,<user>,<api key>,<session>,<role>   (ids as 32 hex digits, '' for none)
--
-- Custom settings (`app.x`, `ochre.x`) can be set by any role, so they
-- cannot hold a verified caller. A parameter that only superusers may set
-- can, since PostgreSQL 15 lets a superuser grant the right to set it to
-- one role: `GRANT SET ON PARAMETER backtrace_functions TO ochre_owner`
-- (made by `ochre`'s bootstrap, or once by the operator; checked below).
-- So only functions running as the owner (the verify_* functions, through
-- pin_caller()) can pin a caller; `ochre_app` and `ochre_service` get
-- "permission denied" from SET, set_config(), pg_settings, ALTER ROLE and
-- connection options alike. The value is transaction-local (undone at
-- commit, rollback, or a rollback to a savepoint taken before it) and a
-- backend's own, so a pinned caller never outlives its transaction.
--
-- The parameter is `backtrace_functions`, a developer option whose only
-- effect is to log a backtrace when an error is raised inside a C function
-- of one of the listed names: no PostgreSQL function is called `ochre_v1`
-- or a hex id, so holding the caller there changes nothing else, and its
-- check admits only letters, digits, `_` and `,`. Policies read it with
-- plain SQL (no definer call, no key, no hash), once per statement.
DO $$
BEGIN
  IF current_setting('server_version_num')::int < 150000 THEN
    RAISE EXCEPTION 'Ochre needs PostgreSQL 15 or newer (this server is %)',
      current_setting('server_version');
  END IF;
  IF NOT has_parameter_privilege(current_user, 'backtrace_functions', 'SET') THEN
    RAISE EXCEPTION 'the owner role % may not pin callers: as a superuser, run once: GRANT SET ON PARAMETER backtrace_functions TO % (see the README, "An operator''s Postgres")',
      current_user, current_user;
  END IF;
END $$;

CREATE TYPE caller AS (org_id uuid, user_id uuid, api_key_id uuid, session_id uuid, role text);

-- Pins `c` as this transaction's caller (returns the pinned value). Not
-- granted: only the verify_* functions (SECURITY DEFINER, so running as the
-- owner, who alone may set the parameter) call it, after checking a
-- credential, and they call first_identity_call() first, so a refusal
-- leaves nobody.
CREATE FUNCTION pin_caller(c caller) RETURNS text
  LANGUAGE sql
  AS $$
    SELECT pg_catalog.set_config('backtrace_functions', 'ochre_v1,'
      || coalesce(pg_catalog.replace(c.org_id::text, '-', ''), '') || ','
      || coalesce(pg_catalog.replace(c.user_id::text, '-', ''), '') || ','
      || coalesce(pg_catalog.replace(c.api_key_id::text, '-', ''), '') || ','
      || coalesce(pg_catalog.replace(c.session_id::text, '-', ''), '') || ','
      || coalesce(c.role, ''), true)
  $$;

-- The guard each verify_* function calls first: ONE verified caller per
-- transaction, pinned before any cursor is open. Refused (42501) while a
-- caller is pinned, or while a cursor or a named portal is open: each
-- policy reads the caller through once-per-statement InitPlans evaluated
-- when first needed, so a second caller pinned in the middle of a
-- statement, or between two fetches of a cursor, could give one InitPlan
-- the org of one caller and another the role of the other. `ochre_app`
-- can unpin (RESET ALL checks no privilege; a rollback to a savepoint
-- undoes what it covered), which leaves nobody; a cursor opened under the
-- first caller then blocks any second. The extended protocol's unnamed
-- portal is not seen here (it cannot be told from the running statement),
-- so policies also never split a caller across InitPlans (app_org_as()
-- below). Otherwise clears the parameter (a value an operator set in
-- postgresql.conf) and returns ''.
CREATE FUNCTION first_identity_call() RETURNS text
  LANGUAGE plpgsql
  AS $$
  BEGIN
    IF pg_catalog.starts_with(pg_catalog.current_setting('backtrace_functions'), 'ochre_v1,')
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_cursors c WHERE c.name <> '') THEN
      RAISE EXCEPTION 'one identity call per transaction, before any cursor'
        USING ERRCODE = '42501';
    END IF;
    RETURN pg_catalog.set_config('backtrace_functions', '', true);
  END $$;

-- Field `n` of the pinned caller (1 org, 2 user, 3 API key, 4 session,
-- 5 role), or NULL: nobody pinned, or a value Ochre did not write (an
-- operator debugging with backtrace_functions). One SQL expression, which
-- the planner inlines into its callers.
CREATE FUNCTION app_pinned(n int) RETURNS text LANGUAGE sql STABLE
  AS $$
    SELECT CASE WHEN pg_catalog.starts_with(pg_catalog.current_setting('backtrace_functions'), 'ochre_v1,')
                THEN NULLIF(pg_catalog.split_part(pg_catalog.current_setting('backtrace_functions'), ',', n + 1), '')
           END
  $$;

-- The verified caller of this transaction (every field NULL: nobody).
CREATE FUNCTION app_caller() RETURNS caller LANGUAGE sql STABLE
  AS $$
    SELECT ROW(public.app_pinned(1)::pg_catalog.uuid, public.app_pinned(2)::pg_catalog.uuid,
               public.app_pinned(3)::pg_catalog.uuid, public.app_pinned(4)::pg_catalog.uuid,
               public.app_pinned(5))::public.caller
  $$;

-- What policies and functions read. Policies call them as `(SELECT app_org())`
-- so that each is evaluated once per statement (an InitPlan), never per row.
-- A pinned org always comes with the caller's role in it (the verify_*
-- functions pin an org only for a member or the org's own key), so read
-- policies need only `org_id = (SELECT app_org())`.
CREATE FUNCTION app_org() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT public.app_pinned(1)::pg_catalog.uuid $$;
CREATE FUNCTION app_user() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT public.app_pinned(2)::pg_catalog.uuid $$;
CREATE FUNCTION app_api_key() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT public.app_pinned(3)::pg_catalog.uuid $$;
-- The caller's role in app_org(), as verified when the transaction began
-- (from CURRENT membership or API key rows, so a removal or demotion acts
-- on the next request). Gated membership writes re-read it under their
-- lock with live_role() (0002_identity).
CREATE FUNCTION app_role() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT public.app_pinned(5) $$;

-- The pinned org when the pinned role is one of `roles`, else NULL. A
-- policy that gates on the role reads both in this ONE evaluation,
-- `org_id = (SELECT app_org_as(ARRAY['owner', 'admin']))`, never as two
-- InitPlans `(SELECT app_org())` and `(SELECT app_role())`: those are
-- evaluated when first needed, and a suspended portal resumed after the
-- caller changed (unpinned by RESET ALL or a rollback to a savepoint,
-- then pinned again) could read the org of one caller and the role of
-- another. A policy that needs the user too reads both in one row
-- subquery: `(org_id, user_id) = (SELECT app_org_as(...), app_user())`.
CREATE FUNCTION app_org_as(roles text[]) RETURNS uuid LANGUAGE sql STABLE
  AS $$
    SELECT CASE WHEN public.app_pinned(5) = ANY (roles)
                THEN public.app_pinned(1)::pg_catalog.uuid END
  $$;

CREATE FUNCTION role_rank(r text) RETURNS int LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE r WHEN 'owner' THEN 4 WHEN 'admin' THEN 3 WHEN 'agent' THEN 2
                      WHEN 'light_agent' THEN 1 ELSE 0 END $$;

GRANT EXECUTE ON FUNCTION app_pinned(int), app_caller(), app_org(), app_org_as(text[]), app_user(), app_api_key(), role_rank(text), app_role()
  TO ochre_app;
