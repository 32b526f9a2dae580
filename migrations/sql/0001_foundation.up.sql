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
-- transaction-local setting `ochre.identity`:
--
--   v1|<backend pid>|<transaction start, epoch>|org|user|api key|session|role|<seal>
--
-- The seal is SHA-256(k || SHA-256(k || payload)) with a 32-byte key that
-- only the owner role can read (identity_seal_key), so `ochre_app` can
-- neither forge nor edit a pinned caller; the pid and the transaction's
-- start time bind it to one transaction of one backend, so a value copied
-- out of one transaction is worth nothing in the next. app_caller() checks
-- the seal and returns NULL (nobody, no rows) for anything else; the
-- helpers below read only what it returns. No `app.*` setting means
-- anything any more: setting one by hand gains nothing.
CREATE TABLE identity_seal_key (
  id  boolean PRIMARY KEY DEFAULT true CHECK (id),
  key bytea   NOT NULL CHECK (octet_length(key) = 32)
);
ALTER TABLE identity_seal_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity_seal_key FORCE ROW LEVEL SECURITY;
CREATE POLICY identity_seal_key_owner ON identity_seal_key FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
-- 244 bits from the server's strong random source (gen_random_uuid).
INSERT INTO identity_seal_key (key)
  SELECT sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text
                           || clock_timestamp()::text, 'UTF8'));

CREATE TYPE caller AS (org_id uuid, user_id uuid, api_key_id uuid, session_id uuid, role text);

-- Pins `c` as this transaction's caller (returns the pinned value). Not
-- granted: only the verify_* functions (SECURITY DEFINER, so running as the
-- owner, who alone can read the key) call it, after checking a credential,
-- and they clear `ochre.identity` first, so a refusal leaves nobody. Written
-- in PL/pgSQL, whose plans are cached per connection, with every name
-- qualified, and called as an expression (`pinned := pin_caller(...)`, the
-- cheap path of PL/pgSQL): this and app_caller() run on every request.
CREATE FUNCTION pin_caller(c caller) RETURNS text
  LANGUAGE plpgsql
  AS $$
  DECLARE
    payload text := 'v1|' || pg_backend_pid() || '|' || extract(epoch FROM now())
      || '|' || coalesce(c.org_id::text, '') || '|' || coalesce(c.user_id::text, '')
      || '|' || coalesce(c.api_key_id::text, '') || '|' || coalesce(c.session_id::text, '')
      || '|' || coalesce(c.role, '');
    k bytea;
  BEGIN
    SELECT s.key INTO k FROM public.identity_seal_key s;
    RETURN pg_catalog.set_config('ochre.identity', payload || '|'
      || pg_catalog.encode(pg_catalog.sha256(k || pg_catalog.sha256(k
           || pg_catalog.convert_to(payload, 'UTF8'))), 'hex'), true);
  END $$;

-- The verified caller of this transaction, or NULL. The seal is recomputed
-- from the payload and compared after hashing both sides, so the
-- comparison's timing says nothing about the seal.
CREATE FUNCTION app_caller() RETURNS caller
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  DECLARE
    v text := current_setting('ochre.identity', true);
    p text[];
    k bytea;
  BEGIN
    IF v IS NULL OR v = '' THEN
      RETURN NULL;
    END IF;
    p := string_to_array(v, '|');
    IF cardinality(p) <> 9 OR p[1] <> 'v1' OR p[2] <> pg_backend_pid()::text
       OR p[3] <> extract(epoch FROM now())::text THEN
      RETURN NULL;
    END IF;
    SELECT s.key INTO k FROM public.identity_seal_key s;
    IF sha256(convert_to(p[9], 'UTF8')) <> sha256(convert_to(encode(sha256(k
         || sha256(k || convert_to(array_to_string(p[1:8], '|'), 'UTF8'))), 'hex'), 'UTF8')) THEN
      RETURN NULL;
    END IF;
    RETURN ROW(NULLIF(p[4], '')::uuid, NULLIF(p[5], '')::uuid, NULLIF(p[6], '')::uuid,
               NULLIF(p[7], '')::uuid, NULLIF(p[8], ''))::caller;
  END $$;

-- What policies and functions read. Policies call them as `(SELECT app_org())`
-- so that each is evaluated once per statement (an InitPlan), never per row.
-- A pinned org always comes with the caller's role in it (the verify_*
-- functions pin an org only for a member or the org's own key), so read
-- policies need only `org_id = (SELECT app_org())`.
CREATE FUNCTION app_org() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT (public.app_caller()).org_id $$;
CREATE FUNCTION app_user() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT (public.app_caller()).user_id $$;
CREATE FUNCTION app_api_key() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT (public.app_caller()).api_key_id $$;
-- The caller's role in app_org(), as verified when the transaction began
-- (from CURRENT membership or API key rows, so a removal or demotion acts
-- on the next request). Gated membership writes re-read it under their
-- lock with live_role() (0002_identity).
CREATE FUNCTION app_role() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT (public.app_caller()).role $$;

CREATE FUNCTION role_rank(r text) RETURNS int LANGUAGE sql IMMUTABLE
  AS $$ SELECT CASE r WHEN 'owner' THEN 4 WHEN 'admin' THEN 3 WHEN 'agent' THEN 2
                      WHEN 'light_agent' THEN 1 ELSE 0 END $$;

GRANT EXECUTE ON FUNCTION app_caller(), app_org(), app_user(), app_api_key(), role_rank(text), app_role()
  TO ochre_app;
