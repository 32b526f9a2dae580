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

-- The caller is described per transaction by three settings, set together
-- with one transaction-local set_config statement: app.org_id, app.user_id,
-- app.api_key_id. A reused connection holds '' rather than NULL, hence
-- NULLIF: unset or empty means nobody, and no rows.
CREATE FUNCTION app_org() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT NULLIF(current_setting('app.org_id', true), '')::uuid $$;
CREATE FUNCTION app_user() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;
CREATE FUNCTION app_api_key() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT NULLIF(current_setting('app.api_key_id', true), '')::uuid $$;

CREATE FUNCTION role_rank(r text) RETURNS int LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE r WHEN 'owner' THEN 4 WHEN 'admin' THEN 3 WHEN 'agent' THEN 2
                      WHEN 'light_agent' THEN 1 ELSE 0 END $$;

-- The caller's role in app.org_id, derived from CURRENT data (membership or
-- API key), so a removal or demotion takes effect at once; policies use it
-- for every write. SECURITY DEFINER so that policies on memberships can
-- call it without recursion.
--
-- It reads memberships and api_keys (0002_identity), which do not exist
-- yet: its body is checked when it first runs rather than here, so that
-- every table can state its policies next to its columns.
SET LOCAL check_function_bodies = off;
CREATE FUNCTION app_role() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public
  AS $$
    SELECT role FROM (
      SELECT m.role FROM memberships m
       WHERE m.org_id = app_org() AND m.user_id = app_user() AND app_api_key() IS NULL
      UNION ALL
      SELECT k.role FROM api_keys k
       WHERE k.org_id = app_org() AND k.id = app_api_key() AND k.revoked_at IS NULL
    ) r LIMIT 1
  $$;
RESET check_function_bodies;

GRANT EXECUTE ON FUNCTION app_org(), app_user(), app_api_key(), role_rank(text), app_role()
  TO ochre_app, ochre_service;
