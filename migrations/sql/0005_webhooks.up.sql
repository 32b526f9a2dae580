-- Inbound webhooks: verified deliveries, deduplicated per org, provider and
-- delivery id (a unique constraint, so every replica shares it), and the
-- two gates the HTTP ingress uses on the `ochre_service` pool. Nothing here
-- verifies a signature: the server does that on the raw body, with the
-- signing secret it decrypts (the vault key never reaches the database).
-- The webhook URL names the org and the integration
-- (`/webhooks/{provider}/{org_id}/{integration_id}`): the gates find the
-- integration by (org_id, id), its primary key, like every tenant row.

CREATE TABLE webhook_events (
  org_id         uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id             uuid        NOT NULL,
  -- No foreign key: received events outlive a disconnected integration.
  integration_id uuid        NOT NULL,
  provider       text        NOT NULL CHECK (char_length(provider) BETWEEN 1 AND 40),
  delivery_id    text        NOT NULL CHECK (char_length(delivery_id) BETWEEN 1 AND 200),
  event_type     text        NOT NULL DEFAULT '' CHECK (char_length(event_type) <= 200),
  signed_at      timestamptz,
  received_at    timestamptz NOT NULL DEFAULT now(),
  content_type   text        NOT NULL DEFAULT '' CHECK (char_length(content_type) <= 200),
  payload        bytea       NOT NULL CHECK (octet_length(payload) <= 1048576),
  payload_sha256 bytea       GENERATED ALWAYS AS (sha256(payload)) STORED,
  PRIMARY KEY (org_id, id),
  CONSTRAINT webhook_events_delivery_key UNIQUE (org_id, provider, delivery_id)
);
-- GitHub and Linear send their delivery id outside the MAC: a signed body
-- replayed under a fresh id is the same event, so the body itself is
-- unique for them too (Meta's delivery id is already the body digest).
CREATE UNIQUE INDEX webhook_events_replay_key ON webhook_events (org_id, provider, payload_sha256)
  WHERE provider IN ('github', 'linear');
ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
-- Owners, admins and agents read the org's events; nobody writes them but
-- record_webhook_event() after a signature verified.
CREATE POLICY webhook_events_read ON webhook_events FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent'])));
CREATE POLICY webhook_events_definer ON webhook_events FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);
GRANT SELECT ON webhook_events TO ochre_app;

-- The candidate signing secrets of one integration of one org for one
-- provider: the current one and, for 24 hours after a re-paste, the
-- previous one (`<field>.previous`). Only signing-secret fields can be read
-- here. No row at all: no such integration in that org, or another
-- provider. One row with a NULL field: the integration exists but has no
-- signing secret. One row with `pending` true and no secret: its org is
-- pending deletion (answered 410).
CREATE FUNCTION webhook_signing_secrets(p_org uuid, p_integration uuid, p_provider text,
                                        p_field text)
  RETURNS TABLE (field text, ciphertext bytea, pending boolean)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  BEGIN
    IF p_field NOT IN ('webhook_signing_secret', 'signing_secret', 'app_secret') THEN
      RAISE EXCEPTION 'not a signing secret field' USING ERRCODE = '42501';
    END IF;
    RETURN QUERY
      SELECT s.field, s.ciphertext, o.deleted_at IS NOT NULL
        FROM integrations i
        JOIN orgs o ON o.id = i.org_id
        LEFT JOIN integration_secrets s
          ON s.org_id = i.org_id AND s.integration_id = i.id AND o.deleted_at IS NULL
         AND (s.field = p_field
              OR (s.field = p_field || '.previous' AND s.updated_at > now() - interval '24 hours'))
       WHERE i.org_id = p_org AND i.id = p_integration AND i.provider = p_provider
       ORDER BY s.field;
  END $$;
GRANT EXECUTE ON FUNCTION webhook_signing_secrets(uuid, uuid, text, text) TO ochre_service;

-- Stores one verified delivery of integration (p_org, p_integration):
-- 'stored', 'duplicate' (the org already has this provider's delivery id),
-- 'gone' (the integration or its org went away since the secrets were
-- read) or 'pending_deletion' (its org was scheduled for deletion
-- meanwhile: nothing is stored).
CREATE FUNCTION record_webhook_event(p_org uuid, p_integration uuid, p_provider text,
                                     p_id uuid, p_delivery_id text, p_event_type text,
                                     p_signed_at timestamptz, p_content_type text,
                                     p_payload bytea)
  RETURNS text
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    pending boolean;
    inserted int;
  BEGIN
    SELECT o.deleted_at IS NOT NULL INTO pending
      FROM integrations i JOIN orgs o ON o.id = i.org_id
     WHERE i.org_id = p_org AND i.id = p_integration AND i.provider = p_provider;
    IF NOT FOUND THEN
      RETURN 'gone';
    END IF;
    IF pending THEN
      RETURN 'pending_deletion';
    END IF;
    INSERT INTO webhook_events (org_id, id, integration_id, provider, delivery_id, event_type,
                                signed_at, content_type, payload)
    VALUES (p_org, p_id, p_integration, p_provider, p_delivery_id, p_event_type,
            p_signed_at, p_content_type, p_payload)
    -- Any unique key: the delivery id, or (GitHub, Linear) the body.
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    RETURN CASE WHEN inserted = 1 THEN 'stored' ELSE 'duplicate' END;
  END $$;
GRANT EXECUTE ON FUNCTION record_webhook_event(uuid, uuid, text, uuid, text, text, timestamptz,
                                                text, bytea)
  TO ochre_service;

-- Re-pasting a signing secret keeps the old one as `<field>.previous` (for
-- 24 hours, see webhook_signing_secrets) so deliveries signed before the
-- provider switched still verify. Owners and admins of the org only: the
-- integration is looked up in the verified caller's pinned org (app_org()),
-- never in an org the caller names.
CREATE FUNCTION retire_signing_secret(p_integration uuid, p_field text)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  BEGIN
    IF app_role() IS NULL OR app_role() NOT IN ('owner', 'admin') THEN
      RAISE EXCEPTION 'only owners and admins can rotate signing secrets' USING ERRCODE = '42501';
    END IF;
    IF p_field NOT IN ('webhook_signing_secret', 'signing_secret', 'app_secret') THEN
      RAISE EXCEPTION 'not a signing secret field' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM integration_secrets s
                    WHERE s.org_id = app_org() AND s.integration_id = p_integration
                      AND s.field = p_field) THEN
      RETURN;
    END IF;
    DELETE FROM integration_secrets s
     WHERE s.org_id = app_org() AND s.integration_id = p_integration
       AND s.field = p_field || '.previous';
    UPDATE integration_secrets s SET field = p_field || '.previous', updated_at = now()
     WHERE s.org_id = app_org() AND s.integration_id = p_integration AND s.field = p_field;
  END $$;
GRANT EXECUTE ON FUNCTION retire_signing_secret(uuid, text) TO ochre_app;

-- The `purge-expired` cron job, part 1 (the owner's tables): expired OAuth
-- states and retired signing secrets past their 24 hours. Part 2 runs as
-- ochre_service in the same transaction: sessions and login throttling.
CREATE FUNCTION purge_expired()
  RETURNS jsonb
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    n_states int;
    n_secrets int;
    n_sessions int;
    n_throttle int;
    n_tickets int;
  BEGIN
    DELETE FROM oauth_states WHERE expires_at < now() - interval '1 day';
    GET DIAGNOSTICS n_states = ROW_COUNT;
    DELETE FROM integration_secrets
     WHERE field LIKE '%.previous' AND updated_at <= now() - interval '24 hours';
    GET DIAGNOSTICS n_secrets = ROW_COUNT;
    -- Refresh tokens go with their session (ON DELETE CASCADE).
    DELETE FROM sessions WHERE expires_at < now() - interval '7 days'
       OR (revoked_at IS NOT NULL AND revoked_at < now() - interval '7 days');
    GET DIAGNOSTICS n_sessions = ROW_COUNT;
    DELETE FROM login_throttle WHERE window_start < now() - interval '1 day'
       AND (locked_until IS NULL OR locked_until < now());
    GET DIAGNOSTICS n_throttle = ROW_COUNT;
    DELETE FROM login_tickets WHERE expires_at < now() - interval '1 day';
    GET DIAGNOSTICS n_tickets = ROW_COUNT;
    RETURN jsonb_build_object('oauth_states', n_states, 'previous_signing_secrets', n_secrets,
                              'sessions', n_sessions, 'login_throttle', n_throttle,
                              'login_tickets', n_tickets);
  END $$;
GRANT EXECUTE ON FUNCTION purge_expired() TO ochre_service;
