-- Integrations: the token vault, OAuth connects in flight, and the audit log.
--
-- Secrets are XChaCha20-Poly1305 ciphertext made by the server's vault
-- (key OCHRE_BYOK_ENC_KEY, never in the database), bound to org,
-- integration and field. The app role can write a ciphertext but cannot
-- SELECT the column at all: cleartext comes only through
-- read_integration_secret(), which checks the caller's current role and
-- writes an audit row in the same transaction.

-- Members read the metadata; owners and admins connect (in their own name),
-- update and disconnect.
CREATE TABLE integrations (
  org_id           uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id               uuid        NOT NULL,
  provider         text        NOT NULL CHECK (char_length(provider) BETWEEN 1 AND 40),
  external_account text        NOT NULL DEFAULT '' CHECK (char_length(external_account) <= 200),
  scopes           text[]      NOT NULL DEFAULT '{}',
  connected_by     uuid        REFERENCES users (id) ON DELETE SET NULL,
  connected_at     timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  -- When the stored access token expires (for refresh).
  token_expires_at timestamptz,
  PRIMARY KEY (org_id, id),
  CONSTRAINT integrations_provider_key UNIQUE (org_id, provider)
);
ALTER TABLE integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE integrations FORCE ROW LEVEL SECURITY;
CREATE POLICY integrations_read ON integrations FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org()));
CREATE POLICY integrations_write ON integrations FOR INSERT TO ochre_app
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin']))
              AND connected_by IS NOT DISTINCT FROM (SELECT app_user()));
CREATE POLICY integrations_update ON integrations FOR UPDATE TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])))
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
CREATE POLICY integrations_delete ON integrations FOR DELETE TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
CREATE POLICY integrations_owner ON integrations FOR SELECT TO ochre_owner USING (true);
GRANT SELECT, INSERT, DELETE, UPDATE (external_account, scopes, updated_at, token_expires_at)
  ON integrations TO ochre_app;

CREATE TABLE integration_secrets (
  org_id         uuid        NOT NULL,
  integration_id uuid        NOT NULL,
  field          text        NOT NULL CHECK (char_length(field) BETWEEN 1 AND 64),
  ciphertext     bytea       NOT NULL CHECK (octet_length(ciphertext) BETWEEN 45 AND 16384),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, integration_id, field),
  FOREIGN KEY (org_id, integration_id) REFERENCES integrations (org_id, id) ON DELETE CASCADE
);
ALTER TABLE integration_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY integration_secrets_read ON integration_secrets FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org()));
CREATE POLICY integration_secrets_insert ON integration_secrets FOR INSERT TO ochre_app
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
CREATE POLICY integration_secrets_delete ON integration_secrets FOR DELETE TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
-- The owner role reads ciphertext inside read_integration_secret() and
-- re-encrypts it in `ochre keys rotate`.
CREATE POLICY integration_secrets_owner ON integration_secrets FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);
-- Metadata columns only: no SELECT on ciphertext.
GRANT SELECT (org_id, integration_id, field, updated_at) ON integration_secrets TO ochre_app;
GRANT INSERT (org_id, integration_id, field, ciphertext, updated_at), DELETE ON integration_secrets TO ochre_app;

-- The audit log: one hash chain per org. Event n of an org carries the
-- hash of event n-1 (32 zero bytes for the first), and its own hash is
-- SHA-256 over a domain-separated, length-prefixed encoding of (org, seq,
-- previous hash, time, actor, action, target, client address, request id,
-- details): audit_hash() below, recomputed by the server's verifier
-- (crypto::audit_chain) from the rows alone. Sequences are gapless per org
-- (appends take a per-org lock). Only audit_append() writes events, called
-- by definer functions in the same transaction as the action they record,
-- so an event that cannot be written fails its action. No runtime role may
-- UPDATE or DELETE an event, and a trigger refuses both (and TRUNCATE);
-- only deleting the org itself takes its events.
CREATE TABLE audit_log (
  org_id           uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  seq              bigint      NOT NULL CHECK (seq >= 1),
  id               uuid        NOT NULL,
  occurred_at      timestamptz NOT NULL,
  actor_user_id    uuid,
  actor_api_key_id uuid,
  action           text        NOT NULL CHECK (char_length(action) BETWEEN 1 AND 100),
  target_type      text        NOT NULL DEFAULT '' CHECK (char_length(target_type) <= 100),
  target_id        uuid,
  detail           jsonb       NOT NULL DEFAULT '{}',
  client_ip        inet,
  request_id       text        NOT NULL DEFAULT '' CHECK (char_length(request_id) <= 100),
  prev_hash        bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
  hash             bytea       NOT NULL CHECK (octet_length(hash) = 32),
  PRIMARY KEY (org_id, seq),
  UNIQUE (org_id, id)
);
CREATE INDEX audit_log_org_time_idx ON audit_log (org_id, occurred_at DESC);
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
-- Rows are written only by SECURITY DEFINER functions (running as the
-- owner): the app role has no INSERT on the table.
CREATE POLICY audit_log_owner ON audit_log FOR INSERT TO ochre_owner WITH CHECK (true);
CREATE POLICY audit_log_owner_read ON audit_log FOR SELECT TO ochre_owner USING (true);
CREATE POLICY audit_log_org_gone ON audit_log FOR DELETE TO ochre_owner USING (true);
GRANT SELECT ON audit_log TO ochre_app;

-- Events are never edited; they go only with their org: in the purge of
-- an org pending deletion (purge_org_step(), 0007_workspace_deletion, once
-- the purge has begun and the org can no longer be restored), or in the
-- cascade of the org's deletion, when the org row is already gone.
CREATE FUNCTION audit_log_immutable() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
  AS $$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      IF NOT EXISTS (SELECT 1 FROM orgs o
                      WHERE o.id = OLD.org_id AND o.purge_started_at IS NULL) THEN
        RETURN OLD;
      END IF;
    END IF;
    RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = '42501';
  END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_immutable();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_immutable();

-- One length-prefixed field of the hashed encoding (NULL as empty).
CREATE FUNCTION audit_field(t text) RETURNS bytea LANGUAGE sql IMMUTABLE
  AS $$ SELECT int4send(octet_length(convert_to(coalesce(t, ''), 'UTF8')))
               || convert_to(coalesce(t, ''), 'UTF8') $$;

-- The hash of an event: SHA-256 of
--   "ochre.audit.v1" ‖ org (16 bytes) ‖ seq (8, big-endian) ‖ prev_hash (32)
--   ‖ time (8: microseconds since the Unix epoch) ‖ then, each as a 4-byte
--   big-endian length and UTF-8 bytes: actor user id, actor API key id,
--   action, target type, target id, client address, request id, details
--   (jsonb's own text form).
CREATE FUNCTION audit_hash(p_org uuid, p_seq bigint, p_prev bytea, p_at timestamptz,
                           p_user uuid, p_key uuid, p_action text, p_target_type text,
                           p_target uuid, p_ip inet, p_request_id text, p_detail jsonb)
  RETURNS bytea LANGUAGE sql IMMUTABLE
  AS $$
    SELECT sha256(convert_to('ochre.audit.v1', 'UTF8') || uuid_send(p_org) || int8send(p_seq)
                  || p_prev || int8send((extract(epoch FROM p_at) * 1000000)::bigint)
                  || audit_field(p_user::text) || audit_field(p_key::text)
                  || audit_field(p_action) || audit_field(p_target_type)
                  || audit_field(p_target::text) || audit_field(host(p_ip))
                  || audit_field(p_request_id) || audit_field(p_detail::text))
  $$;

-- Appends one event to the org's chain and returns its sequence number.
-- Not granted: definer functions call it for the action they perform.
CREATE FUNCTION audit_append(p_org uuid, p_user uuid, p_key uuid, p_action text,
                             p_target_type text, p_target uuid, p_detail jsonb,
                             p_client_ip text, p_request_id text)
  RETURNS bigint
  LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    n bigint;
    prev bytea;
    at timestamptz;
    ip inet := NULLIF(p_client_ip, '')::inet;
    d jsonb := coalesce(p_detail, '{}');
    tt text := coalesce(p_target_type, '');
    rid text := coalesce(p_request_id, '');
  BEGIN
    -- One append at a time per org: the sequence has no gap and no fork.
    PERFORM pg_advisory_xact_lock(7301, hashtext(p_org::text));
    SELECT a.seq, a.hash INTO n, prev FROM audit_log a
     WHERE a.org_id = p_org ORDER BY a.seq DESC LIMIT 1;
    n := coalesce(n, 0) + 1;
    prev := coalesce(prev, decode(repeat('00', 32), 'hex'));
    -- Microsecond precision, as hashed.
    at := date_trunc('microseconds', clock_timestamp());
    INSERT INTO audit_log (org_id, seq, id, occurred_at, actor_user_id, actor_api_key_id, action,
                           target_type, target_id, detail, client_ip, request_id, prev_hash, hash)
    VALUES (p_org, n, gen_random_uuid(), at, p_user, p_key, p_action, tt, p_target, d, ip, rid,
            prev, audit_hash(p_org, n, prev, at, p_user, p_key, p_action, tt, p_target, ip, rid, d));
    RETURN n;
  END $$;

-- Signed checkpoints: "the org's chain had head_hash at seq", signed with
-- Ed25519 by the server (crypto::audit_checkpoint; the private key never
-- reaches the database), each carrying the previous checkpoint's
-- signature. Written only by record_audit_checkpoint() after it checked
-- the head against the chain; append-only like the events.
CREATE TABLE audit_checkpoints (
  org_id         uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  seq            bigint      NOT NULL CHECK (seq >= 1),
  head_hash      bytea       NOT NULL CHECK (octet_length(head_hash) = 32),
  prev_signature bytea       NOT NULL CHECK (octet_length(prev_signature) IN (0, 64)),
  key_id         text        NOT NULL CHECK (char_length(key_id) BETWEEN 1 AND 64),
  signature      bytea       NOT NULL CHECK (octet_length(signature) = 64),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, seq)
);
ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_checkpoints_read ON audit_checkpoints FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
CREATE POLICY audit_checkpoints_definer ON audit_checkpoints FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);
GRANT SELECT ON audit_checkpoints TO ochre_app;
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_log_immutable();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_immutable();

-- Orgs whose chain needs a checkpoint: at least p_every events since the
-- last one, or any new event and p_after since the last checkpoint (or
-- since the first unchecked event). Their head and last signature.
CREATE FUNCTION audit_checkpoints_due(p_every int, p_after interval)
  RETURNS TABLE (org_id uuid, seq bigint, head_hash bytea, prev_signature bytea)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT h.org_id, h.seq, h.hash, coalesce(c.signature, ''::bytea)
      FROM (SELECT DISTINCT ON (a.org_id) a.org_id, a.seq, a.hash
              FROM audit_log a ORDER BY a.org_id, a.seq DESC) h
      LEFT JOIN LATERAL (SELECT k.seq, k.signature, k.created_at FROM audit_checkpoints k
                          WHERE k.org_id = h.org_id ORDER BY k.seq DESC LIMIT 1) c ON true
     WHERE h.seq > coalesce(c.seq, 0)
       AND (h.seq - coalesce(c.seq, 0) >= p_every
            OR coalesce(c.created_at,
                        (SELECT a.occurred_at FROM audit_log a
                          WHERE a.org_id = h.org_id AND a.seq = coalesce(c.seq, 0) + 1))
               <= now() - p_after)
  $$;

-- Records a checkpoint the server signed, only if it states the chain's
-- real hash at p_seq, follows the org's last checkpoint, and carries that
-- checkpoint's signature. Whether it was recorded.
CREATE FUNCTION record_audit_checkpoint(p_org uuid, p_seq bigint, p_head_hash bytea,
                                        p_prev_signature bytea, p_key_id text, p_signature bytea)
  RETURNS boolean
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    last record;
  BEGIN
    PERFORM pg_advisory_xact_lock(7302, hashtext(p_org::text));
    SELECT k.seq, k.signature INTO last FROM audit_checkpoints k
     WHERE k.org_id = p_org ORDER BY k.seq DESC LIMIT 1;
    IF p_seq <= coalesce(last.seq, 0)
       OR p_prev_signature IS DISTINCT FROM coalesce(last.signature, ''::bytea)
       OR NOT EXISTS (SELECT 1 FROM audit_log a
                       WHERE a.org_id = p_org AND a.seq = p_seq AND a.hash = p_head_hash) THEN
      RETURN false;
    END IF;
    INSERT INTO audit_checkpoints (org_id, seq, head_hash, prev_signature, key_id, signature)
    VALUES (p_org, p_seq, p_head_hash, p_prev_signature, p_key_id, p_signature);
    RETURN true;
  END $$;
GRANT EXECUTE ON FUNCTION audit_checkpoints_due(int, interval),
                          record_audit_checkpoint(uuid, bigint, bytea, bytea, text, bytea)
  TO ochre_service;

-- The events a caller may record through the app role, and who may: the
-- actor is always the verified caller and the org the verified org.
CREATE FUNCTION audit_action_allowed(p_action text, p_role text) RETURNS boolean
  LANGUAGE sql IMMUTABLE
  AS $$
    SELECT CASE
      WHEN p_action IN ('integration.connected', 'integration.oauth_connected',
                        'integration.disconnected', 'member.invited', 'member.role_changed',
                        'member.removed', 'invitation.revoked', 'ownership.transferred',
                        'api_key.created', 'api_key.revoked', 'org.ip_allowlist_changed')
        THEN p_role IN ('owner', 'admin')
      WHEN p_action = 'survey.sent' THEN p_role IN ('owner', 'admin', 'agent')
      WHEN p_action = 'workspace.exported' THEN p_role IN ('owner', 'admin')
      ELSE false END
  $$;

-- Appends a privileged action of the verified caller to its org's chain,
-- in the caller's transaction; the sequence number.
CREATE FUNCTION record_audit(p_action text, p_target_type text, p_target_id uuid,
                             p_detail jsonb, p_client_ip text, p_request_id text)
  RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  BEGIN
    IF app_org() IS NULL OR NOT audit_action_allowed(p_action, app_role()) THEN
      RAISE EXCEPTION 'this event cannot be recorded by this caller' USING ERRCODE = '42501';
    END IF;
    RETURN audit_append(app_org(), app_user(), app_api_key(), p_action, p_target_type,
                        p_target_id, p_detail, p_client_ip, p_request_id);
  END $$;
GRANT EXECUTE ON FUNCTION record_audit(text, text, uuid, jsonb, text, text) TO ochre_app;

-- An account-level event (second factor enrolled or removed) of the
-- verified user, appended to the chain of every org the user belongs to.
CREATE FUNCTION record_account_audit(p_action text, p_client_ip text, p_request_id text)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    m record;
    n int := 0;
  BEGIN
    -- Only the account's actual state: nobody records a change that did
    -- not happen.
    IF app_user() IS NULL OR p_action IS DISTINCT FROM (
         SELECT CASE WHEN u.totp_enabled THEN 'totp.enabled' ELSE 'totp.disabled' END
           FROM users u WHERE u.id = app_user()) THEN
      RAISE EXCEPTION 'this event cannot be recorded by this caller' USING ERRCODE = '42501';
    END IF;
    FOR m IN SELECT ms.org_id FROM memberships ms JOIN orgs o ON o.id = ms.org_id
              WHERE ms.user_id = app_user() AND o.deleted_at IS NULL ORDER BY ms.org_id LOOP
      PERFORM audit_append(m.org_id, app_user(), NULL, p_action, 'user', app_user(), '{}',
                           p_client_ip, p_request_id);
      n := n + 1;
    END LOOP;
    RETURN n;
  END $$;
GRANT EXECUTE ON FUNCTION record_account_audit(text, text, text) TO ochre_app;

-- A failed sign-in of an existing account ('login.failed', or
-- 'login.locked' when it set off a lock), appended by the sign-in gate of
-- ochre_service to the chain of every org of the account. Details hold
-- nothing but the outcome: never the email address tried.
CREATE FUNCTION record_login_failure(p_user uuid, p_locked boolean, p_client_ip text,
                                     p_request_id text)
  RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    m record;
    n int := 0;
  BEGIN
    FOR m IN SELECT ms.org_id FROM memberships ms JOIN orgs o ON o.id = ms.org_id
              WHERE ms.user_id = p_user AND o.deleted_at IS NULL ORDER BY ms.org_id LOOP
      PERFORM audit_append(m.org_id, NULL, NULL,
                           CASE WHEN p_locked THEN 'login.locked' ELSE 'login.failed' END,
                           'user', p_user, '{}', p_client_ip, p_request_id);
      n := n + 1;
    END LOOP;
    RETURN n;
  END $$;
GRANT EXECUTE ON FUNCTION record_login_failure(uuid, boolean, text, text) TO ochre_service;

-- OAuth connect: one row per started flow, so a `state` is single-use and
-- the PKCE verifier never leaves the server (vault ciphertext, bound to the
-- row). Rows are visible to the owner/admin who started them.
CREATE TABLE oauth_states (
  org_id        uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id            uuid        NOT NULL,
  nonce         text        NOT NULL CHECK (char_length(nonce) BETWEEN 16 AND 64),
  user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  provider      text        NOT NULL CHECK (char_length(provider) BETWEEN 1 AND 40),
  pkce_verifier bytea       NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL,
  used_at       timestamptz,
  PRIMARY KEY (org_id, id),
  CONSTRAINT oauth_states_nonce_key UNIQUE (org_id, nonce)
);
ALTER TABLE oauth_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_states FORCE ROW LEVEL SECURITY;
CREATE POLICY oauth_states_read ON oauth_states FOR SELECT TO ochre_app
  USING ((org_id, user_id) = (SELECT app_org_as(ARRAY['owner', 'admin']), app_user()));
CREATE POLICY oauth_states_insert ON oauth_states FOR INSERT TO ochre_app
  WITH CHECK ((org_id, user_id) = (SELECT app_org_as(ARRAY['owner', 'admin']), app_user())
              AND used_at IS NULL);
-- Using a state is one-way.
CREATE POLICY oauth_states_use ON oauth_states FOR UPDATE TO ochre_app
  USING ((org_id, user_id) = (SELECT app_org_as(ARRAY['owner', 'admin']), app_user())
         AND used_at IS NULL)
  WITH CHECK (org_id = (SELECT app_org()) AND used_at IS NOT NULL);
-- `ochre keys rotate` (running as the owner role) re-encrypts the PKCE
-- verifiers of OAuth connects in flight too.
CREATE POLICY oauth_states_owner_rotate ON oauth_states FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT (org_id, id, nonce, user_id, provider, pkce_verifier, expires_at),
  UPDATE (used_at) ON oauth_states TO ochre_app;

-- The one privileged cleartext read (GetIntegrationToken): owners and
-- admins only, audited in the same transaction; a read that fails writes
-- no audit row.
CREATE FUNCTION read_integration_secret(p_integration uuid, p_field text, p_client_ip text,
                                        p_request_id text)
  RETURNS TABLE (ciphertext bytea, updated_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    caller text := app_role();
    found_ct bytea;
    found_at timestamptz;
  BEGIN
    IF caller IS NULL OR caller NOT IN ('owner', 'admin') THEN
      RAISE EXCEPTION 'only owners and admins can read integration tokens' USING ERRCODE = '42501';
    END IF;
    SELECT s.ciphertext, s.updated_at INTO found_ct, found_at
      FROM integration_secrets s
     WHERE s.org_id = app_org() AND s.integration_id = p_integration AND s.field = p_field;
    IF found_ct IS NULL THEN
      RAISE EXCEPTION 'integration secret not found' USING ERRCODE = 'P0002';
    END IF;
    PERFORM audit_append(app_org(), app_user(), app_api_key(), 'integration.token.read',
                         'integration', p_integration, jsonb_build_object('field', p_field),
                         p_client_ip, p_request_id);
    RETURN QUERY SELECT found_ct, found_at;
  END $$;
GRANT EXECUTE ON FUNCTION read_integration_secret(uuid, text, text, text) TO ochre_app;

-- Refresh material for an expiring OAuth access token: the refresh token's
-- ciphertext, read by the same checks as read_integration_secret() and
-- audited as a refresh. Callers hold pg_advisory_xact_lock on the
-- integration, so two replicas never refresh the same token twice.
CREATE FUNCTION integration_refresh_material(p_integration uuid, p_request_id text)
  RETURNS TABLE (refresh_ciphertext bytea, token_expires_at timestamptz, provider text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    caller text := app_role();
  BEGIN
    IF caller IS NULL OR caller NOT IN ('owner', 'admin') THEN
      RAISE EXCEPTION 'only owners and admins can refresh integration tokens' USING ERRCODE = '42501';
    END IF;
    RETURN QUERY
      SELECT s.ciphertext, i.token_expires_at, i.provider
        FROM integrations i
        JOIN integration_secrets s ON s.org_id = i.org_id AND s.integration_id = i.id
                                  AND s.field = 'refresh_token'
       WHERE i.org_id = app_org() AND i.id = p_integration;
    IF FOUND THEN
      PERFORM audit_append(app_org(), app_user(), app_api_key(), 'integration.token.refresh',
                           'integration', p_integration, '{}', '', p_request_id);
    END IF;
  END $$;
GRANT EXECUTE ON FUNCTION integration_refresh_material(uuid, text) TO ochre_app;
