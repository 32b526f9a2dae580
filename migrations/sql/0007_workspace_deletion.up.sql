-- Workspace deletion: an owner schedules it (the org turns pending deletion
-- at once: verify_session() and verify_api_key() in 0002_identity refuse
-- it), may restore it until the purge begins, and after the grace period
-- the purge job deletes every row of the org in batches, verifies from the
-- catalog that no table with an org_id column holds one, and keeps a
-- receipt that outlives the org.

-- The receipt of one org's purge: no personal data, only the org's id, the
-- timeline and how many rows each table lost. Written only by
-- purge_org_step(); read by the operator (`ochre purge --receipts`).
CREATE TABLE org_purge_receipts (
  -- Not a reference: the org is gone when the purge completes.
  purged_org_id         uuid        PRIMARY KEY,
  deletion_scheduled_at timestamptz NOT NULL,
  purge_after           timestamptz NOT NULL,
  started_at            timestamptz NOT NULL,
  completed_at          timestamptz,
  -- Rows deleted per table, accumulated batch by batch.
  deleted               jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(deleted) = 'object'),
  -- The tables found in the catalog and checked empty of the org at the end.
  tables_verified       text[]      NOT NULL DEFAULT '{}'
);
ALTER TABLE org_purge_receipts ENABLE ROW LEVEL SECURITY;
ALTER TABLE org_purge_receipts FORCE ROW LEVEL SECURITY;
CREATE POLICY org_purge_receipts_definer ON org_purge_receipts FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);

-- The owner role (the definer functions) may see and delete the rows of an
-- org whose purge has begun, and no others, and write none: one policy per
-- tenant table, made here for every table with an org_id column. A table
-- added later states its own `<table>_purge` policy; purge_org_step()
-- refuses to begin while a tenant table lacks one.
DO $$
DECLARE
  t regclass;
BEGIN
  FOR t IN SELECT c.oid::regclass FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r'
              AND EXISTS (SELECT 1 FROM pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped)
  LOOP
    EXECUTE format('CREATE POLICY %I ON %s FOR ALL TO ochre_owner USING '
                   '(EXISTS (SELECT 1 FROM orgs o WHERE o.id = org_id AND o.purge_started_at IS NOT NULL)) '
                   'WITH CHECK (false)',
                   replace(t::text, '"', '') || '_purge', t);
  END LOOP;
END $$;

-- Schedules the verified owner's org for deletion, `p_grace` from now (at
-- least a day); appends `org.deletion_scheduled`. Owners only, never an
-- API key (the server also checks the password and second factor).
CREATE FUNCTION schedule_org_deletion(p_grace interval, p_client_ip text, p_request_id text,
                                      OUT deletion_scheduled_at timestamptz,
                                      OUT purge_after timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  BEGIN
    IF app_org() IS NULL OR app_role() IS DISTINCT FROM 'owner' OR app_user() IS NULL
       OR app_api_key() IS NOT NULL THEN
      RAISE EXCEPTION 'only an owner can delete the workspace' USING ERRCODE = '42501';
    END IF;
    IF p_grace IS NULL OR p_grace < interval '1 day' THEN
      RAISE EXCEPTION 'the deletion grace period must be at least one day' USING ERRCODE = '22023';
    END IF;
    UPDATE orgs o SET deleted_at = now(), purge_after = now() + p_grace
     WHERE o.id = app_org() AND o.deleted_at IS NULL
    RETURNING o.deleted_at, o.purge_after INTO deletion_scheduled_at, purge_after;
    IF deletion_scheduled_at IS NULL THEN
      RAISE EXCEPTION 'the workspace is already scheduled for deletion' USING ERRCODE = '55000';
    END IF;
    PERFORM audit_append(app_org(), app_user(), NULL, 'org.deletion_scheduled', 'org', app_org(),
                         jsonb_build_object('purge_after', purge_after), p_client_ip, p_request_id);
  END $$;
GRANT EXECUTE ON FUNCTION schedule_org_deletion(interval, text, text) TO ochre_app;

-- Cancels the deletion of the verified owner's org, unless its purge has
-- begun; appends `org.restored`.
CREATE FUNCTION restore_org(p_client_ip text, p_request_id text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    o orgs%ROWTYPE;
  BEGIN
    IF app_org() IS NULL OR app_role() IS DISTINCT FROM 'owner' OR app_user() IS NULL
       OR app_api_key() IS NOT NULL THEN
      RAISE EXCEPTION 'only an owner can restore the workspace' USING ERRCODE = '42501';
    END IF;
    SELECT * INTO o FROM orgs WHERE id = app_org() FOR UPDATE;
    IF o.deleted_at IS NULL THEN
      RAISE EXCEPTION 'the workspace is not scheduled for deletion' USING ERRCODE = '55000';
    END IF;
    IF o.purge_started_at IS NOT NULL THEN
      RAISE EXCEPTION 'the purge of this workspace has begun: it can no longer be restored'
        USING ERRCODE = '55000';
    END IF;
    UPDATE orgs SET deleted_at = NULL, purge_after = NULL WHERE id = o.id;
    PERFORM audit_append(o.id, app_user(), NULL, 'org.restored', 'org', o.id, '{}'::jsonb,
                         p_client_ip, p_request_id);
  END $$;
GRANT EXECUTE ON FUNCTION restore_org(text, text) TO ochre_app;

-- Every table of schema public with an org_id column, found in the catalog,
-- each after every table whose foreign keys reference it (so deleting in
-- this order never cascades and every row is counted where it lived).
CREATE FUNCTION org_tables_children_first() RETURNS SETOF regclass
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
  AS $$
    WITH RECURSIVE tenant AS (
      SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind = 'r'
         AND EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped)
    ), edge AS (
      SELECT DISTINCT k.conrelid AS child, k.confrelid AS parent FROM pg_constraint k
       WHERE k.contype = 'f' AND k.conrelid <> k.confrelid
         AND k.conrelid IN (SELECT oid FROM tenant) AND k.confrelid IN (SELECT oid FROM tenant)
    ), depth AS (
      SELECT oid AS rel, 0 AS d FROM tenant
      UNION ALL
      SELECT e.parent, depth.d + 1 FROM depth JOIN edge e ON e.child = depth.rel
    )
    SELECT rel::regclass FROM depth GROUP BY rel ORDER BY max(d), rel::regclass::text
  $$;

-- Orgs the purge job must work on at `p_now`: pending deletion past their
-- purge date, or with a purge already begun (an interrupted run).
CREATE FUNCTION orgs_due_for_purge(p_now timestamptz) RETURNS SETOF uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT o.id FROM orgs o
     WHERE o.deleted_at IS NOT NULL AND (o.purge_started_at IS NOT NULL OR o.purge_after <= p_now)
     ORDER BY o.purge_after, o.id
  $$;

-- One step of the purge of `p_org` at `p_now`, in the caller's transaction:
--   'not_due'      the org is not pending deletion (restored) or its purge
--                  date is after p_now: nothing is touched;
--   'in_progress'  up to p_batch rows of one table were deleted (the first
--                  step also marks the purge begun and opens the receipt);
--   'done'         nothing was left: every table with an org_id column was
--                  checked empty of the org in the catalog, the org row is
--                  deleted and the receipt completed;
--   'gone'         no such org (already purged, or never existed).
-- Each step commits on its own, so an interrupted purge resumes where it
-- stopped and running it again is harmless.
CREATE FUNCTION purge_org_step(p_org uuid, p_now timestamptz, p_batch int) RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    o orgs%ROWTYPE;
    t regclass;
    n bigint;
    checked text[] := '{}';
    missing text;
  BEGIN
    IF p_batch IS NULL OR p_batch < 1 OR p_batch > 100000 THEN
      RAISE EXCEPTION 'the batch size must be between 1 and 100000' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO o FROM orgs WHERE id = p_org FOR UPDATE;
    IF NOT FOUND THEN
      RETURN 'gone';
    END IF;
    IF o.deleted_at IS NULL OR (o.purge_started_at IS NULL AND o.purge_after > p_now) THEN
      RETURN 'not_due';
    END IF;
    IF o.purge_started_at IS NULL THEN
      -- Every tenant table must let this function see and delete the org's
      -- rows; without its purge policy a table's rows would be invisible here.
      SELECT string_agg(c::text, ', ') INTO missing FROM org_tables_children_first() c
       WHERE NOT EXISTS (SELECT 1 FROM pg_policy p
                          WHERE p.polrelid = c AND p.polname = replace(c::text, '"', '') || '_purge');
      IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'the purge cannot begin: no purge policy on %', missing USING ERRCODE = '55000';
      END IF;
      UPDATE orgs SET purge_started_at = now() WHERE id = p_org;
      INSERT INTO org_purge_receipts (purged_org_id, deletion_scheduled_at, purge_after, started_at)
      VALUES (p_org, o.deleted_at, o.purge_after, now());
    END IF;
    FOR t IN SELECT org_tables_children_first() LOOP
      EXECUTE format('DELETE FROM %s WHERE ctid = ANY (ARRAY(SELECT ctid FROM %s WHERE org_id = $1 LIMIT $2))',
                     t, t) USING p_org, p_batch;
      GET DIAGNOSTICS n = ROW_COUNT;
      IF n > 0 THEN
        UPDATE org_purge_receipts r
           SET deleted = r.deleted || jsonb_build_object(t::text, coalesce((r.deleted ->> t::text)::bigint, 0) + n)
         WHERE r.purged_org_id = p_org;
        RETURN 'in_progress';
      END IF;
    END LOOP;
    -- Nothing was deleted in this step: check from the catalog that no
    -- table holds a row of the org (a row the owner role could not delete,
    -- a table without a purge policy) before the org itself goes.
    FOR t IN SELECT org_tables_children_first() LOOP
      EXECUTE format('SELECT count(*) FROM %s WHERE org_id = $1', t) INTO n USING p_org;
      IF n > 0 THEN
        RAISE EXCEPTION 'the purge cannot finish: table % still holds rows of the org', t
          USING ERRCODE = '55000';
      END IF;
      checked := checked || t::text;
    END LOOP;
    DELETE FROM orgs WHERE id = p_org;
    UPDATE org_purge_receipts r
       SET deleted = r.deleted || jsonb_build_object('orgs', 1), completed_at = now(),
           tables_verified = checked
     WHERE r.purged_org_id = p_org;
    RETURN 'done';
  END $$;

-- The purge receipts, newest first (for `ochre purge --receipts`).
CREATE FUNCTION org_purge_receipts()
  RETURNS TABLE (purged_org_id uuid, deletion_scheduled_at timestamptz, purge_after timestamptz,
                 started_at timestamptz, completed_at timestamptz, deleted jsonb,
                 tables_verified text[])
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT r.purged_org_id, r.deletion_scheduled_at, r.purge_after, r.started_at, r.completed_at,
           r.deleted, r.tables_verified
      FROM org_purge_receipts r ORDER BY r.started_at DESC, r.purged_org_id
  $$;

GRANT EXECUTE ON FUNCTION orgs_due_for_purge(timestamptz), purge_org_step(uuid, timestamptz, int),
                          org_purge_receipts()
  TO ochre_service;
