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
-- An integration id names its org on the webhook URL: ids are unique on
-- their own, and this index is how a delivery finds its integration.
CREATE UNIQUE INDEX integrations_id_key ON integrations (id);
ALTER TABLE integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE integrations FORCE ROW LEVEL SECURITY;
CREATE POLICY integrations_read ON integrations FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org()));
CREATE POLICY integrations_write ON integrations FOR INSERT TO ochre_app
  WITH CHECK (org_id = (SELECT app_org()) AND (SELECT app_role()) IN ('owner', 'admin')
              AND connected_by IS NOT DISTINCT FROM (SELECT app_user()));
CREATE POLICY integrations_update ON integrations FOR UPDATE TO ochre_app
  USING (org_id = (SELECT app_org()) AND (SELECT app_role()) IN ('owner', 'admin'))
  WITH CHECK (org_id = (SELECT app_org()) AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY integrations_delete ON integrations FOR DELETE TO ochre_app
  USING (org_id = (SELECT app_org()) AND (SELECT app_role()) IN ('owner', 'admin'));
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
  WITH CHECK (org_id = (SELECT app_org()) AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY integration_secrets_delete ON integration_secrets FOR DELETE TO ochre_app
  USING (org_id = (SELECT app_org()) AND (SELECT app_role()) IN ('owner', 'admin'));
-- The owner role reads ciphertext inside read_integration_secret() and
-- re-encrypts it in `ochre keys rotate`.
CREATE POLICY integration_secrets_owner ON integration_secrets FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);
-- Metadata columns only: no SELECT on ciphertext.
GRANT SELECT (org_id, integration_id, field, updated_at) ON integration_secrets TO ochre_app;
GRANT INSERT (org_id, integration_id, field, ciphertext, updated_at), DELETE ON integration_secrets TO ochre_app;

-- Append-only audit trail (no UPDATE or DELETE for anyone but a purge).
-- An audit row names its real actor and the server's time: only definer
-- functions write it (record_audit, read_integration_secret, ...).
CREATE TABLE audit_log (
  org_id           uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id               uuid        NOT NULL,
  occurred_at      timestamptz NOT NULL DEFAULT now(),
  actor_user_id    uuid,
  actor_api_key_id uuid,
  action           text        NOT NULL CHECK (char_length(action) BETWEEN 1 AND 100),
  target_type      text        NOT NULL DEFAULT '',
  target_id        uuid,
  detail           jsonb       NOT NULL DEFAULT '{}',
  client_ip        inet,
  PRIMARY KEY (org_id, id)
);
CREATE INDEX audit_log_org_time_idx ON audit_log (org_id, occurred_at DESC);
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org()) AND (SELECT app_role()) IN ('owner', 'admin'));
-- Rows are written only by SECURITY DEFINER functions (running as the
-- owner): the app role has no INSERT on the table.
CREATE POLICY audit_log_owner ON audit_log FOR INSERT TO ochre_owner WITH CHECK (true);
GRANT SELECT ON audit_log TO ochre_app;

-- Appends an audit event for the caller, who must be an owner or admin of
-- the org (the events recorded this way, connecting and disconnecting
-- integrations, are theirs): the actor is the caller, the time the server's.
CREATE FUNCTION record_audit(p_id uuid, p_action text, p_target_type text, p_target_id uuid,
                             p_detail jsonb, p_client_ip text)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
  AS $$
  DECLARE
    caller text := app_role();
  BEGIN
    IF caller IS NULL OR caller NOT IN ('owner', 'admin') THEN
      RAISE EXCEPTION 'only owners and admins record these events' USING ERRCODE = '42501';
    END IF;
    INSERT INTO audit_log (org_id, id, actor_user_id, actor_api_key_id, action, target_type,
                           target_id, detail, client_ip)
    VALUES (app_org(), p_id, app_user(), app_api_key(), p_action, p_target_type, p_target_id,
            COALESCE(p_detail, '{}'), NULLIF(p_client_ip, '')::inet);
  END $$;
GRANT EXECUTE ON FUNCTION record_audit(uuid, text, text, uuid, jsonb, text) TO ochre_app;

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
  USING (org_id = (SELECT app_org()) AND user_id = (SELECT app_user()) AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY oauth_states_insert ON oauth_states FOR INSERT TO ochre_app
  WITH CHECK (org_id = (SELECT app_org()) AND user_id = (SELECT app_user()) AND (SELECT app_role()) IN ('owner', 'admin')
              AND used_at IS NULL);
-- Using a state is one-way.
CREATE POLICY oauth_states_use ON oauth_states FOR UPDATE TO ochre_app
  USING (org_id = (SELECT app_org()) AND user_id = (SELECT app_user()) AND (SELECT app_role()) IN ('owner', 'admin')
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
CREATE FUNCTION read_integration_secret(p_integration uuid, p_field text, p_audit_id uuid, p_client_ip text)
  RETURNS TABLE (ciphertext bytea, updated_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
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
    INSERT INTO audit_log (org_id, id, actor_user_id, actor_api_key_id, action, target_type,
                           target_id, detail, client_ip)
    VALUES (app_org(), p_audit_id, app_user(), app_api_key(), 'integration.token.read',
            'integration', p_integration, jsonb_build_object('field', p_field),
            NULLIF(p_client_ip, '')::inet);
    RETURN QUERY SELECT found_ct, found_at;
  END $$;
GRANT EXECUTE ON FUNCTION read_integration_secret(uuid, text, uuid, text) TO ochre_app;

-- Refresh material for an expiring OAuth access token: the refresh token's
-- ciphertext, read by the same checks as read_integration_secret() and
-- audited as a refresh. Callers hold pg_advisory_xact_lock on the
-- integration, so two replicas never refresh the same token twice.
CREATE FUNCTION integration_refresh_material(p_integration uuid, p_audit_id uuid)
  RETURNS TABLE (refresh_ciphertext bytea, token_expires_at timestamptz, provider text)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public
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
      INSERT INTO audit_log (org_id, id, actor_user_id, actor_api_key_id, action, target_type, target_id)
      VALUES (app_org(), p_audit_id, app_user(), app_api_key(), 'integration.token.refresh',
              'integration', p_integration);
    END IF;
  END $$;
GRANT EXECUTE ON FUNCTION integration_refresh_material(uuid, uuid) TO ochre_app;
