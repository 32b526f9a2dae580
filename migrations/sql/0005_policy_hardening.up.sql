-- Policy hardening found by the generated SQL isolation matrix:
--  1. audit rows could be appended in another actor's name, with any time;
--  2. an admin could un-revoke an API key or an invitation;
--  3. a message could name another member as its author.

-- 1. An audit row names its real actor; the time is the server's.
DROP POLICY audit_log_append ON audit_log;
CREATE POLICY audit_log_append ON audit_log FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IS NOT NULL
              AND actor_user_id IS NOT DISTINCT FROM app_user()
              AND actor_api_key_id IS NOT DISTINCT FROM app_api_key());
REVOKE INSERT ON audit_log FROM ochre_app;
GRANT INSERT (org_id, id, actor_user_id, actor_api_key_id, action, target_type, target_id, detail, client_ip)
  ON audit_log TO ochre_app;

-- 2. Revocation is one-way: the only UPDATE is setting revoked_at once.
DROP POLICY api_keys_admin ON api_keys;
CREATE POLICY api_keys_admin_read ON api_keys FOR SELECT TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY api_keys_admin_insert ON api_keys FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin')
              AND role_rank(role) <= role_rank((SELECT app_role()))
              AND revoked_at IS NULL AND last_used_at IS NULL);
CREATE POLICY api_keys_admin_revoke ON api_keys FOR UPDATE TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin') AND revoked_at IS NULL)
  WITH CHECK (org_id = app_org() AND revoked_at IS NOT NULL);

DROP POLICY invitations_admin ON invitations;
CREATE POLICY invitations_admin_read ON invitations FOR SELECT TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin'));
CREATE POLICY invitations_admin_insert ON invitations FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin')
              AND (role <> 'owner' OR (SELECT app_role()) = 'owner')
              AND revoked_at IS NULL AND accepted_at IS NULL AND accepted_by IS NULL);
CREATE POLICY invitations_admin_revoke ON invitations FOR UPDATE TO ochre_app
  USING (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin')
         AND revoked_at IS NULL AND accepted_at IS NULL)
  WITH CHECK (org_id = app_org() AND revoked_at IS NOT NULL);

-- 3. A message's author is the caller (or nobody, for inbound messages).
DROP POLICY messages_insert ON messages;
CREATE POLICY messages_insert ON messages FOR INSERT TO ochre_app
  WITH CHECK (org_id = app_org() AND (SELECT app_role()) IN ('owner', 'admin', 'agent')
              AND (author_user_id IS NULL OR author_user_id = app_user())
              AND (author_api_key_id IS NULL OR author_api_key_id = app_api_key()));
