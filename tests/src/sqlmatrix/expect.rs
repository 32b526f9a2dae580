//! What the SQL matrix expects of each table, per statement kind: which
//! roles the grants and policies let through. A table not named here
//! (a new one) gets the default: members read, owners, admins and agents
//! write, nobody deletes.

const MEMBERS: Access = Access::Roles(&["owner", "admin", "agent", "light_agent"]);
const WRITERS: Access = Access::Roles(&["owner", "admin", "agent"]);
const ADMINS: Access = Access::Roles(&["owner", "admin"]);

/// What the app role may do with one statement kind on one table.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// No grant to `ochre_app`: "permission denied" for everyone.
    NotGranted,
    /// Granted; the policies let these roles through, in their own org only.
    Roles(&'static [&'static str]),
    /// Granted to signed-in members with these roles, on their OWN rows
    /// (`user_id` = the caller); never to API keys.
    UsersOnly(&'static [&'static str]),
}

/// The expectation of one table, per statement kind.
#[derive(Debug, Clone, Copy)]
pub struct TablePolicy {
    pub select: Access,
    pub insert: Access,
    pub update: Access,
    pub delete: Access,
}

/// The policy expectation of `table`. Tenant data (and any NEW table) gets
/// the default: members read, owners/admins/agents write, nobody deletes.
pub fn expected_policy(table: &str) -> TablePolicy {
    use Access::NotGranted;
    match table {
        // Written only through the SECURITY DEFINER functions.
        "memberships" => TablePolicy {
            select: MEMBERS,
            insert: NotGranted,
            update: NotGranted,
            delete: NotGranted,
        },
        // UPDATE is limited to revoked_at; the matrix updates that column.
        // Only people create keys and invitations (never an API key).
        "api_keys" | "invitations" => TablePolicy {
            select: ADMINS,
            insert: Access::UsersOnly(&["owner", "admin"]),
            update: ADMINS,
            delete: NotGranted,
        },
        // Members read the metadata (never the ciphertext column); owners
        // and admins store and delete tokens; a token is replaced, not updated.
        "integration_secrets" => TablePolicy {
            select: MEMBERS,
            insert: ADMINS,
            update: NotGranted,
            delete: ADMINS,
        },
        // UPDATE is limited to external_account, scopes, updated_at.
        "integrations" => TablePolicy {
            select: MEMBERS,
            insert: ADMINS,
            update: ADMINS,
            delete: ADMINS,
        },
        // Append-only: owners and admins read it, every member's action
        // appends to it, nobody rewrites it.
        // Written only by definer functions (record_audit, ...).
        "audit_log" => TablePolicy {
            select: ADMINS,
            insert: NotGranted,
            update: NotGranted,
            delete: NotGranted,
        },
        // Signed checkpoints of the audit chain: stored only by
        // record_audit_checkpoint() (the server's signer); owners and
        // admins read them.
        "audit_checkpoints" => TablePolicy {
            select: ADMINS,
            insert: NotGranted,
            update: NotGranted,
            delete: NotGranted,
        },
        // A started OAuth flow belongs to the owner/admin who started it;
        // using it is the only update.
        "oauth_states" => TablePolicy {
            select: Access::UsersOnly(&["owner", "admin"]),
            insert: Access::UsersOnly(&["owner", "admin"]),
            update: Access::UsersOnly(&["owner", "admin"]),
            delete: NotGranted,
        },
        // Stored only by record_webhook_event() after a signature verified;
        // owners, admins and agents read them.
        "webhook_events" => TablePolicy {
            select: Access::Roles(&["owner", "admin", "agent"]),
            insert: NotGranted,
            update: NotGranted,
            delete: NotGranted,
        },
        // Answers are stored only by submit_survey_response() (the public
        // gate); every member reads them.
        "survey_responses" => TablePolicy {
            select: MEMBERS,
            insert: NotGranted,
            update: NotGranted,
            delete: NotGranted,
        },
        // Sent by writers; revoking (revoked_at) is the only update.
        "surveys" => TablePolicy {
            select: MEMBERS,
            insert: WRITERS,
            update: WRITERS,
            delete: NotGranted,
        },
        // Erasure receipts: stored only by erase_customer(); owners and
        // admins read them.
        "customer_erasures" => TablePolicy {
            select: ADMINS,
            insert: NotGranted,
            update: NotGranted,
            delete: NotGranted,
        },
        // Budgets and their reservations: written only by the budget
        // definer functions (set_budget, reserve_budget, ...), which take the
        // budget row's lock; owners and admins read them.
        "budgets" | "budget_reservations" => TablePolicy {
            select: ADMINS,
            insert: NotGranted,
            update: NotGranted,
            delete: NotGranted,
        },
        // The answers of idempotent creates: claimed and kept only by
        // claim_request_id() and record_request_id(), for the verified caller.
        "request_ids" => TablePolicy {
            select: Access::NotGranted,
            insert: Access::NotGranted,
            update: Access::NotGranted,
            delete: Access::NotGranted,
        },
        // Input-guard flags: recorded only by the messages_guard_flag
        // trigger (a definer function); every member reads them.
        "guard_flags" => TablePolicy {
            select: MEMBERS,
            insert: NotGranted,
            update: NotGranted,
            delete: NotGranted,
        },
        // Immutable.
        "messages" => TablePolicy {
            select: MEMBERS,
            insert: WRITERS,
            update: NotGranted,
            delete: NotGranted,
        },
        _ => TablePolicy {
            select: MEMBERS,
            insert: WRITERS,
            update: WRITERS,
            delete: NotGranted,
        },
    }
}

/// One statement kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Select,
    Insert,
    Update,
    Delete,
}

impl Op {
    pub const ALL: [Op; 4] = [Op::Select, Op::Insert, Op::Update, Op::Delete];

    pub fn access(self, p: &TablePolicy) -> Access {
        match self {
            Op::Select => p.select,
            Op::Insert => p.insert,
            Op::Update => p.update,
            Op::Delete => p.delete,
        }
    }
}
