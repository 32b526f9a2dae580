-- End-user erasure (EraseCustomer): erase_customer() removes one customer
-- of the verified caller's org with everything that is theirs, replaces
-- their email address and phone number in the org's remaining text, and
-- keeps a receipt (ids and counts only) in customer_erasures.

-- One row per erasure; no personal data. No foreign key to customers: the
-- customer is gone. Written only by erase_customer().
CREATE TABLE customer_erasures (
  org_id               uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id                   uuid        NOT NULL,
  customer_id          uuid        NOT NULL,
  erased_at            timestamptz NOT NULL DEFAULT now(),
  erased_by_user_id    uuid,
  erased_by_api_key_id uuid,
  counts               jsonb       NOT NULL CHECK (jsonb_typeof(counts) = 'object'),
  PRIMARY KEY (org_id, id),
  CHECK (num_nonnulls(erased_by_user_id, erased_by_api_key_id) = 1)
);
ALTER TABLE customer_erasures ENABLE ROW LEVEL SECURITY;
ALTER TABLE customer_erasures FORCE ROW LEVEL SECURITY;
CREATE POLICY customer_erasures_read ON customer_erasures FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin'])));
CREATE POLICY customer_erasures_definer ON customer_erasures FOR ALL TO ochre_owner
  USING (org_id = (SELECT app_org())) WITH CHECK (org_id = (SELECT app_org()));
-- The purge of the org (0007_workspace_deletion) sees and deletes them.
CREATE POLICY customer_erasures_purge ON customer_erasures FOR ALL TO ochre_owner
  USING (EXISTS (SELECT 1 FROM orgs o WHERE o.id = org_id AND o.purge_started_at IS NOT NULL))
  WITH CHECK (false);
-- `ochre export` only: a login AS the owner role that named the org in
-- `ochre.export_org` (as for customers in 0003_conversations).
CREATE POLICY customer_erasures_owner_export ON customer_erasures FOR SELECT TO ochre_owner
  USING (session_user = 'ochre_owner'
         AND org_id::text = current_setting('ochre.export_org', true));
GRANT SELECT ON customer_erasures TO ochre_app;

-- What erase_customer() (owned by this role) may touch in the tables the
-- app role writes: the pinned caller's org only.
CREATE POLICY customers_erase ON customers FOR ALL TO ochre_owner
  USING (org_id = (SELECT app_org())) WITH CHECK (org_id = (SELECT app_org()));
CREATE POLICY conversations_erase ON conversations FOR ALL TO ochre_owner
  USING (org_id = (SELECT app_org())) WITH CHECK (org_id = (SELECT app_org()));
CREATE POLICY messages_erase ON messages FOR ALL TO ochre_owner
  USING (org_id = (SELECT app_org())) WITH CHECK (org_id = (SELECT app_org()));

-- `p_text` with every match of the (case-insensitive) regular expressions
-- replaced by '[erased]'; NULL expressions match nothing.
CREATE FUNCTION erasure_redact(p_text text, p_email_re text, p_phone_re text) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT CASE WHEN p_phone_re IS NULL THEN e
                ELSE regexp_replace(e, p_phone_re, '[erased]', 'gi') END
      FROM (SELECT CASE WHEN p_email_re IS NULL THEN p_text
                        ELSE regexp_replace(p_text, p_email_re, '[erased]', 'gi') END AS e) s
  $$;

-- The same for every string value of a JSON document (object keys and
-- numbers are kept), so the result is always valid JSON.
CREATE FUNCTION erasure_redact_json(p_doc jsonb, p_email_re text, p_phone_re text) RETURNS jsonb
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT CASE jsonb_typeof(p_doc)
      WHEN 'string' THEN to_jsonb(erasure_redact(p_doc #>> '{}', p_email_re, p_phone_re))
      WHEN 'object' THEN coalesce((SELECT jsonb_object_agg(k, erasure_redact_json(v, p_email_re, p_phone_re))
                                     FROM jsonb_each(p_doc) AS t(k, v)), '{}'::jsonb)
      WHEN 'array' THEN coalesce((SELECT jsonb_agg(erasure_redact_json(v, p_email_re, p_phone_re) ORDER BY i)
                                    FROM jsonb_array_elements(p_doc) WITH ORDINALITY AS t(v, i)), '[]'::jsonb)
      ELSE p_doc END
  $$;

-- The regular expression finding this email address: every ASCII
-- punctuation character escaped, not inside a longer address (no address
-- character just before it, no domain continuing after it).
CREATE FUNCTION erasure_email_re(p_email text) RETURNS text
  LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public, pg_temp
  AS $$
    SELECT CASE WHEN coalesce(p_email, '') = '' THEN NULL ELSE
      '(?<![a-z0-9._%+-])'
      || regexp_replace(p_email, '([!-/:-@[-`{-~])', '\\\1', 'g')
      || '(?![a-z0-9_-]|\.[a-z0-9])' END
  $$;

-- The regular expression finding this phone number as people write it:
-- its digits in order with any spaces, dots, dashes, slashes or brackets
-- between them, with an optional leading '(', '+' or '00', never inside a longer
-- run of digits. A number stored with a leading '+' is also found in its
-- national forms: without a 1-3 digit country code, with or without a
-- trunk '0'. Fewer than 7 digits (in the full number or a national form):
-- not redacted by digits, too likely to match something else.
CREATE FUNCTION erasure_phone_re(p_phone text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    d text := regexp_replace(coalesce(p_phone, ''), '[^0-9]', '', 'g');
    sep text := '[\s.()/-]*';
    forms text[] := '{}';
    cc int;
  BEGIN
    IF char_length(d) < 7 THEN
      RETURN NULL;
    END IF;
    forms := forms || ('\(?((\+|00)' || sep || ')?' || array_to_string(regexp_split_to_array(d, ''), sep));
    IF btrim(p_phone) LIKE '+%' THEN
      FOR cc IN 1..3 LOOP
        IF char_length(d) - cc >= 7 THEN
          forms := forms || ('\(?(0' || sep || ')?'
                   || array_to_string(regexp_split_to_array(substr(d, cc + 1), ''), sep));
        END IF;
      END LOOP;
    END IF;
    RETURN '(?<![0-9])(' || array_to_string(forms, '|') || ')(?![0-9])';
  END $$;

-- Erases one customer of the verified caller's org (owners and admins):
-- their survey links and answers, their conversations with every message
-- (notes, AI drafts and attachment metadata included), and their profile
-- (custom fields, Stripe and HubSpot context are columns of it). Then
-- replaces their email address and phone number with '[erased]' in the
-- org's other messages (body and attachment metadata), conversation subjects, survey comments and other
-- customers' custom fields, stores the receipt and appends
-- 'customer.erased' (the customer's id and the counts) to the org's audit
-- chain, all in the caller's transaction. No row: no such customer in
-- this org. Never reads or writes another org: every statement names it.
CREATE FUNCTION erase_customer(p_customer uuid, p_client_ip text, p_request_id text)
  RETURNS SETOF customer_erasures
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    org uuid := app_org();
    c record;
    convs uuid[];
    survs uuid[];
    email_re text;
    phone_re text;
    n jsonb;
    k int;
    receipt customer_erasures;
  BEGIN
    IF org IS NULL OR app_role() IS NULL OR app_role() NOT IN ('owner', 'admin') THEN
      RAISE EXCEPTION 'only owners and admins erase customers' USING ERRCODE = '42501';
    END IF;
    SELECT cu.email, cu.phone INTO c FROM customers cu
     WHERE cu.org_id = org AND cu.id = p_customer FOR UPDATE;
    IF NOT FOUND THEN
      RETURN;
    END IF;
    SELECT coalesce(array_agg(v.id), '{}') INTO convs FROM conversations v
     WHERE v.org_id = org AND v.customer_id = p_customer;
    SELECT coalesce(array_agg(s.id), '{}') INTO survs FROM surveys s
     WHERE s.org_id = org AND (s.customer_id = p_customer OR s.conversation_id = ANY (convs));

    SELECT jsonb_build_object(
             'customers', 1,
             'conversations', cardinality(convs),
             'messages', count(*),
             'internal_notes', count(*) FILTER (WHERE m.kind = 'internal_note'),
             'ai_drafts', count(*) FILTER (WHERE m.kind = 'ai_draft'),
             'attachments', coalesce(sum(jsonb_array_length(m.attachments)), 0),
             'surveys', cardinality(survs),
             'survey_responses', (SELECT count(*) FROM survey_responses r
                                   WHERE r.org_id = org AND r.survey_id = ANY (survs)))
      INTO n FROM messages m WHERE m.org_id = org AND m.conversation_id = ANY (convs);

    DELETE FROM survey_responses r WHERE r.org_id = org AND r.survey_id = ANY (survs);
    DELETE FROM surveys s WHERE s.org_id = org AND s.id = ANY (survs);
    DELETE FROM messages m WHERE m.org_id = org AND m.conversation_id = ANY (convs);
    DELETE FROM conversations v WHERE v.org_id = org AND v.id = ANY (convs);
    DELETE FROM customers cu WHERE cu.org_id = org AND cu.id = p_customer;

    email_re := erasure_email_re(c.email);
    phone_re := erasure_phone_re(c.phone);
    UPDATE messages m SET body = erasure_redact(m.body, email_re, phone_re),
                          attachments = erasure_redact_json(m.attachments, email_re, phone_re)
     WHERE m.org_id = org
       AND (m.body ~* email_re OR m.body ~ phone_re
            OR m.attachments::text ~* email_re OR m.attachments::text ~ phone_re);
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n || jsonb_build_object('redacted_messages', k);
    UPDATE conversations v SET subject = erasure_redact(v.subject, email_re, phone_re)
     WHERE v.org_id = org AND (v.subject ~* email_re OR v.subject ~ phone_re);
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n || jsonb_build_object('redacted_subjects', k);
    UPDATE survey_responses r SET comment = erasure_redact(r.comment, email_re, phone_re)
     WHERE r.org_id = org AND (r.comment ~* email_re OR r.comment ~ phone_re);
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n || jsonb_build_object('redacted_survey_comments', k);
    UPDATE customers cu SET custom_fields = erasure_redact_json(cu.custom_fields, email_re, phone_re)
     WHERE cu.org_id = org
       AND cu.custom_fields IS DISTINCT FROM erasure_redact_json(cu.custom_fields, email_re, phone_re);
    GET DIAGNOSTICS k = ROW_COUNT;
    n := n || jsonb_build_object('redacted_custom_fields', k);

    INSERT INTO customer_erasures (org_id, id, customer_id, erased_by_user_id,
                                   erased_by_api_key_id, counts)
    VALUES (org, gen_random_uuid(), p_customer, app_user(), app_api_key(), n)
    RETURNING * INTO receipt;
    PERFORM audit_append(org, app_user(), app_api_key(), 'customer.erased', 'customer',
                         p_customer, jsonb_build_object('counts', n), p_client_ip, p_request_id);
    RETURN NEXT receipt;
  END $$;
GRANT EXECUTE ON FUNCTION erase_customer(uuid, text, text) TO ochre_app;
