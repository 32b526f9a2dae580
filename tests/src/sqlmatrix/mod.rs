//! The SQL-level isolation matrix: every tenant table (every table of schema
//! `public` with an `org_id` column, found in the catalog at run time) ×
//! callers × contexts × SELECT/INSERT/UPDATE/DELETE, run as `ochre_app` in
//! rolled-back transactions, each cell holding what row-level security and
//! the grants must answer. A new table is covered without editing the logic:
//! it gets the default expectation and must be given seed rows.

use std::fmt;

mod catalog;
mod expect;
mod seed;
use catalog::stmt;
pub use catalog::{
    fresh_row, ident, insert_columns, public_tables, tenant_tables, unseeded_tables, update_column,
};
pub use expect::{Access, Op, TablePolicy, expected_policy};
pub use seed::{SeedOrg, seed_org};

use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait as _, Value};

use crate::caller::Credential;
use uuid::Uuid;

/// The member roles, strongest first.
pub const ROLES: [&str; 4] = ["owner", "admin", "agent", "light_agent"];
/// The roles an API key can carry.
pub const KEY_ROLES: [&str; 3] = ["admin", "agent", "light_agent"];

/// The caller of one transaction: a seeded member (by user id) or API key,
/// and the org it asks to act in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Settings {
    pub org: Option<Uuid>,
    pub user: Option<Uuid>,
    pub api_key: Option<Uuid>,
}

/// What a statement answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// SELECT: rows of the target org, and rows of any other org, visible.
    Seen {
        target: i64,
        others: i64,
    },
    Affected(u64),
    PermissionDenied,
    RlsViolation,
    Error(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Seen { target, others } => write!(f, "seen {target}+{others}"),
            Outcome::Affected(n) => write!(f, "rows {n}"),
            Outcome::PermissionDenied => f.write_str("denied"),
            Outcome::RlsViolation => f.write_str("rls-violation"),
            Outcome::Error(e) => write!(f, "ERROR {e}"),
        }
    }
}

/// What a cell must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// SELECT: some rows of the target org and none of another.
    SeesOnlyOwn,
    /// SELECT: no row of the target org.
    SeesNone,
    /// INSERT/UPDATE: at least one row written.
    Writes,
    /// UPDATE/DELETE: zero rows, no error.
    WritesNothing,
    PermissionDenied,
    RlsViolation,
}

impl Expect {
    /// The expectation for `op` by a caller of `role` under `policy`;
    /// `own` is whether the target rows belong to the caller's org.
    pub fn of(policy: &TablePolicy, op: Op, role: &str, own: bool, key: bool) -> Expect {
        let access = match op.access(policy) {
            Access::UsersOnly(_) if key => Access::Roles(&[]),
            Access::UsersOnly(roles) => Access::Roles(roles),
            other => other,
        };
        match access {
            Access::NotGranted | Access::UsersOnly(_) => Expect::PermissionDenied,
            Access::Roles(roles) if own && roles.contains(&role) => match op {
                Op::Select => Expect::SeesOnlyOwn,
                _ => Expect::Writes,
            },
            Access::Roles(_) => match op {
                Op::Select => Expect::SeesNone,
                Op::Insert => Expect::RlsViolation,
                Op::Update | Op::Delete => Expect::WritesNothing,
            },
        }
    }

    pub fn matches(self, got: &Outcome) -> bool {
        match (self, got) {
            (Expect::SeesOnlyOwn, Outcome::Seen { target, others }) => *target > 0 && *others == 0,
            (Expect::SeesNone, Outcome::Seen { target, .. }) => *target == 0,
            (Expect::Writes, Outcome::Affected(n)) => *n > 0,
            (Expect::WritesNothing, Outcome::Affected(n)) => *n == 0,
            (Expect::PermissionDenied, Outcome::PermissionDenied)
            | (Expect::RlsViolation, Outcome::RlsViolation) => true,
            _ => false,
        }
    }
}

/// The row as `s` would write it: columns that name the acting user or API
/// key (`actor_*`, `author_*`, `created_by`, `invited_by`, `connected_by`)
/// name the caller, and a per-user row
/// (`user_id`) is the signed-in caller's own.
pub fn as_written_by(row: &serde_json::Value, s: Settings) -> serde_json::Value {
    let mut row = row.clone();
    if let Some(obj) = row.as_object_mut() {
        if let (Some(user), true) = (s.user, obj.contains_key("user_id")) {
            obj.insert("user_id".to_owned(), serde_json::json!(user));
        }
        for (col, who) in [
            ("actor_user_id", s.user),
            ("author_user_id", s.user),
            ("created_by", s.user),
            ("invited_by", s.user),
            ("connected_by", s.user),
            ("sent_by_user_id", s.user),
            ("sent_by_api_key_id", s.api_key),
            ("actor_api_key_id", s.api_key),
            ("author_api_key_id", s.api_key),
        ] {
            if obj.contains_key(col) {
                obj.insert(col.to_owned(), serde_json::json!(who));
            }
        }
    }
    row
}

/// Runs `sql` as the caller `s` in a transaction that is rolled back. A
/// statement starting with SELECT must return the `target` and `others`
/// counts.
pub async fn run(app: &DatabaseConnection, s: Settings, sql: &str, values: Vec<Value>) -> Outcome {
    let tx = app.begin().await.expect("begin");
    let credential = match (s.user, s.api_key) {
        (Some(u), _) => Some(Credential::seeded_user(u)),
        (None, Some(k)) => Some(Credential::seeded_key(k)),
        (None, None) => None,
    };
    if let Some(credential) = credential {
        // A caller asking for an org it has no role in is pinned by nobody.
        crate::caller::verify(&tx, &credential, s.org, "").await;
    }
    let outcome = run_in(&tx, sql, values).await;
    tx.rollback().await.ok();
    outcome
}

/// Runs `sql` in `tx` as whoever `tx` already is, and says what happened.
/// A statement starting with SELECT must return the `target` and `others`
/// counts.
pub async fn run_in(tx: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> Outcome {
    let result = if sql.starts_with("SELECT") {
        tx.query_one_raw(stmt(sql, values)).await.map(|r| {
            let r = r.expect("a count row");
            Outcome::Seen {
                target: r.try_get("", "target").expect("target"),
                others: r.try_get("", "others").expect("others"),
            }
        })
    } else {
        tx.execute_raw(stmt(sql, values))
            .await
            .map(|r| Outcome::Affected(r.rows_affected()))
    };
    result.unwrap_or_else(|e| {
        let e = e.to_string();
        if e.contains("violates row-level security policy") {
            Outcome::RlsViolation
        } else if e.contains("permission denied") {
            Outcome::PermissionDenied
        } else {
            Outcome::Error(e)
        }
    })
}

/// The statement of `op` on `table` against the rows of `target`: `row` is
/// the row INSERT writes (its `insert_cols`), `update_set` the assignment
/// UPDATE makes.
pub fn statement(
    op: Op,
    table: &str,
    target: Uuid,
    row: &serde_json::Value,
    insert_cols: &[String],
    update_set: &str,
) -> (String, Vec<Value>) {
    let t = ident(table);
    match op {
        Op::Select => (
            format!(
                "SELECT count(*) FILTER (WHERE org_id = $1) AS target, \
                        count(*) FILTER (WHERE org_id IS DISTINCT FROM $1) AS others FROM {t}"
            ),
            vec![target.into()],
        ),
        Op::Insert => {
            let cols: Vec<String> = insert_cols.iter().map(|c| ident(c)).collect();
            let cols = cols.join(", ");
            (
                format!(
                    "INSERT INTO {t} ({cols}) SELECT {cols} \
                     FROM jsonb_populate_record(NULL::{t}, $1::text::jsonb)"
                ),
                vec![row.to_string().into()],
            )
        }
        Op::Update => (
            format!("UPDATE {t} SET {update_set} WHERE org_id = $1"),
            vec![target.into()],
        ),
        Op::Delete => (
            format!("DELETE FROM {t} WHERE org_id = $1"),
            vec![target.into()],
        ),
    }
}
