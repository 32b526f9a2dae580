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
