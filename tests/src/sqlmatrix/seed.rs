//! Seed data for the SQL matrix: two orgs with a caller of every kind and rows
//! in every tenant table.

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{KEY_ROLES, ROLES, Settings};

/// A seeded org: its members by role and its API keys by role.
#[derive(Debug, Clone)]
pub struct SeedOrg {
    pub id: Uuid,
    pub users: Vec<(&'static str, Uuid)>,
    pub keys: Vec<(&'static str, Uuid)>,
}

impl SeedOrg {
    /// Every caller of this org: `(label, role, settings in this org)`.
    pub fn callers(&self) -> Vec<(String, &'static str, Settings)> {
        let users = self.users.iter().map(|&(role, u)| {
            let s = Settings {
                org: Some(self.id),
                user: Some(u),
                api_key: None,
            };
            (role.to_owned(), role, s)
        });
        let keys = self.keys.iter().map(|&(role, k)| {
            let s = Settings {
                org: Some(self.id),
                user: None,
                api_key: Some(k),
            };
            (format!("{role} key"), role, s)
        });
        users.chain(keys).collect()
    }

    pub fn user(&self, role: &str) -> Uuid {
        self.users
            .iter()
            .find(|(r, _)| *r == role)
            .expect("seeded role")
            .1
    }
}

/// Seeds (as superuser) an org with a member and an API key of each role
/// and rows in every current tenant table. Each member has a live session
/// and each key a known secret ([`crate::caller::Credential::seeded_user`],
/// [`crate::caller::Credential::seeded_key`]), so the matrix becomes a
/// caller the only way the app role can: through the identity call. A new tenant table needs its
/// seed rows here; [`unseeded_tables`] names the tables that lack them.
pub async fn seed_org(su: &impl ConnectionTrait, name: &str) -> SeedOrg {
    let org = Uuid::now_v7();
    let users: Vec<_> = ROLES.iter().map(|&r| (r, Uuid::now_v7())).collect();
    let keys: Vec<_> = KEY_ROLES.iter().map(|&r| (r, Uuid::now_v7())).collect();
    let seed = SeedOrg {
        id: org,
        users,
        keys,
    };
    let (owner, agent, admin) = (seed.user("owner"), seed.user("agent"), seed.user("admin"));
    let hash = "decode(md5(random()::text) || md5(random()::text), 'hex')";
    let mut sql = format!("INSERT INTO orgs (id, name) VALUES ('{org}', '{name}');");
    for (role, u) in &seed.users {
        sql += &format!(
            "INSERT INTO users (id, email, password_hash) VALUES ('{u}', '{u}@example.com', 'x'); \
             INSERT INTO memberships (org_id, user_id, role) VALUES ('{org}', '{u}', '{role}'); {}",
            crate::caller::seed_session_sql(*u)
        );
    }
    for (role, k) in &seed.keys {
        sql += &format!(
            "INSERT INTO api_keys (org_id, id, name, role, key_hash, prefix, created_by) \
             VALUES ('{org}', '{k}', '{role} key', '{role}', \
                     sha256(convert_to('{secret}', 'UTF8')), 'ochre_', '{owner}');",
            secret = crate::caller::seeded_key_secret(*k)
        );
    }
    let (c1, c2, v1, v2) = (
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
        Uuid::now_v7(),
    );
    let (m1, m2, i1) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let g1 = Uuid::now_v7();
    let (o1, o2) = (Uuid::now_v7(), Uuid::now_v7());
    let (w1, w2) = (Uuid::now_v7(), Uuid::now_v7());
    let (s1, s2) = (Uuid::now_v7(), Uuid::now_v7());
    sql += &format!(
        "INSERT INTO invitations (org_id, id, email, role, token_hash, invited_by, expires_at) \
           VALUES ('{org}', '{i1}', 'invitee-{i1}@example.com', 'agent', {hash}, '{owner}', now() + interval '7 days'); \
         INSERT INTO customers (org_id, id, email, name) VALUES \
           ('{org}', '{c1}', 'ada-{c1}@example.com', 'Ada'), ('{org}', '{c2}', 'bob-{c2}@example.com', 'Bob'); \
         INSERT INTO conversations (org_id, id, customer_id, channel, subject, status, assignee_id) VALUES \
           ('{org}', '{v1}', '{c1}', 'email', 'Refund', 'open', '{agent}'), \
           ('{org}', '{v2}', '{c2}', 'chat', 'Login', 'pending', NULL); \
         INSERT INTO messages (org_id, id, conversation_id, kind, body, author_user_id, \
                               guard_verdict, guard_rules_version) VALUES \
           ('{org}', '{m1}', '{v1}', 'inbound_email', 'Where is my refund?', NULL, 'allow', 'v1.0'), \
           ('{org}', '{m2}', '{v1}', 'outbound_reply', 'On its way.', '{agent}', NULL, NULL); \
         INSERT INTO integrations (org_id, id, provider, external_account, scopes, connected_by) \
           VALUES ('{org}', '{g1}', 'slack', 'T0123', '{{chat:write}}', '{owner}'); \
         INSERT INTO integration_secrets (org_id, integration_id, field, ciphertext) \
           VALUES ('{org}', '{g1}', 'access_token', decode(repeat('ab', 60), 'hex')); \
         SELECT audit_append('{org}', '{owner}', NULL, 'integration.connected', 'integration', \
                             '{g1}', '{{}}', '127.0.0.1', 'seed'); \
         INSERT INTO audit_checkpoints (org_id, seq, head_hash, prev_signature, key_id, signature) \
           SELECT org_id, seq, hash, ''::bytea, 'seed', decode(repeat('ab', 64), 'hex') \
             FROM audit_log WHERE org_id = '{org}'; \
         INSERT INTO oauth_states (org_id, id, nonce, user_id, provider, pkce_verifier, expires_at) VALUES \
           ('{org}', '{o1}', 'nonce-{o1}', '{owner}', 'github', decode(repeat('cd', 60), 'hex'), now() + interval '10 minutes'), \
           ('{org}', '{o2}', 'nonce-{o2}', '{admin}', 'github', decode(repeat('cd', 60), 'hex'), now() + interval '10 minutes'); \
         INSERT INTO webhook_events (org_id, id, integration_id, provider, delivery_id, event_type, payload) VALUES \
           ('{org}', '{w1}', '{g1}', 'slack', 'Ev-{w1}', 'message', '{{}}'), \
           ('{org}', '{w2}', '{g1}', 'slack', 'Ev-{w2}', 'message', '{{}}'); \
         INSERT INTO surveys (org_id, id, conversation_id, customer_id, agent_user_id, \
                              sent_by_user_id, nonce, expires_at, revoked_at) VALUES \
           ('{org}', '{s1}', '{v1}', '{c1}', '{agent}', '{agent}', {nonce}, now() + interval '7 days', now()), \
           ('{org}', '{s2}', '{v2}', '{c2}', NULL, '{owner}', {nonce}, now() + interval '7 days', NULL); \
         INSERT INTO survey_responses (org_id, survey_id, score, comment) \
           VALUES ('{org}', '{s1}', 5, 'Quick and kind.'); \
         INSERT INTO customer_erasures (org_id, id, customer_id, erased_by_user_id, counts) VALUES \
           ('{org}', gen_random_uuid(), gen_random_uuid(), '{admin}', '{{\"customers\": 1}}'), \
           ('{org}', gen_random_uuid(), gen_random_uuid(), '{owner}', '{{\"customers\": 1}}'); \
         INSERT INTO budgets (org_id, kind, limit_amount, period, period_start, spent, reserved) VALUES \
           ('{org}', 'ai_cost', 1000000, 'month', date_trunc('month', now(), 'UTC'), 1000, 600), \
           ('{org}', 'emails_sent', NULL, 'day', date_trunc('day', now(), 'UTC'), 3, 0); \
         INSERT INTO budget_reservations (org_id, id, kind, idempotency_key, customer_id, amount, \
                                          created_by_user_id, expires_at) VALUES \
           ('{org}', gen_random_uuid(), 'ai_cost', 'req-{c1}', '{c1}', 500, '{agent}', now() + interval '15 minutes'), \
           ('{org}', gen_random_uuid(), 'ai_cost', 'req-{c2}', NULL, 100, '{owner}', now() + interval '15 minutes'); \
         INSERT INTO guard_flags (org_id, id, customer_id, message_id, verdict, categories, rules_version) VALUES \
           ('{org}', gen_random_uuid(), '{c1}', '{m1}', 'flag', '{{instruction_override}}', 'v1.0'), \
           ('{org}', gen_random_uuid(), '{c2}', NULL, 'block', '{{data_exfiltration}}', 'v1.0'); \
         INSERT INTO request_ids (org_id, caller_id, method, request_id, response, customer_id) VALUES \
           ('{org}', '{agent}', 'UpsertCustomer', 'req-{c1}', '\\x00', '{c1}'), \
           ('{org}', '{owner}', 'CreateApiKey', 'req-{c2}', '\\x00', NULL);",
        nonce = "decode(md5(random()::text), 'hex')"
    );
    su.execute_unprepared(&sql)
        .await
        .unwrap_or_else(|e| panic!("seed {name}: {e}"));
    seed
}
