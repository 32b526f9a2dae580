-- Identity: orgs, users, sessions, memberships, invitations, API keys,
-- login throttling, and the gated functions that write memberships.
--
-- Policies check the caller with app_role() (0001_foundation), i.e. against
-- CURRENT membership data, for every write.

-- Orgs: the tenants. Every other tenant table is keyed by (org_id, id).
-- Members read their org; owners and admins update it; creation goes
-- through create_org(). The gate (ochre_service) reads the allowlist.
CREATE TABLE orgs (
  id           uuid        PRIMARY KEY,
  name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  created_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz,
  purge_after  timestamptz,
  ip_allowlist cidr[]      NOT NULL DEFAULT '{}',
  CHECK ((deleted_at IS NULL) = (purge_after IS NULL))
);
ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE orgs FORCE ROW LEVEL SECURITY;
CREATE POLICY orgs_member_read ON orgs FOR SELECT TO ochre_app
  USING (id = app_org() AND (SELECT app_role()) IS NOT NULL);
-- Only owners change the org row (its IP allowlist): an admin could otherwise
-- lock every owner out, and an API key is never an owner.
CREATE POLICY orgs_owner_update ON orgs FOR UPDATE TO ochre_app
  USING (id = app_org() AND (SELECT app_role()) = 'owner')
  WITH CHECK (id = app_org() AND (SELECT app_role()) = 'owner');
CREATE POLICY orgs_definer ON orgs FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
CREATE POLICY orgs_service ON orgs FOR SELECT TO ochre_service USING (true);
GRANT SELECT, UPDATE (name, ip_allowlist) ON orgs TO ochre_app;
GRANT SELECT ON orgs TO ochre_service;

-- Users see only their own row; login by email goes through ochre_service.
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
  USING (id = app_user()) WITH CHECK (id = app_user());
CREATE POLICY users_service ON users FOR ALL TO ochre_service USING (true) WITH CHECK (true);
CREATE POLICY users_definer ON users FOR SELECT TO ochre_owner USING (true);
-- Key rotation (`ochre keys rotate`, as the owner role) re-encrypts TOTP secrets too.
CREATE POLICY users_owner_rotate ON users FOR UPDATE TO ochre_owner USING (true) WITH CHECK (true);
-- Accounts are deleted only through delete_my_account() (below).
CREATE POLICY users_definer_delete ON users FOR DELETE TO ochre_owner USING (true);
GRANT SELECT, INSERT ON users TO ochre_app;
GRANT UPDATE (display_name, password_hash, totp_secret, totp_pending_secret, totp_enabled, totp_last_step)
  ON users TO ochre_app;
GRANT SELECT, UPDATE (password_hash) ON users TO ochre_service;

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
  user_agent    text CHECK (char_length(user_agent) <= 512)
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
-- The user reads their sessions and may revoke one, never un-revoke.
CREATE POLICY sessions_self_read ON sessions FOR SELECT TO ochre_app USING (user_id = app_user());
CREATE POLICY sessions_self_revoke ON sessions FOR UPDATE TO ochre_app
  USING (user_id = app_user() AND revoked_at IS NULL)
  WITH CHECK (user_id = app_user() AND revoked_at IS NOT NULL);
CREATE POLICY sessions_service ON sessions FOR ALL TO ochre_service USING (true) WITH CHECK (true);
GRANT SELECT, UPDATE (revoked_at, revoked_reason) ON sessions TO ochre_app;
-- DELETE: the `purge-expired` cron job; refresh tokens go with their
-- session (ON DELETE CASCADE).
GRANT SELECT, INSERT, DELETE, UPDATE (revoked_at, revoked_reason) ON sessions TO ochre_service;

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
CREATE POLICY login_tickets_service ON login_tickets FOR ALL TO ochre_service
  USING (true) WITH CHECK (true);
-- DELETE: the `purge-expired` cron job (tickets a day past their expiry).
GRANT SELECT, INSERT, DELETE, UPDATE (used_at) ON login_tickets TO ochre_service;

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
CREATE POLICY refresh_tokens_service ON refresh_tokens FOR ALL TO ochre_service
  USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE (used_at) ON refresh_tokens TO ochre_service;

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
  USING (user_id = app_user() OR (org_id = app_org() AND (SELECT app_role()) IS NOT NULL));
CREATE POLICY memberships_definer ON memberships FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
CREATE POLICY memberships_service ON memberships FOR SELECT TO ochre_service USING (true);
GRANT SELECT ON memberships TO ochre_app, ochre_service;

-- API keys of an org: hashed, carrying a role that is never owner. Owners
-- and admins create them, at most at their own rank, in their own name;
-- revocation is one-way: the only UPDATE is setting revoked_at once.
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
  CONSTRAINT api_keys_hash_key UNIQUE (key_hash)
);
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY api_keys_admin_read ON api_keys FOR SELECT TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY api_keys_admin_insert ON api_keys FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin')
              AND role_rank(role) <= role_rank((SELECT app_role()))
              AND revoked_at IS NULL AND last_used_at IS NULL
              -- A key has a person as its creator: never an API key, never nobody.
              AND created_by = app_user() AND app_api_key() IS NULL);
CREATE POLICY api_keys_admin_revoke ON api_keys FOR UPDATE TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin') AND revoked_at IS NULL)
  WITH CHECK (org_id = app_org() AND revoked_at IS NOT NULL);
-- The owner role reads keys in app_role() and revokes a departing member's
-- in revoke_grants_of(); the gate resolves keys as ochre_service.
CREATE POLICY api_keys_definer ON api_keys FOR SELECT TO ochre_owner USING (true);
CREATE POLICY api_keys_definer_revoke ON api_keys FOR UPDATE TO ochre_owner USING (true) WITH CHECK (true);
CREATE POLICY api_keys_service ON api_keys FOR ALL TO ochre_service USING (true) WITH CHECK (true);
GRANT SELECT, UPDATE (last_used_at) ON api_keys TO ochre_service;
GRANT SELECT, INSERT, UPDATE (revoked_at) ON api_keys TO ochre_app;

-- Invitations: the token is stored hashed; single-use and expiring. Owners
-- and admins invite in their own name (only owners invite owners) and
-- revoke pending ones, one-way; admins cannot touch owners, not even an
-- owner's pending invitation. Accepting goes through accept_invitation().
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
  CONSTRAINT invitations_token_key UNIQUE (token_hash)
);
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_admin_read ON invitations FOR SELECT TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY invitations_admin_insert ON invitations FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin')
              AND (role <> 'owner' OR (SELECT app_role()) = 'owner')
              AND revoked_at IS NULL AND accepted_at IS NULL AND accepted_by IS NULL
              AND invited_by = app_user() AND app_api_key() IS NULL);
CREATE POLICY invitations_admin_revoke ON invitations FOR UPDATE TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin')
         AND (role <> 'owner' OR (SELECT app_role()) = 'owner')
         AND revoked_at IS NULL AND accepted_at IS NULL)
  WITH CHECK (org_id = app_org() AND revoked_at IS NOT NULL);
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
CREATE POLICY login_throttle_service ON login_throttle FOR ALL TO ochre_service
  USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO ochre_service;

-- Gated membership writes. Each checks the caller again from current data
-- and raises standard SQLSTATEs: 42501 (permission), P0002 (not found),
-- 55000 (failed precondition), 22023 (invalid argument).
--
-- Membership changes are serialised per org: two owners demoting or
-- removing each other at the same moment could otherwise both see "another
-- owner remains" and leave the org with none. Every gated membership write
-- (and account deletion's last-owner check) first takes a transaction-scoped
-- advisory lock on the org, and reads the caller's role after it.

CREATE FUNCTION lock_org_members(p_org uuid) RETURNS void
  LANGUAGE sql SET search_path = pg_catalog
  AS $$ SELECT pg_advisory_xact_lock(hashtextextended('ochre.org.members:' || p_org::text, 0)) $$;
GRANT EXECUTE ON FUNCTION lock_org_members(uuid) TO ochre_app;

CREATE FUNCTION create_org(p_id uuid, p_name text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  BEGIN
    IF app_user() IS NULL OR app_api_key() IS NOT NULL THEN
      RAISE EXCEPTION 'a signed-in user is required' USING ERRCODE = '42501';
    END IF;
    INSERT INTO orgs (id, name) VALUES (p_id, p_name);
    INSERT INTO memberships (org_id, user_id, role) VALUES (p_id, app_user(), 'owner');
  END $$;
GRANT EXECUTE ON FUNCTION create_org(uuid, text) TO ochre_app;

CREATE FUNCTION my_memberships()
  RETURNS TABLE (org_id uuid, org_name text, org_created_at timestamptz, role text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
    SELECT o.id, o.name, o.created_at, m.role
      FROM memberships m JOIN orgs o ON o.id = m.org_id
     WHERE m.user_id = app_user() AND o.deleted_at IS NULL
     ORDER BY o.created_at, o.id
  $$;
GRANT EXECUTE ON FUNCTION my_memberships() TO ochre_app;

CREATE FUNCTION org_members()
  RETURNS TABLE (user_id uuid, email text, display_name text, role text, joined_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
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
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
    UPDATE api_keys SET revoked_at = now()
     WHERE org_id = app_org() AND created_by = p_user AND revoked_at IS NULL
       AND (p_role IS NULL OR role_rank(role) > role_rank(p_role));
    UPDATE invitations SET revoked_at = now()
     WHERE org_id = app_org() AND invited_by = p_user AND revoked_at IS NULL AND accepted_at IS NULL
       AND (p_role IS NULL OR role_rank(role) > role_rank(p_role));
  $$;

CREATE FUNCTION set_member_role(p_user uuid, p_role text) RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  DECLARE
    caller text;
    target text;
  BEGIN
    PERFORM lock_org_members(app_org());
    caller := app_role();  -- after the lock: the caller's role as it is now
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
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  DECLARE
    caller text;
    target text;
  BEGIN
    PERFORM lock_org_members(app_org());
    caller := app_role();  -- after the lock: the caller's role as it is now
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
GRANT EXECUTE ON FUNCTION transfer_ownership(uuid) TO ochre_app;

CREATE FUNCTION accept_invitation(p_token_hash bytea, p_client_ip text)
  RETURNS TABLE (org_id uuid, role text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  DECLARE
    inv invitations%ROWTYPE;
    caller_email text;
    allowed cidr[];
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
    -- The org's IP allowlist holds for joining it too (the call names no org,
    -- so the gate could not check it).
    SELECT o.ip_allowlist INTO allowed FROM orgs o WHERE o.id = inv.org_id;
    IF cardinality(allowed) > 0 AND NOT EXISTS (
         SELECT 1 FROM unnest(allowed) AS a(range)
          WHERE NULLIF(p_client_ip, '')::inet <<= a.range) THEN
      RAISE EXCEPTION 'requests from this address are not allowed for this org' USING ERRCODE = '42501';
    END IF;
    INSERT INTO memberships (org_id, user_id, role) VALUES (inv.org_id, app_user(), inv.role);
    UPDATE invitations SET accepted_at = now(), accepted_by = app_user()
     WHERE invitations.org_id = inv.org_id AND invitations.id = inv.id;
    RETURN QUERY SELECT inv.org_id, inv.role;
  END $$;
GRANT EXECUTE ON FUNCTION accept_invitation(bytea, text) TO ochre_app;

-- Deletes the signed-in caller's account. What it granted goes with it in
-- every org: its API keys and its pending invitations are revoked first (a
-- grant never outlives its author); memberships and sessions cascade.
CREATE FUNCTION delete_my_account() RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
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
GRANT EXECUTE ON FUNCTION sole_owner_orgs() TO ochre_app;
