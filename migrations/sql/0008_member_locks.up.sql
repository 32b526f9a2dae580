-- Membership changes are serialised per org: two owners demoting or
-- removing each other at the same moment could otherwise both see "another
-- owner remains" and leave the org with none. Every gated membership write
-- (and account deletion's last-owner check) first takes a transaction-scoped
-- advisory lock on the org.

CREATE FUNCTION lock_org_members(p_org uuid) RETURNS void
  LANGUAGE sql SET search_path = pg_catalog
  AS $$ SELECT pg_advisory_xact_lock(hashtextextended('ochre.org.members:' || p_org::text, 0)) $$;
REVOKE ALL ON FUNCTION lock_org_members(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lock_org_members(uuid) TO ochre_app;

CREATE OR REPLACE FUNCTION set_member_role(p_user uuid, p_role text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  DECLARE
    caller text;
    target text;
  BEGIN
    PERFORM lock_org_members(app_org());
    caller := app_role();  -- after the lock: the caller's role as it is now
    IF caller IS NULL OR caller NOT IN ('owner', 'admin') THEN
      RAISE EXCEPTION 'permission denied' USING ERRCODE = '42501';
    END IF;
    IF p_role NOT IN ('owner', 'admin', 'agent', 'light_agent') THEN
      RAISE EXCEPTION 'unknown role' USING ERRCODE = '22023';
    END IF;
    SELECT m.role INTO target FROM memberships m
     WHERE m.org_id = app_org() AND m.user_id = p_user FOR UPDATE;
    IF target IS NULL THEN
      RAISE EXCEPTION 'member not found' USING ERRCODE = 'P0002';
    END IF;
    IF caller <> 'owner' AND (target = 'owner' OR p_role = 'owner') THEN
      RAISE EXCEPTION 'only an owner can change an owner or make one' USING ERRCODE = '42501';
    END IF;
    IF target = 'owner' AND p_role <> 'owner' AND (SELECT count(*) FROM memberships m
        WHERE m.org_id = app_org() AND m.role = 'owner') = 1 THEN
      RAISE EXCEPTION 'the last owner cannot be demoted' USING ERRCODE = '55000';
    END IF;
    UPDATE memberships SET role = p_role WHERE org_id = app_org() AND user_id = p_user;
  END $$;

CREATE OR REPLACE FUNCTION remove_member(p_user uuid) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  DECLARE
    caller text;
    target text;
  BEGIN
    PERFORM lock_org_members(app_org());
    caller := app_role();  -- after the lock: the caller's role as it is now
    IF caller IS NULL OR caller NOT IN ('owner', 'admin') THEN
      RAISE EXCEPTION 'permission denied' USING ERRCODE = '42501';
    END IF;
    SELECT m.role INTO target FROM memberships m
     WHERE m.org_id = app_org() AND m.user_id = p_user FOR UPDATE;
    IF target IS NULL THEN
      RAISE EXCEPTION 'member not found' USING ERRCODE = 'P0002';
    END IF;
    IF target = 'owner' AND caller <> 'owner' THEN
      RAISE EXCEPTION 'only an owner can remove an owner' USING ERRCODE = '42501';
    END IF;
    IF target = 'owner' AND (SELECT count(*) FROM memberships m
        WHERE m.org_id = app_org() AND m.role = 'owner') = 1 THEN
      RAISE EXCEPTION 'the last owner cannot be removed' USING ERRCODE = '55000';
    END IF;
    DELETE FROM memberships WHERE org_id = app_org() AND user_id = p_user;
  END $$;

CREATE OR REPLACE FUNCTION transfer_ownership(p_user uuid) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  BEGIN
    PERFORM lock_org_members(app_org());
    IF app_role() IS DISTINCT FROM 'owner' OR app_api_key() IS NOT NULL THEN
      RAISE EXCEPTION 'only an owner can transfer ownership' USING ERRCODE = '42501';
    END IF;
    IF p_user = app_user() THEN
      RAISE EXCEPTION 'you already own this org' USING ERRCODE = '55000';
    END IF;
    UPDATE memberships SET role = 'owner' WHERE org_id = app_org() AND user_id = p_user;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'member not found' USING ERRCODE = 'P0002';
    END IF;
    UPDATE memberships SET role = 'admin' WHERE org_id = app_org() AND user_id = app_user();
  END $$;

CREATE OR REPLACE FUNCTION sole_owner_orgs() RETURNS SETOF uuid
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  DECLARE
    o uuid;
  BEGIN
    FOR o IN SELECT m.org_id FROM memberships m WHERE m.user_id = app_user() AND m.role = 'owner'
             ORDER BY m.org_id LOOP
      PERFORM lock_org_members(o);
    END LOOP;
    RETURN QUERY
      SELECT m.org_id FROM memberships m
       WHERE m.user_id = app_user() AND m.role = 'owner'
         AND (SELECT count(*) FROM memberships x WHERE x.org_id = m.org_id AND x.role = 'owner') = 1;
  END $$;
