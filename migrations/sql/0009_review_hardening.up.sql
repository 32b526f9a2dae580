-- Second hardening pass (security review):
--  * a member's API keys and pending invitations do not outlive their
--    authority: removal revokes them, demotion revokes those above the new
--    role, and accepting an invitation re-checks its author;
--  * a revoked session cannot be un-revoked;
--  * creator columns (created_by, invited_by, connected_by) name the caller;
--  * admins cannot revoke an owner's invitation.

CREATE POLICY api_keys_definer_revoke ON api_keys FOR UPDATE TO ochre_owner USING (true) WITH CHECK (true);

-- Revokes what p_user granted in app_org() above p_role (all of it when
-- p_role is NULL, i.e. on removal).
CREATE FUNCTION revoke_grants_of(p_user uuid, p_role text) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
    UPDATE api_keys SET revoked_at = now()
     WHERE org_id = app_org() AND created_by = p_user AND revoked_at IS NULL
       AND (p_role IS NULL OR role_rank(role) > role_rank(p_role));
    UPDATE invitations SET revoked_at = now()
     WHERE org_id = app_org() AND invited_by = p_user AND revoked_at IS NULL AND accepted_at IS NULL
       AND (p_role IS NULL OR role_rank(role) > role_rank(p_role));
  $$;
REVOKE ALL ON FUNCTION revoke_grants_of(uuid, text) FROM PUBLIC;

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
    PERFORM revoke_grants_of(p_user, p_role);
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
    PERFORM revoke_grants_of(p_user, NULL);
  END $$;

CREATE OR REPLACE FUNCTION accept_invitation(p_token_hash bytea)
  RETURNS TABLE (org_id uuid, role text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  DECLARE
    inv invitations%ROWTYPE;
    caller_email text;
  BEGIN
    IF app_user() IS NULL OR app_api_key() IS NOT NULL THEN
      RAISE EXCEPTION 'a signed-in user is required' USING ERRCODE = '42501';
    END IF;
    SELECT * INTO inv FROM invitations i WHERE i.token_hash = p_token_hash FOR UPDATE;
    SELECT u.email INTO caller_email FROM users u WHERE u.id = app_user();
    IF inv.id IS NULL OR inv.revoked_at IS NOT NULL OR inv.accepted_at IS NOT NULL
       OR inv.expires_at <= now() OR inv.email IS DISTINCT FROM caller_email THEN
      -- One answer for unknown, used, revoked, expired and someone else's.
      RAISE EXCEPTION 'invitation not found or no longer valid' USING ERRCODE = 'P0002';
    END IF;
    -- The inviter must still be a member of at least the invited rank: an
    -- invitation does not outlive its author's authority.
    PERFORM lock_org_members(inv.org_id);
    IF NOT EXISTS (SELECT 1 FROM memberships m
                    WHERE m.org_id = inv.org_id AND m.user_id = inv.invited_by
                      AND role_rank(m.role) >= role_rank(inv.role)) THEN
      RAISE EXCEPTION 'invitation not found or no longer valid' USING ERRCODE = 'P0002';
    END IF;
    IF EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = inv.org_id AND m.user_id = app_user()) THEN
      RAISE EXCEPTION 'already a member of this org' USING ERRCODE = '55000';
    END IF;
    INSERT INTO memberships (org_id, user_id, role) VALUES (inv.org_id, app_user(), inv.role);
    UPDATE invitations SET accepted_at = now(), accepted_by = app_user()
     WHERE invitations.org_id = inv.org_id AND invitations.id = inv.id;
    RETURN QUERY SELECT inv.org_id, inv.role;
  END $$;

-- Sessions: the owner reads them and may revoke one, never un-revoke.
DROP POLICY sessions_self ON sessions;
CREATE POLICY sessions_self_read ON sessions FOR SELECT TO ochre_app USING (user_id = app_user());
CREATE POLICY sessions_self_revoke ON sessions FOR UPDATE TO ochre_app
  USING (user_id = app_user() AND revoked_at IS NULL)
  WITH CHECK (user_id = app_user() AND revoked_at IS NOT NULL);

-- Creator columns name the caller.
DROP POLICY api_keys_admin_insert ON api_keys;
CREATE POLICY api_keys_admin_insert ON api_keys FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin')
              AND role_rank(role) <= role_rank((SELECT app_role()))
              AND revoked_at IS NULL AND last_used_at IS NULL
              AND created_by IS NOT DISTINCT FROM app_user());
DROP POLICY invitations_admin_insert ON invitations;
CREATE POLICY invitations_admin_insert ON invitations FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin')
              AND (role <> 'owner' OR (SELECT app_role()) = 'owner')
              AND revoked_at IS NULL AND accepted_at IS NULL AND accepted_by IS NULL
              AND invited_by IS NOT DISTINCT FROM app_user());
DROP POLICY integrations_write ON integrations;
CREATE POLICY integrations_write ON integrations FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin')
              AND connected_by IS NOT DISTINCT FROM app_user());

-- Admins cannot touch owners: not even an owner's pending invitation.
DROP POLICY invitations_admin_revoke ON invitations;
CREATE POLICY invitations_admin_revoke ON invitations FOR UPDATE TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin')
         AND (role <> 'owner' OR (SELECT app_role()) = 'owner')
         AND revoked_at IS NULL AND accepted_at IS NULL)
  WITH CHECK (org_id = app_org() AND revoked_at IS NOT NULL);
