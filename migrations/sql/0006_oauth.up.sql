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
  USING (org_id = app_org() AND user_id = app_user() AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY oauth_states_insert ON oauth_states FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND user_id = app_user() AND (SELECT app_role()) IN ('owner', 'admin')
              AND used_at IS NULL);
-- Using a state is one-way.
CREATE POLICY oauth_states_use ON oauth_states FOR UPDATE TO ochre_app
  USING (org_id = app_org() AND user_id = app_user() AND (SELECT app_role()) IN ('owner', 'admin')
         AND used_at IS NULL)
  WITH CHECK (org_id = app_org() AND used_at IS NOT NULL);
GRANT SELECT, INSERT (org_id, id, nonce, user_id, provider, pkce_verifier, expires_at),
  UPDATE (used_at) ON oauth_states TO ochre_app;

-- When the stored access token expires (for refresh).
ALTER TABLE integrations ADD COLUMN token_expires_at timestamptz;
GRANT UPDATE (token_expires_at) ON integrations TO ochre_app;
