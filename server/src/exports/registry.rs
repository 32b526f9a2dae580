//! The column classification registry: for every column of every tenant
//! table (each table of `public` with an `org_id` column, and `orgs`), what
//! an export does with it.
//!
//! - **Exported**: read and written to the archive (`Bytes`: a non-secret
//!   `bytea`, written as standard base64).
//! - **Secret**: never read by an export (vault ciphertext, token, key and
//!   proof hashes, TOTP and signing material, survey nonces, PKCE
//!   verifiers). Most are not even SELECTable by `ochre_app`.
//! - **Internal**: neither secret nor the org's data (transient sign-in
//!   state); not exported.
//!
//! `tests/tests/e2e/exports/registry.rs` compares this list with the
//! catalog of a migrated database: a column missing here, or named here
//! but gone from the schema, fails it, so no column slips into or out of
//! exports unnoticed. `users` is not a tenant table (an account belongs to
//! its person, not to an org; the app role reads only its own row):
//! `memberships` names the members by user id, and their names and emails
//! are left out.

/// What an export does with a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Exported as its JSON value (uuids, text, timestamps as RFC 3339,
    /// arrays, JSON).
    Exported,
    /// Exported; a `bytea` that is not secret, as standard base64.
    Bytes,
    /// Never exported: secret material.
    Secret,
    /// Never exported: internal state, not the org's data.
    Internal,
}

impl Class {
    /// Whether the export reads the column.
    pub fn exported(self) -> bool {
        matches!(self, Class::Exported | Class::Bytes)
    }
}

/// One tenant table.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    pub name: &'static str,
    /// The column that names the org (`org_id`, or `id` for `orgs`).
    pub org_column: &'static str,
    /// The primary key, the order of the rows in the file.
    pub order_by: &'static str,
    pub columns: &'static [(&'static str, Class)],
}

impl TableSpec {
    /// The columns an export reads, in table order.
    pub fn exported(&self) -> impl Iterator<Item = (&'static str, Class)> + '_ {
        self.columns.iter().copied().filter(|(_, c)| c.exported())
    }
}

use Class::{Bytes as B, Exported as E, Internal as I, Secret as S};

/// Every tenant table, in file order of the archive.
pub static TABLES: &[TableSpec] = &[
    TableSpec {
        name: "orgs",
        org_column: "id",
        order_by: "id",
        columns: &[
            ("id", E),
            ("name", E),
            ("created_at", E),
            ("deleted_at", E),
            ("purge_after", E),
            ("purge_started_at", E),
            ("ip_allowlist", E),
        ],
    },
    TableSpec {
        name: "memberships",
        org_column: "org_id",
        order_by: "user_id",
        columns: &[
            ("org_id", E),
            ("user_id", E),
            ("role", E),
            ("created_at", E),
        ],
    },
    TableSpec {
        name: "invitations",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("email", E),
            ("role", E),
            ("token_hash", S),
            ("invited_by", E),
            ("created_at", E),
            ("expires_at", E),
            ("accepted_at", E),
            ("accepted_by", E),
            ("revoked_at", E),
        ],
    },
    TableSpec {
        name: "api_keys",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("name", E),
            ("role", E),
            ("key_hash", S),
            ("prefix", E),
            ("created_by", E),
            ("created_at", E),
            ("last_used_at", E),
            ("revoked_at", E),
        ],
    },
    TableSpec {
        name: "customers",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("email", E),
            ("name", E),
            ("phone", E),
            ("custom_fields", E),
            ("stripe", E),
            ("hubspot", E),
            ("created_at", E),
            ("updated_at", E),
            ("ai_blocked_until", E),
            ("ai_block_count", E),
        ],
    },
    TableSpec {
        name: "conversations",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("customer_id", E),
            ("channel", E),
            ("subject", E),
            ("status", E),
            ("assignee_id", E),
            ("created_at", E),
            ("updated_at", E),
            ("last_message_at", E),
        ],
    },
    TableSpec {
        name: "customer_erasures",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("customer_id", E),
            ("erased_at", E),
            ("erased_by_user_id", E),
            ("erased_by_api_key_id", E),
            ("counts", E),
        ],
    },
    TableSpec {
        name: "messages",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("conversation_id", E),
            ("kind", E),
            ("body", E),
            ("author_user_id", E),
            ("author_api_key_id", E),
            ("mentions", E),
            ("attachments", E),
            ("created_at", E),
            ("guard_verdict", E),
            ("guard_categories", E),
            ("guard_rules_version", E),
        ],
    },
    TableSpec {
        name: "guard_flags",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("customer_id", E),
            ("message_id", E),
            ("verdict", E),
            ("categories", E),
            ("rules_version", E),
            ("created_at", E),
        ],
    },
    TableSpec {
        name: "integrations",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("provider", E),
            ("external_account", E),
            ("scopes", E),
            ("connected_by", E),
            ("connected_at", E),
            ("updated_at", E),
            ("token_expires_at", E),
        ],
    },
    TableSpec {
        name: "integration_secrets",
        org_column: "org_id",
        order_by: "integration_id, field",
        columns: &[
            ("org_id", E),
            ("integration_id", E),
            ("field", E),
            ("ciphertext", S),
            ("updated_at", E),
        ],
    },
    TableSpec {
        name: "oauth_states",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", I),
            ("id", I),
            ("nonce", S),
            ("user_id", I),
            ("provider", I),
            ("pkce_verifier", S),
            ("created_at", I),
            ("expires_at", I),
            ("used_at", I),
        ],
    },
    TableSpec {
        name: "webhook_events",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("integration_id", E),
            ("provider", E),
            ("delivery_id", E),
            ("event_type", E),
            ("signed_at", E),
            ("received_at", E),
            ("content_type", E),
            ("payload", B),
            ("payload_sha256", B),
        ],
    },
    TableSpec {
        name: "surveys",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("conversation_id", E),
            ("customer_id", E),
            ("agent_user_id", E),
            ("sent_by_user_id", E),
            ("sent_by_api_key_id", E),
            ("nonce", S),
            ("created_at", E),
            ("expires_at", E),
            ("revoked_at", E),
        ],
    },
    TableSpec {
        name: "survey_responses",
        org_column: "org_id",
        order_by: "survey_id",
        columns: &[
            ("org_id", E),
            ("survey_id", E),
            ("score", E),
            ("comment", E),
            ("submitted_at", E),
        ],
    },
    TableSpec {
        name: "budgets",
        org_column: "org_id",
        order_by: "kind",
        columns: &[
            ("org_id", E),
            ("kind", E),
            ("limit_amount", E),
            ("period", E),
            ("period_start", E),
            ("spent", E),
            ("reserved", E),
            ("overrun", E),
            ("updated_at", E),
        ],
    },
    TableSpec {
        name: "budget_reservations",
        org_column: "org_id",
        order_by: "id",
        columns: &[
            ("org_id", E),
            ("id", E),
            ("kind", E),
            ("idempotency_key", E),
            ("customer_id", E),
            ("amount", E),
            ("state", E),
            ("actual_amount", E),
            ("charged_amount", E),
            ("created_by_user_id", E),
            ("created_by_api_key_id", E),
            ("created_at", E),
            ("expires_at", E),
            ("closed_at", E),
        ],
    },
    // Retry bookkeeping of idempotent creates (kept 24 hours): not the
    // org's data; the kept answers are sealed and may hold secrets.
    TableSpec {
        name: "request_ids",
        org_column: "org_id",
        order_by: "caller_id, method, request_id",
        columns: &[
            ("org_id", I),
            ("caller_id", I),
            ("method", I),
            ("request_id", I),
            ("response", S),
            ("customer_id", I),
            ("conversation_id", I),
            ("created_at", I),
        ],
    },
    TableSpec {
        name: "audit_log",
        org_column: "org_id",
        order_by: "seq",
        columns: &[
            ("org_id", E),
            ("seq", E),
            ("id", E),
            ("occurred_at", E),
            ("actor_user_id", E),
            ("actor_api_key_id", E),
            ("action", E),
            ("target_type", E),
            ("target_id", E),
            ("detail", E),
            ("client_ip", E),
            ("request_id", E),
            ("prev_hash", B),
            ("hash", B),
        ],
    },
    TableSpec {
        name: "audit_checkpoints",
        org_column: "org_id",
        order_by: "seq",
        columns: &[
            ("org_id", E),
            ("seq", E),
            ("head_hash", B),
            ("prev_signature", B),
            ("key_id", E),
            ("signature", B),
            ("created_at", E),
        ],
    },
];
