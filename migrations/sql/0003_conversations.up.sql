-- Conversations and customers: the data the seeds protect first.
--
-- Every table is keyed by (org_id, id) with UUIDv7 ids, and every hot query
-- is served by an index that starts with org_id. Members read (any member
-- or API key of the org); owners, admins and agents write (checked against
-- app_role(), i.e. CURRENT membership data); light agents have no write
-- path. Nothing is deleted by the app role: erasure is a gated path of its
-- own.

CREATE TABLE customers (
  org_id        uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id            uuid        NOT NULL,
  email         text        NOT NULL CHECK (email = lower(email) AND char_length(email) BETWEEN 3 AND 254),
  name          text        NOT NULL DEFAULT '' CHECK (char_length(name) <= 200),
  phone         text        NOT NULL DEFAULT '' CHECK (char_length(phone) <= 50),
  custom_fields jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
  stripe        jsonb       CHECK (stripe IS NULL OR jsonb_typeof(stripe) = 'object'),
  hubspot       jsonb       CHECK (hubspot IS NULL OR jsonb_typeof(hubspot) = 'object'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  CONSTRAINT customers_email_key UNIQUE (org_id, email)
);
ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
-- `ochre export` only: a login AS the owner role (not a definer function
-- called by another role) that named the org in `ochre.export_org`.
CREATE POLICY customers_owner_export ON customers FOR SELECT TO ochre_owner
  USING (session_user = 'ochre_owner'
         AND org_id::text = current_setting('ochre.export_org', true));
CREATE POLICY customers_read ON customers FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org()));
CREATE POLICY customers_insert ON customers FOR INSERT TO ochre_app
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent'])));
CREATE POLICY customers_update ON customers FOR UPDATE TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent'])))
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent'])));
GRANT SELECT, INSERT, UPDATE ON customers TO ochre_app;

CREATE TABLE conversations (
  org_id          uuid        NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  id              uuid        NOT NULL,
  customer_id     uuid        NOT NULL,
  channel         text        NOT NULL CHECK (channel IN ('email', 'chat', 'slack')),
  subject         text        NOT NULL DEFAULT '' CHECK (char_length(subject) <= 500),
  status          text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'pending', 'closed')),
  assignee_id     uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  last_message_at timestamptz,
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, customer_id) REFERENCES customers (org_id, id) ON DELETE CASCADE,
  -- The assignee is a member of the SAME org, by construction.
  FOREIGN KEY (org_id, assignee_id) REFERENCES memberships (org_id, user_id)
    ON DELETE SET NULL (assignee_id)
);
CREATE INDEX conversations_status_idx ON conversations (org_id, status, id DESC);
CREATE INDEX conversations_assignee_idx ON conversations (org_id, assignee_id, id DESC);
CREATE INDEX conversations_customer_idx ON conversations (org_id, customer_id);
ALTER TABLE conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversations FORCE ROW LEVEL SECURITY;
-- `ochre export` only: a login AS the owner role (not a definer function
-- called by another role) that named the org in `ochre.export_org`.
CREATE POLICY conversations_owner_export ON conversations FOR SELECT TO ochre_owner
  USING (session_user = 'ochre_owner'
         AND org_id::text = current_setting('ochre.export_org', true));
CREATE POLICY conversations_read ON conversations FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org()));
CREATE POLICY conversations_insert ON conversations FOR INSERT TO ochre_app
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent'])));
CREATE POLICY conversations_update ON conversations FOR UPDATE TO ochre_app
  USING (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent'])))
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent'])));
GRANT SELECT, INSERT, UPDATE (status, assignee_id, subject, updated_at, last_message_at)
  ON conversations TO ochre_app;

-- Messages are immutable: no UPDATE for anyone. A message's author is the
-- caller (or nobody, for inbound messages).
CREATE TABLE messages (
  org_id            uuid        NOT NULL,
  id                uuid        NOT NULL,
  conversation_id   uuid        NOT NULL,
  kind              text        NOT NULL CHECK (kind IN
                      ('inbound_email', 'inbound_chat', 'outbound_reply', 'internal_note', 'ai_draft')),
  body              text        NOT NULL CHECK (octet_length(body) BETWEEN 1 AND 65536),
  author_user_id    uuid,
  author_api_key_id uuid,
  mentions          uuid[]      NOT NULL DEFAULT '{}' CHECK (cardinality(mentions) <= 50),
  attachments       jsonb       NOT NULL DEFAULT '[]'
                      CHECK (jsonb_typeof(attachments) = 'array' AND jsonb_array_length(attachments) <= 20),
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, id),
  FOREIGN KEY (org_id, conversation_id) REFERENCES conversations (org_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_conversation_idx ON messages (org_id, conversation_id, id);
ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
-- `ochre export` only: a login AS the owner role (not a definer function
-- called by another role) that named the org in `ochre.export_org`.
CREATE POLICY messages_owner_export ON messages FOR SELECT TO ochre_owner
  USING (session_user = 'ochre_owner'
         AND org_id::text = current_setting('ochre.export_org', true));
CREATE POLICY messages_read ON messages FOR SELECT TO ochre_app
  USING (org_id = (SELECT app_org()));
CREATE POLICY messages_insert ON messages FOR INSERT TO ochre_app
  WITH CHECK (org_id = (SELECT app_org_as(ARRAY['owner', 'admin', 'agent']))
              AND (author_user_id IS NULL OR author_user_id = (SELECT app_user()))
              AND (author_api_key_id IS NULL OR author_api_key_id = (SELECT app_api_key())));
GRANT SELECT, INSERT ON messages TO ochre_app;
