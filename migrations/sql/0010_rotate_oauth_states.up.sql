-- `ochre keys rotate` (running as the owner role) re-encrypts the PKCE
-- verifiers of OAuth connects in flight too.
CREATE POLICY oauth_states_owner_rotate ON oauth_states FOR ALL TO ochre_owner USING (true) WITH CHECK (true);
