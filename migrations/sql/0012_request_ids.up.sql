-- Idempotent creates (AIP-155): a create carrying a `request_id` is
-- claimed for its verified caller before it acts, and the answer it gave is
-- kept (sealed by the server's vault: it can hold a new API key's secret,
-- an invitation or survey token, or a customer's details) for 24 hours, so
-- a retry with the same id gets the first answer and creates nothing.
--
-- Written and read only through the two definer functions below, for the
-- caller the identity call verified: the app role has no grant on the table.
CREATE TABLE request_ids (
  -- The org the create acted in (CreateOrg: the org it created, whose id
  -- the server derives from the caller and the request id, so a retry
  -- finds its claim under the same org; checked at commit, when that org
  -- exists). A request id is its caller's within one org.
  org_id          uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE
                              DEFERRABLE INITIALLY DEFERRED,
  -- The verified caller: a user, or an API key.
  caller_id       uuid        NOT NULL,
  method          text        NOT NULL CHECK (char_length(method) BETWEEN 1 AND 64),
  request_id      text        NOT NULL
                              CHECK (char_length(request_id) BETWEEN 1 AND 128
                                     AND request_id !~ '[\x01-\x20\x7f]'),
  -- The sealed answer (with a digest of the request); NULL only inside
  -- the transaction that claimed it.
  response        bytea,
  -- What the answer is about, so erasing the customer (or deleting the
  -- conversation) takes the kept answer with it.
  customer_id     uuid,
  conversation_id uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, caller_id, method, request_id),
  FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE,
  FOREIGN KEY (org_id, conversation_id) REFERENCES conversations (org_id, id) ON DELETE CASCADE
);
CREATE INDEX request_ids_created_idx ON request_ids (created_at);
CREATE INDEX request_ids_customer_idx ON request_ids (org_id, customer_id)
  WHERE customer_id IS NOT NULL;
CREATE INDEX request_ids_conversation_idx ON request_ids (org_id, conversation_id)
  WHERE conversation_id IS NOT NULL;
ALTER TABLE request_ids ENABLE ROW LEVEL SECURITY;
ALTER TABLE request_ids FORCE ROW LEVEL SECURITY;
CREATE POLICY request_ids_definer ON request_ids FOR ALL TO ochre_owner
  USING (true) WITH CHECK (true);
CREATE POLICY request_ids_purge ON request_ids FOR ALL TO ochre_owner
  USING (EXISTS (SELECT 1 FROM orgs o WHERE o.id = org_id AND o.purge_started_at IS NOT NULL))
  WITH CHECK (false);

-- Claims (p_method, p_request_id) for the verified caller, acting in
-- p_org (its verified org; for CreateOrg, the id of the org it is about to
-- create, derived from the caller and the request id). Returns claimed =
-- true when the create may go ahead, else the sealed answer of the first
-- call (a concurrent first call is waited for: the primary key's insert
-- blocks until it commits or rolls back). A claim older than 24 hours is
-- forgotten; a CreateOrg whose org exists without a kept claim is refused
-- as already done (unique_violation).
CREATE FUNCTION claim_request_id(p_method text, p_request_id text, p_org uuid)
  RETURNS TABLE (claimed boolean, response bytea)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    c caller := app_caller();
    who uuid := coalesce(c.user_id, c.api_key_id);
    org uuid := c.org_id;
  BEGIN
    IF who IS NULL THEN
      RAISE EXCEPTION 'a verified caller is required' USING ERRCODE = '42501';
    END IF;
    IF org IS NULL THEN
      -- Outside an org only a user creating an org.
      IF p_method <> 'CreateOrg' OR c.user_id IS NULL OR c.api_key_id IS NOT NULL
         OR p_org IS NULL THEN
        RAISE EXCEPTION 'permission denied' USING ERRCODE = '42501';
      END IF;
      org := p_org;
    ELSIF p_org IS DISTINCT FROM org OR p_method = 'CreateOrg' THEN
      RAISE EXCEPTION 'permission denied' USING ERRCODE = '42501';
    END IF;
    DELETE FROM request_ids r
     WHERE r.org_id = org AND r.caller_id = who AND r.method = p_method
       AND r.request_id = p_request_id AND r.created_at < now() - interval '24 hours';
    INSERT INTO request_ids AS r (org_id, caller_id, method, request_id)
    VALUES (org, who, p_method, p_request_id)
    ON CONFLICT DO NOTHING;
    IF FOUND THEN
      IF c.org_id IS NULL AND EXISTS (SELECT 1 FROM orgs o WHERE o.id = org) THEN
        -- A new claim for an org that exists: its creation was claimed
        -- more than 24 hours ago (or the id is not this caller's to claim).
        RAISE EXCEPTION 'an org was already created with this request id'
          USING ERRCODE = '23505';
      END IF;
      RETURN QUERY SELECT true, NULL::bytea;
      RETURN;
    END IF;
    RETURN QUERY SELECT false, r.response FROM request_ids r
     WHERE r.org_id = org AND r.caller_id = who AND r.method = p_method
       AND r.request_id = p_request_id;
  END $$;

-- Keeps the sealed answer of a create this transaction claimed in p_org.
CREATE FUNCTION record_request_id(p_org uuid, p_method text, p_request_id text,
                                  p_response bytea, p_customer uuid, p_conversation uuid)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE
    c caller := app_caller();
  BEGIN
    -- In an org, only that org; outside one (CreateOrg), the claim made in
    -- this transaction (its answer not kept yet) is the only row it finds.
    IF c.org_id IS NOT NULL AND p_org IS DISTINCT FROM c.org_id THEN
      RAISE EXCEPTION 'permission denied' USING ERRCODE = '42501';
    END IF;
    UPDATE request_ids r
       SET response = p_response, customer_id = p_customer, conversation_id = p_conversation
     WHERE r.org_id = p_org AND r.caller_id = coalesce(c.user_id, c.api_key_id)
       AND r.method = p_method AND r.request_id = p_request_id AND r.response IS NULL;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no claim of this request id' USING ERRCODE = '42501';
    END IF;
  END $$;
GRANT EXECUTE ON FUNCTION claim_request_id(text, text, uuid),
                          record_request_id(uuid, text, text, bytea, uuid, uuid)
  TO ochre_app;

-- The purge job forgets the answers kept longer than 24 hours.
CREATE FUNCTION sweep_request_ids() RETURNS int
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp
  AS $$
  DECLARE n int;
  BEGIN
    DELETE FROM request_ids WHERE created_at < now() - interval '24 hours';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
  END $$;
GRANT EXECUTE ON FUNCTION sweep_request_ids() TO ochre_service;
