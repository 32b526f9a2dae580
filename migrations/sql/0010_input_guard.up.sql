-- Input guard (issue 14): the verdict of the prompt-injection screener is
-- stored with every inbound message; a flagged (or blocked) inbound message
-- records a flag against its customer, and three flags of one customer
-- within 10 minutes turn AI processing off for that customer
-- (customers.ai_blocked_until) for 15 minutes, doubling with each further
-- block up to 24 hours. Every flag appends 'guard.flagged' to the org's
-- audit chain, every block 'customer.ai_blocked'. The app role cannot write
-- the block columns nor the flags: only the trigger below does, from the
-- stored message.

ALTER TABLE customers
  ADD COLUMN ai_blocked_until timestamptz,
  ADD COLUMN ai_block_count int NOT NULL DEFAULT 0 CHECK (ai_block_count BETWEEN 0 AND 1000);

-- The app role keeps writing the profile, not the block.
REVOKE INSERT, UPDATE ON customers FROM ochre_app;
GRANT INSERT (org_id, id, email, name, phone, custom_fields, stripe, hubspot, created_at, updated_at)
  ON customers TO ochre_app;
GRANT UPDATE (email, name, phone, custom_fields, stripe, hubspot, updated_at)
  ON customers TO ochre_app;

-- The screening of an inbound message, written with it (messages are
-- immutable). NULL for messages the guard does not screen (outbound
-- replies, notes, AI drafts) and for inbound messages stored before it.
ALTER TABLE messages
  ADD COLUMN guard_verdict text CHECK (guard_verdict IN ('allow', 'flag', 'block')),
  ADD COLUMN guard_categories text[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(guard_categories) <= 5 AND guard_categories <@ ARRAY['instruction_override',
           'roleplay_jailbreak', 'system_prompt_extraction', 'data_exfiltration', 'encoded_payload']),
  ADD COLUMN guard_rules_version text CHECK (char_length(guard_rules_version) BETWEEN 1 AND 32),
  ADD CONSTRAINT messages_guard_complete
    CHECK ((guard_verdict IS NULL) = (guard_rules_version IS NULL)
           AND (guard_verdict IS NOT NULL OR cardinality(guard_categories) = 0));

-- New inbound messages carry a screening; other kinds carry none.
ALTER POLICY messages_insert ON messages
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent']))
              AND (author_user_id IS NULL OR author_user_id = (SELECT app_user()))
              AND (author_api_key_id IS NULL OR author_api_key_id = (SELECT app_api_key()))
              AND ((kind IN ('inbound_email', 'inbound_chat')) = (guard_verdict IS NOT NULL)));

-- One row per flagged screening of a customer's text; no text, only what
-- the guard said. Written by guard_flag_message() only; members read.
CREATE TABLE guard_flags (
  org_id        uuid        NOT NULL,
  id            uuid        NOT NULL,
  customer_id   uuid        NOT NULL,
  message_id    uuid,
  verdict       text        NOT NULL CHECK (verdict IN ('flag', 'block')),
  categories    text[]      NOT NULL CHECK (cardinality(categories) <= 5),
  rules_version text        NOT NULL CHECK (char_length(rules_version) BETWEEN 1 AND 32),
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE
);
CREATE INDEX guard_flags_customer_idx ON guard_flags (org_id, customer_id, created_at);
ALTER TABLE guard_flags ENABLE ROW LEVEL SECURITY;
ALTER TABLE guard_flags FORCE ROW LEVEL SECURITY;
CREATE POLICY guard_flags_read ON guard_flags FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org()));
CREATE POLICY guard_flags_definer ON guard_flags FOR ALL TO ochre_owner
  USING (org_id = (SELECT app_org())) WITH CHECK (org_id = (SELECT app_org()));
-- The purge of the org (0007_workspace_deletion) sees and deletes them.
CREATE POLICY guard_flags_purge ON guard_flags FOR ALL TO ochre_owner
  USING (EXISTS (SELECT 1 FROM orgs o WHERE o.id = org_id AND o.purge_started_at IS NOT NULL))
  WITH CHECK (false);
-- `ochre export` only (as for customers in 0003_conversations).
CREATE POLICY guard_flags_owner_export ON guard_flags FOR SELECT TO ochre_owner
  USING (session_user = 'ochre_owner'
         AND org_id::text = current_setting('ochre.export_org', true));
GRANT SELECT ON guard_flags TO ochre_app;

-- A flagged inbound message just stored by the verified caller: records
-- the flag against the conversation's customer, appends 'guard.flagged'
-- (the message, verdict, categories and rule version; never the text) and,
-- from the third flag of that customer within 10 minutes on, blocks AI
-- processing for the customer: 15 minutes for the first block, doubled for
-- each further block (the count restarts once a block has been over for 24
-- hours), at most 24 hours, appending 'customer.ai_blocked'. The client
-- address and request id come from the transaction's `ochre.client_ip` and
-- `ochre.request_id` (informational, as record_audit's arguments).
CREATE FUNCTION guard_flag_message() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    org uuid := app_org();
    cust uuid;
    c record;
    n bigint;
    k int;
    until timestamptz;
    ip text := coalesce(current_setting('ochre.client_ip', true), '');
    rid text := coalesce(current_setting('ochre.request_id', true), '');
  BEGIN
    IF org IS NULL OR NEW.org_id IS DISTINCT FROM org
       OR app_role() IS NULL OR app_role() NOT IN ('owner', 'admin', 'agent') THEN
      RAISE EXCEPTION 'only the org''s writers store messages' USING ERRCODE = '42501';
    END IF;
    SELECT v.customer_id INTO cust FROM conversations v
     WHERE v.org_id = org AND v.id = NEW.conversation_id;
    SELECT cu.ai_blocked_until, cu.ai_block_count INTO c FROM customers cu
     WHERE cu.org_id = org AND cu.id = cust FOR UPDATE;
    INSERT INTO guard_flags (org_id, id, customer_id, message_id, verdict, categories, rules_version)
    VALUES (org, gen_random_uuid(), cust, NEW.id, NEW.guard_verdict, NEW.guard_categories,
            NEW.guard_rules_version);
    PERFORM audit_append(org, app_user(), app_api_key(), 'guard.flagged', 'message', NEW.id,
                         jsonb_build_object('customer_id', cust, 'verdict', NEW.guard_verdict,
                                            'categories', to_jsonb(NEW.guard_categories),
                                            'rules_version', NEW.guard_rules_version,
                                            'source', NEW.kind),
                         ip, rid);
    SELECT count(*) INTO n FROM guard_flags f
     WHERE f.org_id = org AND f.customer_id = cust AND f.created_at > now() - interval '10 minutes';
    IF n >= 3 THEN
      k := CASE WHEN c.ai_blocked_until IS NULL OR c.ai_blocked_until < now() - interval '24 hours'
                THEN 0 ELSE c.ai_block_count END;
      until := now() + least(interval '15 minutes' * power(2, least(k, 7)), interval '24 hours');
      UPDATE customers cu SET ai_blocked_until = until, ai_block_count = least(k + 1, 1000)
       WHERE cu.org_id = org AND cu.id = cust;
      PERFORM audit_append(org, app_user(), app_api_key(), 'customer.ai_blocked', 'customer', cust,
                           jsonb_build_object('until', until, 'block', k + 1, 'flags_in_window', n),
                           ip, rid);
    END IF;
    RETURN NULL;
  END $$;
REVOKE ALL ON FUNCTION guard_flag_message() FROM PUBLIC;
CREATE TRIGGER messages_guard_flag AFTER INSERT ON messages
  FOR EACH ROW WHEN (NEW.guard_verdict IN ('flag', 'block'))
  EXECUTE FUNCTION guard_flag_message();

-- A flagged screening by ScreenText (no stored text, no customer): appends
-- 'guard.flagged' for the verified caller (owners, admins, agents) with the
-- source, verdict, categories and rule version.
CREATE FUNCTION guard_record_screening(p_source text, p_verdict text, p_categories text[],
                                       p_rules_version text, p_client_ip text, p_request_id text)
  RETURNS bigint
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  BEGIN
    IF app_org() IS NULL OR app_role() IS NULL OR app_role() NOT IN ('owner', 'admin', 'agent') THEN
      RAISE EXCEPTION 'only owners, admins and agents screen texts' USING ERRCODE = '42501';
    END IF;
    IF p_verdict IS NULL OR p_verdict NOT IN ('flag', 'block')
       OR p_source IS NULL OR p_source NOT IN ('inbound_email', 'chat', 'customer_profile', 'agent_prompt')
       OR cardinality(p_categories) > 5 OR char_length(p_rules_version) NOT BETWEEN 1 AND 32 THEN
      RAISE EXCEPTION 'not a flagged screening' USING ERRCODE = '22023';
    END IF;
    RETURN audit_append(app_org(), app_user(), app_api_key(), 'guard.flagged', 'org', NULL,
                        jsonb_build_object('source', p_source, 'verdict', p_verdict,
                                           'categories', to_jsonb(p_categories),
                                           'rules_version', p_rules_version),
                        p_client_ip, p_request_id);
  END $$;
REVOKE ALL ON FUNCTION guard_record_screening(text, text, text[], text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION guard_record_screening(text, text, text[], text, text, text) TO ochre_app;
