-- Identity: orgs, users, sessions, memberships, invitations, API keys,
-- login throttling, and the gated functions that write memberships.
--
-- Policies check the caller with app_role() (0001_foundation), i.e. against
-- CURRENT membership data, for every write.

-- Orgs: the tenants. Every other tenant table is keyed by (org_id, id).
-- Members read their org; owners and admins update it; creation goes
-- through create_org(). The verify_* functions read the allowlist.
CREATE TABLE orgs (
  id           uuid        PRIMARY KEY,
  name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- Pending deletion (ScheduleWorkspaceDeletion): when it was scheduled and
  -- when the purge may begin; cleared by RestoreWorkspace. Once the purge
  -- job has begun (purge_started_at) the org can no longer be restored.
  deleted_at   timestamptz,
  purge_after  timestamptz,
  purge_started_at timestamptz,
  ip_allowlist cidr[]      NOT NULL DEFAULT '{}',
  CHECK ((deleted_at IS NULL) = (purge_after IS NULL)),
  CHECK (purge_started_at IS NULL OR deleted_at IS NOT NULL)
);
ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE orgs FORCE ROW LEVEL SECURITY;
CREATE POLICY orgs_member_read ON orgs FOR SELECT TO ochre_app
  USING (id = (SELECT app_org()));
-- Only owners change the org row (its IP allowlist): an admin could otherwise
-- lock every owner out, and an API key is never an owner.
CREATE POLICY orgs_owner_update ON orgs FOR UPDATE TO ochre_app
  USING (id = (SELECT app_org_as(ARRAY['owner'])))
  WITH CHECK (id = (SELECT app_org_as(ARRAY['owner'])));
CREATE POLICY orgs_definer ON orgs FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
GRANT SELECT, UPDATE (name, ip_allowlist) ON orgs TO ochre_app;

-- Users see only their own row; sign-up and login by email go through the
-- named functions of ochre_service (below), which has no table grant.
CREATE TABLE users (
  id                  uuid        PRIMARY KEY,
  email               text        NOT NULL CHECK (email = lower(email) AND char_length(email) <= 254),
  display_name        text        NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 200),
  password_hash       text        NOT NULL,
  totp_secret         bytea,      -- vault ciphertext, never clear
  totp_pending_secret bytea,      -- vault ciphertext during enrollment
  totp_enabled        boolean     NOT NULL DEFAULT false,
  totp_last_step      bigint,
  created_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_email_key UNIQUE (email),
  CHECK (NOT totp_enabled OR totp_secret IS NOT NULL)
);
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_self ON users FOR ALL TO ochre_app
  USING (id = (SELECT app_user())) WITH CHECK (id = (SELECT app_user()));
CREATE POLICY users_definer ON users FOR SELECT TO ochre_owner USING (true);
CREATE POLICY users_definer_insert ON users FOR INSERT TO ochre_owner WITH CHECK (true);
-- Key rotation (`ochre keys rotate`, as the owner role) re-encrypts TOTP secrets too.
CREATE POLICY users_owner_rotate ON users FOR UPDATE TO ochre_owner USING (true) WITH CHECK (true);
-- Accounts are deleted only through delete_my_account() (below).
CREATE POLICY users_definer_delete ON users FOR DELETE TO ochre_owner USING (true);
GRANT SELECT ON users TO ochre_app;
GRANT UPDATE (display_name, password_hash, totp_secret, totp_pending_secret, totp_enabled, totp_last_step)
  ON users TO ochre_app;

-- A session is a refresh-token family; access tokens name it, so revoking
-- it ends every token of the family.
CREATE TABLE sessions (
  id            uuid        PRIMARY KEY,
  user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  revoked_at    timestamptz,
  revoked_reason text,
  client_ip     inet,
  user_agent    text CHECK (char_length(user_agent) <= 512),
  -- The proof of possession: SHA-256 of a per-session secret carried in the
  -- session's access tokens and checked by verify_session(). A refresh
  -- replaces it; the previous one stays valid as long as the access tokens
  -- minted with it (15 minutes). Not readable by ochre_app.
  proof_hash      bytea       NOT NULL CHECK (octet_length(proof_hash) = 32),
  prev_proof_hash bytea       CHECK (octet_length(prev_proof_hash) = 32),
  proof_rotated_at timestamptz
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
-- The user reads their sessions and may revoke one, never un-revoke.
CREATE POLICY sessions_self_read ON sessions FOR SELECT TO ochre_app USING (user_id = (SELECT app_user()));
CREATE POLICY sessions_self_revoke ON sessions FOR UPDATE TO ochre_app
  USING (user_id = (SELECT app_user()) AND revoked_at IS NULL)
  WITH CHECK (user_id = (SELECT app_user()) AND revoked_at IS NOT NULL);
CREATE POLICY sessions_definer ON sessions FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
GRANT SELECT (id, user_id, created_at, expires_at, revoked_at, revoked_reason, client_ip, user_agent),
  UPDATE (revoked_at, revoked_reason) ON sessions TO ochre_app;

-- Second-factor sign-in tickets: the password step of an account with TOTP
-- returns one instead of a session; it is short-lived, single-use (spent on
-- its first presentation, whatever the code) and stored as a SHA-256 hash.
CREATE TABLE login_tickets (
  token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at    timestamptz
);
CREATE INDEX login_tickets_user_idx ON login_tickets (user_id);
ALTER TABLE login_tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE login_tickets FORCE ROW LEVEL SECURITY;
CREATE POLICY login_tickets_definer ON login_tickets FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);

-- Refresh tokens, stored as SHA-256 hashes. A used token presented again
-- revokes its session.
CREATE TABLE refresh_tokens (
  token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  issued_at  timestamptz NOT NULL DEFAULT now(),
  used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY refresh_tokens_definer ON refresh_tokens FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);

-- Memberships: visible to the user themself and to members of the org.
-- Written only through the gated functions below (as the owner role).
CREATE TABLE memberships (
  org_id     uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role       text        NOT NULL CHECK (role IN ('owner', 'admin', 'agent', 'light_agent')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY memberships_read ON memberships FOR SELECT TO ochre_app
  USING (user_id = (SELECT app_user()) OR (org_id = (SELECT app_org())));
CREATE POLICY memberships_definer ON memberships FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
GRANT SELECT ON memberships TO ochre_app;

-- API keys of an org: hashed, carrying a role that is never owner. Owners
-- and admins create them, at most at their own rank, in their own name;
-- revocation is one-way: the only UPDATE is setting revoked_at once. A key
-- names its org (its last 16 bytes), so it is found by (org_id, key_hash)
-- and every key of this table starts with org_id (ready to shard by org).
CREATE TABLE api_keys (
  org_id       uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id           uuid        NOT NULL,
  name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  role         text        NOT NULL CHECK (role IN ('admin', 'agent', 'light_agent')),
  key_hash     bytea       NOT NULL CHECK (octet_length(key_hash) = 32),
  prefix       text        NOT NULL,
  created_by   uuid        REFERENCES users (id) ON DELETE SET NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz,
  PRIMARY KEY (org_id, id),
  CONSTRAINT api_keys_hash_key UNIQUE (org_id, key_hash)
);
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_admin_read ON api_keys FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
CREATE POLICY api_keys_admin_insert ON api_keys FOR INSERT TO ochre_app
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin']))
              AND role_rank(role) <= role_rank((SELECT app_role()))
              AND revoked_at IS NULL AND last_used_at IS NULL
              -- A key has a person as its creator: never an API key, never nobody.
              AND created_by = (SELECT app_user()) AND (SELECT app_api_key()) IS NULL);
CREATE POLICY api_keys_admin_revoke ON api_keys FOR UPDATE TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])) AND revoked_at IS NULL)
  WITH CHECK (org_id = (SELECT app_org()) AND revoked_at IS NOT NULL);
-- The owner role reads keys in verify_api_key() and revokes a departing
-- member's in revoke_grants_of().
CREATE POLICY api_keys_definer ON api_keys FOR SELECT TO ochre_owner USING (true);
CREATE POLICY api_keys_definer_revoke ON api_keys FOR UPDATE TO ochre_owner USING (true) WITH CHECK (true);
-- The hash is never readable by ochre_app (verify_api_key() compares it).
GRANT SELECT (org_id, id, name, role, prefix, created_by, created_at, last_used_at, revoked_at),
  INSERT, UPDATE (revoked_at) ON api_keys TO ochre_app;

-- Invitations: the token is stored hashed; single-use and expiring. Owners
-- and admins invite in their own name (only owners invite owners) and
-- revoke pending ones, one-way; admins cannot touch owners, not even an
-- owner's pending invitation. Accepting goes through accept_invitation().
-- A token names its org (its last 16 bytes): found by (org_id, token_hash).
CREATE TABLE invitations (
  org_id      uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id          uuid        NOT NULL,
  email       text        NOT NULL CHECK (email = lower(email) AND char_length(email) <= 254),
  role        text        NOT NULL CHECK (role IN ('owner', 'admin', 'agent', 'light_agent')),
  token_hash  bytea       NOT NULL CHECK (octet_length(token_hash) = 32),
  invited_by  uuid        REFERENCES users (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  accepted_at timestamptz,
  accepted_by uuid        REFERENCES users (id) ON DELETE SET NULL,
  revoked_at  timestamptz,
  PRIMARY KEY (org_id, id),
  CONSTRAINT invitations_token_key UNIQUE (org_id, token_hash)
);
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_admin_read ON invitations FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
CREATE POLICY invitations_admin_insert ON invitations FOR INSERT TO ochre_app
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin']))
              AND (role <> 'owner' OR org_id = (SELECT app_org_as(ARRAY['owner'])))
              AND revoked_at IS NULL AND accepted_at IS NULL AND accepted_by IS NULL
              AND invited_by = (SELECT app_user()) AND (SELECT app_api_key()) IS NULL);
CREATE POLICY invitations_admin_revoke ON invitations FOR UPDATE TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin']))
         AND (role <> 'owner' OR org_id = (SELECT app_org_as(ARRAY['owner'])))
         AND revoked_at IS NULL AND accepted_at IS NULL)
  WITH CHECK (org_id = (SELECT app_org()) AND revoked_at IS NOT NULL);
CREATE POLICY invitations_definer ON invitations FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE (revoked_at) ON invitations TO ochre_app;

-- Login throttling, per account and per client address (shared by replicas).
CREATE TABLE login_throttle (
  key          text        PRIMARY KEY CHECK (char_length(key) <= 300),
  failures     int         NOT NULL DEFAULT 0,
  window_start timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz
);
ALTER TABLE login_throttle ENABLE ROW LEVEL SECURITY;
ALTER TABLE login_throttle FORCE ROW LEVEL SECURITY;
CREATE POLICY login_throttle_definer ON login_throttle FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);

-- Gated membership writes. Each checks the caller again from current data
-- and raises standard SQLSTATEs: 42501 (permission), P0002 (not found),
-- 55000 (failed precondition), 22023 (invalid argument).
--
-- Membership changes are serialised per org: two owners demoting or
-- removing each other at the same moment could otherwise both see "another
-- owner remains" and leave the org with none. Every gated membership write
-- (and account deletion's last-owner check) first takes a transaction-scoped
-- advisory lock on the org, and reads the caller's role after it.

-- The caller's role in app_org() as the membership rows say NOW (read by
-- the gated membership writes after they take the org's lock).
CREATE FUNCTION live_role() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT m.role FROM memberships m
     WHERE m.org_id = app_org() AND m.user_id = app_user() AND app_api_key() IS NULL
  $$;

CREATE FUNCTION lock_org_members(p_org uuid) RETURNS void
  LANGUAGE sql SET search_path = pg_catalog, pg_temp
  AS $$ SELECT pg_advisory_xact_lock(hashtextextended('ochre.org.members:' || p_org::text, 0)) $$;
GRANT EXECUTE ON FUNCTION lock_org_members(uuid) TO ochre_app;

CREATE FUNCTION create_org(p_id uuid, p_name text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  BEGIN
    IF app_user() IS NULL OR app_api_key() IS NOT NULL THEN
      RAISE EXCEPTION 'a signed-in user is required' USING ERRCODE = '42501';
    END IF;
    INSERT INTO orgs (id, name) VALUES (p_id, p_name);
    INSERT INTO memberships (org_id, user_id, role) VALUES (p_id, app_user(), 'owner');
  END $$;
GRANT EXECUTE ON FUNCTION create_org(uuid, text) TO ochre_app;

-- The caller's orgs, those pending deletion included (with their dates:
-- an owner must be able to find one to restore it).
CREATE FUNCTION my_memberships()
  RETURNS TABLE (org_id uuid, org_name text, org_created_at timestamptz, role text,
                 deletion_scheduled_at timestamptz, purge_after timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT o.id, o.name, o.created_at, m.role, o.deleted_at, o.purge_after
      FROM memberships m JOIN orgs o ON o.id = m.org_id
     WHERE m.user_id = app_user()
     ORDER BY o.created_at, o.id
  $$;
GRANT EXECUTE ON FUNCTION my_memberships() TO ochre_app;

CREATE FUNCTION org_members()
  RETURNS TABLE (user_id uuid, email text, display_name text, role text, joined_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT u.id, u.email, u.display_name, m.role, m.created_at
      FROM memberships m JOIN users u ON u.id = m.user_id
     WHERE m.org_id = app_org() AND app_role() IS NOT NULL
     ORDER BY m.created_at, u.id
  $$;
GRANT EXECUTE ON FUNCTION org_members() TO ochre_app;

-- A member's API keys and pending invitations do not outlive their
-- authority: removal revokes them, demotion revokes those above the new
-- role. Revokes what p_user granted in app_org() above p_role (all of it
-- when p_role is NULL, i.e. on removal). Called only by the functions below.
CREATE FUNCTION revoke_grants_of(p_user uuid, p_role text) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    UPDATE api_keys SET revoked_at = now()
     WHERE org_id = app_org() AND created_by = p_user AND revoked_at IS NULL
       AND (p_role IS NULL OR role_rank(role) > role_rank(p_role));
    UPDATE invitations SET revoked_at = now()
     WHERE org_id = app_org() AND invited_by = p_user AND revoked_at IS NULL AND accepted_at IS NULL
       AND (p_role IS NULL OR role_rank(role) > role_rank(p_role));
  $$;

CREATE FUNCTION set_member_role(p_user uuid, p_role text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    caller text;
    target text;
  BEGIN
    PERFORM lock_org_members(app_org());
    caller := live_role();  -- after the lock: the caller's role as it is now
    IF caller IS NULL OR caller NOT IN ('owner', 'admin') OR app_api_key() IS NOT NULL THEN
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
GRANT EXECUTE ON FUNCTION set_member_role(uuid, text) TO ochre_app;

CREATE FUNCTION remove_member(p_user uuid) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    caller text;
    target text;
  BEGIN
    PERFORM lock_org_members(app_org());
    caller := live_role();  -- after the lock: the caller's role as it is now
    IF caller IS NULL OR caller NOT IN ('owner', 'admin') OR app_api_key() IS NOT NULL THEN
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
GRANT EXECUTE ON FUNCTION remove_member(uuid) TO ochre_app;

CREATE FUNCTION transfer_ownership(p_user uuid) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  BEGIN
    PERFORM lock_org_members(app_org());
    IF live_role() IS DISTINCT FROM 'owner' OR app_api_key() IS NOT NULL THEN
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
GRANT EXECUTE ON FUNCTION transfer_ownership(uuid) TO ochre_app;

-- p_org is the org the token names (read by the server from the token; the
-- hash covers it, so naming another org finds nothing).
CREATE FUNCTION accept_invitation(p_org uuid, p_token_hash bytea, p_client_ip text,
                                  p_request_id text)
  RETURNS TABLE (org_id uuid, role text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    inv invitations%ROWTYPE;
    caller_email text;
    allowed cidr[];
  BEGIN
    IF app_user() IS NULL OR app_api_key() IS NOT NULL THEN
      RAISE EXCEPTION 'a signed-in user is required' USING ERRCODE = '42501';
    END IF;
    SELECT * INTO inv FROM invitations i
     WHERE i.org_id = p_org AND i.token_hash = p_token_hash FOR UPDATE;
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
    -- The org's IP allowlist holds for joining it too (the call names no org,
    -- so the gate could not check it).
    SELECT o.ip_allowlist INTO allowed FROM orgs o WHERE o.id = inv.org_id;
    IF EXISTS (SELECT 1 FROM orgs o WHERE o.id = inv.org_id AND o.deleted_at IS NOT NULL) THEN
      RAISE EXCEPTION 'the workspace is scheduled for deletion' USING ERRCODE = '55000';
    END IF;
    IF cardinality(allowed) > 0 AND NOT EXISTS (
         SELECT 1 FROM unnest(allowed) AS a(range)
          WHERE NULLIF(p_client_ip, '')::inet <<= a.range) THEN
      RAISE EXCEPTION 'requests from this address are not allowed for this org' USING ERRCODE = '42501';
    END IF;
    INSERT INTO memberships (org_id, user_id, role) VALUES (inv.org_id, app_user(), inv.role);
    UPDATE invitations SET accepted_at = now(), accepted_by = app_user()
     WHERE invitations.org_id = inv.org_id AND invitations.id = inv.id;
    -- audit_append() (0004_integrations) is resolved when this runs.
    PERFORM audit_append(inv.org_id, app_user(), NULL, 'member.joined', 'invitation', inv.id,
                         jsonb_build_object('role', inv.role), p_client_ip, p_request_id);
    RETURN QUERY SELECT inv.org_id, inv.role;
  END $$;
GRANT EXECUTE ON FUNCTION accept_invitation(uuid, bytea, text, text) TO ochre_app;

-- Deletes the signed-in caller's account. What it granted goes with it in
-- every org: its API keys and its pending invitations are revoked first (a
-- grant never outlives its author); memberships and sessions cascade.
CREATE FUNCTION delete_my_account() RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  BEGIN
    IF app_user() IS NULL OR app_api_key() IS NOT NULL THEN
      RAISE EXCEPTION 'a signed-in user is required' USING ERRCODE = '42501';
    END IF;
    UPDATE api_keys SET revoked_at = now()
     WHERE created_by = app_user() AND revoked_at IS NULL;
    UPDATE invitations SET revoked_at = now()
     WHERE invited_by = app_user() AND revoked_at IS NULL AND accepted_at IS NULL;
    DELETE FROM users WHERE id = app_user();
  END $$;
GRANT EXECUTE ON FUNCTION delete_my_account() TO ochre_app;

-- Orgs where the caller is the only owner (account deletion is refused).
CREATE FUNCTION sole_owner_orgs() RETURNS SETOF uuid
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
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
GRANT EXECUTE ON FUNCTION sole_owner_orgs() TO ochre_app;

-- Whether `p_client_ip` is allowed by an org's allowlist (empty allows all).
CREATE FUNCTION ip_allowed(p_allowlist cidr[], p_client_ip text) RETURNS boolean
  LANGUAGE plpgsql IMMUTABLE
  AS $$
  BEGIN
    RETURN pg_catalog.cardinality(p_allowlist) = 0 OR EXISTS (
      SELECT 1 FROM pg_catalog.unnest(p_allowlist) AS a(range)
       WHERE NULLIF(p_client_ip, '')::inet <<= a.range);
  END $$;

-- ===== The identity calls: the first statement of every tenant transaction =====
--
-- Each checks a live credential against current rows and pins the verified
-- caller (pin_caller(), 0001_foundation); on any refusal nobody is pinned.
-- The verdict tells the gate why: 'ok', 'no_credential' (unknown, revoked or
-- expired), 'not_member' (no role in the org asked for, or a purged org),
-- 'address_refused' (the org's IP allowlist), 'pending_deletion' (the org
-- is scheduled for deletion: `purge_after` says when it goes).

-- Each is PL/pgSQL returning one row of OUT parameters (no set-returning
-- function, no SQL-language helper to plan), with one lookup query and the
-- pinning done in expressions: it is the first statement of every request.

-- A session, proved by the per-session secret its access tokens carry.
-- In an org pending deletion only an owner is pinned, and only when the
-- call asks for it (`p_pending_ok`: the RPCs the contract opens to owners
-- then, RestoreWorkspace, ExportWorkspace and GetOrg), and never once the
-- purge has begun; an owner can restore the org anyway, so this grants
-- nothing an owner could not have.
CREATE FUNCTION verify_session(p_session uuid, p_proof bytea, p_org uuid, p_client_ip text,
                               p_pending_ok boolean DEFAULT false,
                               OUT verdict text, OUT role text, OUT purge_after timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    -- A tenant transaction waits at most 5 s for a lock (a stalled table
    -- fails the call as retryable instead of holding its connection).
    waits text := set_config('lock_timeout', '5s', true);
    pinned text := first_identity_call();
    proof bytea := sha256(coalesce(p_proof, ''::bytea));
    who uuid;
    allowed cidr[];
    purging timestamptz;
  BEGIN
    SELECT s.user_id, m.role, o.ip_allowlist, o.purge_after, o.purge_started_at
      INTO who, role, allowed, purge_after, purging
      FROM sessions s
      LEFT JOIN memberships m ON m.org_id = p_org AND m.user_id = s.user_id
      LEFT JOIN orgs o ON o.id = m.org_id
     WHERE s.id = p_session AND s.revoked_at IS NULL AND s.expires_at > now()
       AND (s.proof_hash = proof
            OR (s.prev_proof_hash = proof AND s.proof_rotated_at > now() - interval '15 minutes'));
    IF who IS NULL THEN
      verdict := 'no_credential';
      RETURN;
    END IF;
    IF p_org IS NOT NULL THEN
      IF allowed IS NULL THEN
        role := NULL; purge_after := NULL;
        verdict := 'not_member';
        RETURN;
      END IF;
      IF NOT ip_allowed(allowed, p_client_ip) THEN
        purge_after := NULL;
        verdict := 'address_refused';
        RETURN;
      END IF;
      IF purge_after IS NOT NULL
         AND (NOT coalesce(p_pending_ok, false) OR role <> 'owner' OR purging IS NOT NULL) THEN
        verdict := 'pending_deletion';
        RETURN;
      END IF;
    END IF;
    pinned := pin_caller(ROW(p_org, who, NULL, p_session, role)::caller);
    verdict := 'ok';
  END $$;
GRANT EXECUTE ON FUNCTION verify_session(uuid, bytea, uuid, text, boolean) TO ochre_app;

-- An API key, proved by the key itself (its SHA-256 is compared here; the
-- stored hashes are not readable by ochre_app). p_org is the org the key
-- names (its last 16 bytes, read by the server): the key is looked up
-- under that org only, and the hash covers those bytes, so naming another
-- org finds nothing. Records the key's use at most once a minute. A key of
-- an org pending deletion opens nothing.
CREATE FUNCTION verify_api_key(p_key text, p_org uuid, p_client_ip text,
                               OUT verdict text, OUT org_id uuid, OUT role text, OUT key_id uuid,
                               OUT purge_after timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    -- A tenant transaction waits at most 5 s for a lock (a stalled table
    -- fails the call as retryable instead of holding its connection).
    waits text := set_config('lock_timeout', '5s', true);
    pinned text := first_identity_call();
    used timestamptz;
    allowed cidr[];
  BEGIN
    SELECT a.org_id, a.id, a.role, a.last_used_at, o.ip_allowlist, o.purge_after
      INTO org_id, key_id, role, used, allowed, purge_after
      FROM api_keys a JOIN orgs o ON o.id = a.org_id
     WHERE a.org_id = p_org
       AND a.key_hash = sha256(convert_to(coalesce(p_key, ''), 'UTF8')) AND a.revoked_at IS NULL;
    IF key_id IS NULL THEN
      verdict := 'no_credential';
      RETURN;
    END IF;
    IF NOT ip_allowed(allowed, p_client_ip) THEN
      purge_after := NULL;
      verdict := 'address_refused';
      RETURN;
    END IF;
    IF purge_after IS NOT NULL THEN
      verdict := 'pending_deletion';
      RETURN;
    END IF;
    IF used IS NULL OR used < now() - interval '60 seconds' THEN
      UPDATE api_keys a SET last_used_at = now() WHERE a.org_id = verify_api_key.org_id AND a.id = key_id;
    END IF;
    pinned := pin_caller(ROW(org_id, NULL, key_id, NULL, role)::caller);
    verdict := 'ok';
  END $$;
GRANT EXECUTE ON FUNCTION verify_api_key(text, uuid, text) TO ochre_app;

-- A second-factor sign-in ticket, spent on this first presentation (used
-- up whatever happens next). Pins its account, in no org: the transaction
-- that checks the TOTP code. The account's id, or NULL.
CREATE FUNCTION verify_login_ticket(p_ticket text) RETURNS uuid
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    -- A tenant transaction waits at most 5 s for a lock (a stalled table
    -- fails the call as retryable instead of holding its connection).
    waits text := set_config('lock_timeout', '5s', true);
    pinned text := first_identity_call();
    who uuid;
  BEGIN
    UPDATE login_tickets t SET used_at = now()
     WHERE t.token_hash = sha256(convert_to(coalesce(p_ticket, ''), 'UTF8'))
       AND t.used_at IS NULL AND t.expires_at > now()
    RETURNING t.user_id INTO who;
    IF who IS NOT NULL THEN
      pinned := pin_caller(ROW(NULL, who, NULL, NULL, NULL)::caller);
    END IF;
    RETURN who;
  END $$;
GRANT EXECUTE ON FUNCTION verify_login_ticket(text) TO ochre_app;

-- ===== The named functions of ochre_service (sign-up and sign-in) =====
--
-- ochre_service has no table grant at all: these are all it can do. It is
-- the sign-in authority (the password is checked by the server, with
-- argon2, between login_lookup() and open_session()).

CREATE FUNCTION sign_up(p_id uuid, p_email text, p_display_name text, p_password_hash text)
  RETURNS timestamptz
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    INSERT INTO users (id, email, display_name, password_hash)
    VALUES (p_id, p_email, p_display_name, p_password_hash) RETURNING created_at
  $$;

CREATE FUNCTION login_lookup(p_email text)
  RETURNS TABLE (id uuid, password_hash text, totp_enabled boolean)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ SELECT u.id, u.password_hash, u.totp_enabled FROM users u WHERE u.email = p_email $$;

CREATE FUNCTION create_login_ticket(p_user uuid, p_hash bytea, p_ttl_secs int) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    INSERT INTO login_tickets (token_hash, user_id, expires_at)
    VALUES (p_hash, p_user, now() + make_interval(secs => least(greatest(p_ttl_secs, 1), 600)))
  $$;

-- Seconds until the last lock among p_keys ends (0: none is locked).
CREATE FUNCTION throttle_locked(p_keys text[]) RETURNS int
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT coalesce(ceil(extract(epoch FROM max(t.locked_until) - now()))::int, 0)
      FROM login_throttle t WHERE t.key = ANY(p_keys) AND t.locked_until > now()
  $$;

-- Counts a failure for a key in a 15-minute window. From p_threshold
-- failures on, the key is locked: for 15 minutes, or with p_backoff for
-- 2^(failures - p_threshold) seconds (1 s, 2 s, 4 s, ... at most 15
-- minutes), so failures spread over many addresses slow an account down
-- without shutting its owner out. The failure count.
CREATE FUNCTION throttle_fail(p_key text, p_threshold int, p_backoff boolean) RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    n int;
  BEGIN
    INSERT INTO login_throttle AS t (key, failures, window_start) VALUES (p_key, 1, now())
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE WHEN t.window_start < now() - interval '15 minutes' THEN 1 ELSE t.failures + 1 END,
      window_start = CASE WHEN t.window_start < now() - interval '15 minutes' THEN now() ELSE t.window_start END
    RETURNING t.failures INTO n;
    IF n >= p_threshold THEN
      UPDATE login_throttle SET locked_until = now() + CASE WHEN p_backoff
          THEN least(make_interval(secs => 2 ^ least(n - p_threshold, 10)), interval '15 minutes')
          ELSE interval '15 minutes' END
       WHERE key = p_key;
    END IF;
    RETURN n;
  END $$;

-- Forgets the failures of keys that are not locked (after a success).
CREATE FUNCTION throttle_clear(p_keys text[]) RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$ DELETE FROM login_throttle WHERE key = ANY(p_keys) AND (locked_until IS NULL OR locked_until <= now()) $$;

-- Opens a session with its first refresh token and its proof (both hashed).
CREATE FUNCTION open_session(p_id uuid, p_user uuid, p_refresh_hash bytea, p_proof_hash bytea,
                             p_ttl_days int, p_client_ip text, p_user_agent text)
  RETURNS timestamptz
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    expiry timestamptz;
  BEGIN
    INSERT INTO sessions (id, user_id, expires_at, client_ip, user_agent, proof_hash)
    VALUES (p_id, p_user, now() + make_interval(days => least(greatest(p_ttl_days, 1), 90)),
            NULLIF(p_client_ip, '')::inet, p_user_agent, p_proof_hash)
    RETURNING expires_at INTO expiry;
    INSERT INTO refresh_tokens (token_hash, session_id) VALUES (p_refresh_hash, p_id);
    RETURN expiry;
  END $$;

-- Presents a refresh token: rotates it and the session's proof ('rotated'),
-- or detects its reuse and revokes the whole session ('reused'), or
-- 'invalid' (unknown token, or a revoked or expired session).
CREATE FUNCTION rotate_refresh(p_old bytea, p_new bytea, p_proof_hash bytea)
  RETURNS TABLE (outcome text, session_id uuid, user_id uuid, expires_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    t record;
  BEGIN
    SELECT rt.session_id AS sid, rt.used_at IS NOT NULL AS used, s.user_id AS uid,
           s.expires_at AS exp, (s.revoked_at IS NULL AND s.expires_at > now()) AS active INTO t
      FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
     WHERE rt.token_hash = p_old FOR UPDATE OF rt, s;
    IF t.sid IS NULL THEN
      RETURN QUERY SELECT 'invalid', NULL::uuid, NULL::uuid, NULL::timestamptz;
      RETURN;
    END IF;
    IF t.used THEN
      UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh token reuse'
       WHERE id = t.sid AND revoked_at IS NULL;
      RETURN QUERY SELECT 'reused', t.sid, t.uid, t.exp;
      RETURN;
    END IF;
    IF NOT t.active THEN
      RETURN QUERY SELECT 'invalid', NULL::uuid, NULL::uuid, NULL::timestamptz;
      RETURN;
    END IF;
    UPDATE refresh_tokens SET used_at = now() WHERE token_hash = p_old;
    INSERT INTO refresh_tokens (token_hash, session_id) VALUES (p_new, t.sid);
    UPDATE sessions SET prev_proof_hash = proof_hash, proof_hash = p_proof_hash, proof_rotated_at = now()
     WHERE id = t.sid;
    RETURN QUERY SELECT 'rotated', t.sid, t.uid, t.exp;
  END $$;

GRANT EXECUTE ON FUNCTION sign_up(uuid, text, text, text), login_lookup(text),
  create_login_ticket(uuid, bytea, int), throttle_locked(text[]), throttle_fail(text, int, boolean),
  throttle_clear(text[]), open_session(uuid, uuid, bytea, bytea, int, text, text),
  rotate_refresh(bytea, bytea, bytea)
  TO ochre_service;
