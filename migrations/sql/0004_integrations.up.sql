-- The integration token vault and the audit log.
--
-- Secrets are XChaCha20-Poly1305 ciphertext made by the server's vault
-- (key OCHRE_BYOK_ENC_KEY, never in the database), bound to org,
-- integration and field. The app role can write a ciphertext but cannot
-- SELECT the column at all: cleartext comes only through
-- read_integration_secret(), which checks the caller's current role and
-- writes an audit row in the same transaction.

CREATE TABLE integrations (
  org_id           uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id               uuid        NOT NULL,
  provider         text        NOT NULL CHECK (char_length(provider) BETWEEN 1 AND 40),
  external_account text        NOT NULL DEFAULT '' CHECK (char_length(external_account) <= 200),
  scopes           text[]      NOT NULL DEFAULT '{}',
  connected_by     uuid        REFERENCES users (id) ON DELETE SET NULL,
  connected_at     timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT integrations_provider_key UNIQUE (org_id, provider)
);

CREATE TABLE integration_secrets (
  org_id         uuid        NOT NULL,
  integration_id uuid        NOT NULL,
  field          text        NOT NULL CHECK (char_length(field) BETWEEN 1 AND 64),
  ciphertext     bytea       NOT NULL CHECK (octet_length(ciphertext) BETWEEN 45 AND 16384),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, integration_id, field),
  FOREIGN KEY (org_id, integration_id) REFERENCES integrations (org_id, id) ON DELETE CASCADE
);

-- Append-only audit trail (no UPDATE or DELETE for anyone but a purge).
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

ALTER TABLE integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE integrations FORCE ROW LEVEL SECURITY;
CREATE POLICY integrations_read ON integrations FOR SELECT TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IS NOT NULL);
CREATE POLICY integrations_write ON integrations FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY integrations_update ON integrations FOR UPDATE TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'))
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY integrations_delete ON integrations FOR DELETE TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY integrations_owner ON integrations FOR SELECT TO ochre_owner USING (true);
GRANT SELECT, INSERT, DELETE, UPDATE (external_account, scopes, updated_at) ON integrations TO ochre_app;

ALTER TABLE integration_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE integration_secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY integration_secrets_read ON integration_secrets FOR SELECT TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IS NOT NULL);
CREATE POLICY integration_secrets_insert ON integration_secrets FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY integration_secrets_delete ON integration_secrets FOR DELETE TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'));
-- The owner role reads ciphertext inside read_integration_secret() and
-- re-encrypts it in `ochre keys rotate`.
CREATE POLICY integration_secrets_owner ON integration_secrets FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);
-- Metadata columns only: no SELECT on ciphertext.
GRANT SELECT (org_id, integration_id, field, updated_at) ON integration_secrets TO ochre_app;
GRANT INSERT (org_id, integration_id, field, ciphertext, updated_at), DELETE ON integration_secrets TO ochre_app;

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY audit_log_append ON audit_log FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IS NOT NULL);
CREATE POLICY audit_log_owner ON audit_log FOR INSERT TO ochre_owner WITH CHECK (true);
GRANT SELECT, INSERT ON audit_log TO ochre_app;

-- Key rotation re-encrypts TOTP secrets too.
CREATE POLICY users_owner_rotate ON users FOR UPDATE TO ochre_owner USING (true) WITH CHECK (true);

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
