-- Foundation: the runtime roles, the schema's privileges, and the orgs table.
--
-- Runs as the owner role (the one `ochre migrate` connects as). The owner
-- owns every table; `ochre_app` (runtime) and `ochre_service` (the few gated
-- cross-tenant paths) own nothing, are NOSUPERUSER and NOBYPASSRLS, and see
-- rows only through the policies below. Roles are created NOLOGIN when
-- missing; the embedded cluster and the test harness create them with LOGIN
-- and a password before migrating, and an operator with DATABASE_URL does
-- the same (see README).

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

-- Nothing for PUBLIC: not the schema, not the functions the owner creates.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO ochre_app, ochre_service;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- The health check compares the applied migrations with the binary's list.
GRANT SELECT ON seaql_migrations TO ochre_app, ochre_service;

-- Orgs: the tenants. Every other tenant table is keyed by (org_id, id).
CREATE TABLE orgs (
  id          uuid        PRIMARY KEY,
  name        text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz,
  purge_after timestamptz,
  CHECK ((deleted_at IS NULL) = (purge_after IS NULL))
);

ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE orgs FORCE ROW LEVEL SECURITY;

-- The tenant is set per transaction with set_config('app.org_id', ..., true).
-- A reused connection holds '' rather than NULL, hence NULLIF.
CREATE POLICY orgs_tenant ON orgs
  FOR ALL TO ochre_app
  USING (id = NULLIF(current_setting('app.org_id', true), '')::uuid)
  WITH CHECK (id = NULLIF(current_setting('app.org_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE ON orgs TO ochre_app;
