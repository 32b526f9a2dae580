-- CSAT surveys. Members send a survey for a conversation's customer (one
-- open survey per conversation and customer: sending again revokes the
-- previous one); the customer answers without an account through two
-- gates of `ochre_service`, after the server checked the token's HMAC.
-- The token binds org, conversation, customer, nonce and expiry; every gate
-- below checks all four ids against the row, so a token never reaches
-- another org's survey.

CREATE TABLE surveys (
  org_id             uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id                 uuid        NOT NULL,
  conversation_id    uuid        NOT NULL,
  customer_id        uuid        NOT NULL,
  -- The agent rated: the conversation's assignee when sent, else the sender.
  agent_user_id      uuid,
  sent_by_user_id    uuid,
  sent_by_api_key_id uuid,
  nonce              bytea       NOT NULL CHECK (octet_length(nonce) = 16),
  created_at         timestamptz NOT NULL DEFAULT now(),
  expires_at         timestamptz NOT NULL,
  revoked_at         timestamptz,
  PRIMARY KEY (org_id, id),
  UNIQUE (org_id, nonce),
  FOREIGN KEY (org_id, conversation_id) REFERENCES conversations (org_id, id) ON DELETE CASCADE,
  FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE,
  -- A removed member's answers stay, unattributed.
  FOREIGN KEY (org_id, agent_user_id) REFERENCES memberships (org_id, user_id)
    ON DELETE SET NULL (agent_user_id),
  CHECK (expires_at > created_at AND expires_at <= created_at + interval '28 days'),
  CHECK (num_nonnulls(sent_by_user_id, sent_by_api_key_id) = 1)
);
CREATE UNIQUE INDEX surveys_open_key ON surveys (org_id, conversation_id, customer_id)
  WHERE revoked_at IS NULL;
ALTER TABLE surveys ENABLE ROW LEVEL SECURITY;
ALTER TABLE surveys FORCE ROW LEVEL SECURITY;
CREATE POLICY surveys_read ON surveys FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org()));
-- The sender is the verified caller, never a column the app chooses, and
-- the customer is the conversation's own.
CREATE POLICY surveys_send ON surveys FOR INSERT TO ochre_app
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent']))
              AND sent_by_user_id IS NOT DISTINCT FROM (SELECT app_user())
              AND sent_by_api_key_id IS NOT DISTINCT FROM (SELECT app_api_key())
              AND customer_id = (SELECT c.customer_id FROM conversations c
                                  WHERE c.org_id = surveys.org_id AND c.id = surveys.conversation_id));
CREATE POLICY surveys_revoke ON surveys FOR UPDATE TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent']))
         AND revoked_at IS NULL)
  WITH CHECK (org_id = (SELECT app_org()) AND revoked_at IS NOT NULL);
CREATE POLICY surveys_definer ON surveys FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
-- Every column but the nonce: with it, the ids a member can read would be
-- all the answer gate asks for (the token's HMAC is checked in the server).
GRANT SELECT (org_id, id, conversation_id, customer_id, agent_user_id, sent_by_user_id,
              sent_by_api_key_id, created_at, expires_at, revoked_at) ON surveys TO ochre_app;
GRANT INSERT ON surveys TO ochre_app;
GRANT UPDATE (revoked_at) ON surveys TO ochre_app;

-- One answer per survey (the primary key makes a survey single-use).
-- Written only by submit_survey_response().
CREATE TABLE survey_responses (
  org_id       uuid        NOT NULL,
  survey_id    uuid        NOT NULL,
  score        smallint    NOT NULL CHECK (score BETWEEN 1 AND 5),
  -- Line breaks and tabs are the only control characters a comment keeps.
  comment      text        NOT NULL DEFAULT '' CHECK (char_length(comment) <= 2000
                                                      AND comment !~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]'),
  submitted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, survey_id),
  FOREIGN KEY (org_id, survey_id) REFERENCES surveys (org_id, id) ON DELETE CASCADE
);
CREATE INDEX survey_responses_time_idx ON survey_responses (org_id, submitted_at DESC, survey_id DESC);
ALTER TABLE survey_responses ENABLE ROW LEVEL SECURITY;
ALTER TABLE survey_responses FORCE ROW LEVEL SECURITY;
CREATE POLICY survey_responses_read ON survey_responses FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org()));
CREATE POLICY survey_responses_definer ON survey_responses FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);
GRANT SELECT ON survey_responses TO ochre_app;

-- The survey a verified token names, if every id matches and its org is
-- not deleted; reads only, records nothing. State: 'open', 'answered',
-- 'replaced' (revoked by a newer send) or 'expired'. No row: unknown.
CREATE FUNCTION survey_by_token(p_org uuid, p_conversation uuid, p_customer uuid, p_nonce bytea)
  RETURNS TABLE (org_name text, expires_at timestamptz, state text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT o.name, s.expires_at,
           CASE WHEN EXISTS (SELECT 1 FROM survey_responses r
                              WHERE r.org_id = s.org_id AND r.survey_id = s.id) THEN 'answered'
                WHEN s.revoked_at IS NOT NULL THEN 'replaced'
                WHEN s.expires_at <= now() THEN 'expired'
                ELSE 'open' END
      FROM surveys s JOIN orgs o ON o.id = s.org_id AND o.deleted_at IS NULL
     WHERE s.nonce = p_nonce AND s.org_id = p_org
       AND s.conversation_id = p_conversation AND s.customer_id = p_customer
  $$;

-- Whether the presented credential belongs to staff of p_org: the user of
-- a MAC-verified access token (p_user) who is a member, or a live API key
-- of the org (hashed and compared here). Used only to refuse.
CREATE FUNCTION is_org_staff(p_org uuid, p_user uuid, p_key text) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = p_org AND m.user_id = p_user)
        OR EXISTS (SELECT 1 FROM api_keys a
                    WHERE a.org_id = p_org AND a.revoked_at IS NULL
                      AND a.key_hash = sha256(convert_to(p_key, 'UTF8')))
  $$;

-- Stores the one answer of the survey a verified token names. Outcome:
-- 'stored', 'answered' (a concurrent or earlier answer won: nothing
-- stored), 'expired', 'replaced', 'staff' (the caller's credentials are
-- the org's), or 'invalid' (no such survey). At most one answer per survey
-- whatever the concurrency: the primary key decides.
CREATE FUNCTION submit_survey_response(p_org uuid, p_conversation uuid, p_customer uuid,
                                       p_nonce bytea, p_score int, p_comment text,
                                       p_staff_user uuid, p_staff_key text)
  RETURNS TABLE (outcome text, submitted_at timestamptz)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    s record;
    at timestamptz;
  BEGIN
    SELECT v.id, v.expires_at, v.revoked_at INTO s
      FROM surveys v JOIN orgs o ON o.id = v.org_id AND o.deleted_at IS NULL
     WHERE v.nonce = p_nonce AND v.org_id = p_org
       AND v.conversation_id = p_conversation AND v.customer_id = p_customer
       FOR SHARE OF v;  -- a concurrent re-send (revoking it) waits, or is seen
    IF s.id IS NULL THEN
      RETURN QUERY SELECT 'invalid', NULL::timestamptz;
      RETURN;
    END IF;
    IF is_org_staff(p_org, p_staff_user, p_staff_key) THEN
      RETURN QUERY SELECT 'staff', NULL::timestamptz;
      RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM survey_responses r WHERE r.org_id = p_org AND r.survey_id = s.id) THEN
      RETURN QUERY SELECT 'answered', NULL::timestamptz;
      RETURN;
    END IF;
    IF s.revoked_at IS NOT NULL THEN
      RETURN QUERY SELECT 'replaced', NULL::timestamptz;
      RETURN;
    END IF;
    IF s.expires_at <= now() THEN
      RETURN QUERY SELECT 'expired', NULL::timestamptz;
      RETURN;
    END IF;
    INSERT INTO survey_responses AS r (org_id, survey_id, score, comment)
    VALUES (p_org, s.id, p_score, coalesce(p_comment, ''))
    ON CONFLICT (org_id, survey_id) DO NOTHING
    RETURNING r.submitted_at INTO at;
    IF at IS NULL THEN
      RETURN QUERY SELECT 'answered', NULL::timestamptz;
    ELSE
      RETURN QUERY SELECT 'stored', at;
    END IF;
  END $$;

GRANT EXECUTE ON FUNCTION survey_by_token(uuid, uuid, uuid, bytea),
                          submit_survey_response(uuid, uuid, uuid, bytea, int, text, uuid, text)
  TO ochre_service;
