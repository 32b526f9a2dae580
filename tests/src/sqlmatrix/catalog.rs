//! What the matrix reads from the catalog: the tenant tables, which of them
//! have no seed rows, a fresh row for a table, and the columns an UPDATE or
//! INSERT cell writes.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use uuid::Uuid;

/// Quotes an identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(super) fn stmt(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

pub(super) async fn strings(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Vec<String> {
    db.query_all_raw(stmt(sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("text column"))
        .collect()
}

/// Every table of schema `public` with an `org_id` column, sorted.
pub async fn tenant_tables(db: &impl ConnectionTrait) -> Vec<String> {
    strings(
        db,
        "SELECT c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped \
         WHERE c.relkind IN ('r', 'p') ORDER BY 1",
        vec![],
    )
    .await
}

/// Every base table of schema `public` (tenant tables and the identity
/// tables without an `org_id`), sorted.
pub async fn public_tables(db: &impl ConnectionTrait) -> Vec<String> {
    strings(
        db,
        "SELECT c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' \
         WHERE c.relkind IN ('r', 'p') ORDER BY 1",
        vec![],
    )
    .await
}

/// The tenant tables without a row for each of `orgs` (as superuser).
pub async fn unseeded_tables(su: &impl ConnectionTrait, orgs: &[Uuid]) -> Vec<String> {
    let mut missing = Vec::new();
    for t in tenant_tables(su).await {
        let sql = format!(
            "SELECT count(DISTINCT org_id) AS n FROM {} WHERE org_id = ANY($1)",
            ident(&t)
        );
        let row = su.query_one_raw(stmt(&sql, vec![orgs.to_vec().into()]));
        let n: i64 = row
            .await
            .ok()
            .flatten()
            .and_then(|r| r.try_get("", "n").ok())
            .expect("count");
        if n != orgs.len() as i64 {
            missing.push(t);
        }
    }
    missing
}

/// One of `org`'s rows of `table` as JSON (as superuser), with a fresh value
/// in every column of a unique index other than `org_id` (unless it is a
/// foreign key), so that inserting it again conflicts with nothing.
pub async fn fresh_row(su: &impl ConnectionTrait, table: &str, org: Uuid) -> serde_json::Value {
    let sql = format!(
        "SELECT to_jsonb(t) AS j FROM {} t WHERE org_id = $1 ORDER BY ctid LIMIT 1",
        ident(table)
    );
    let row = su
        .query_one_raw(stmt(&sql, vec![org.into()]))
        .await
        .expect("sample row");
    let row = row.unwrap_or_else(|| panic!("{table} has no seed row for {org}"));
    let mut json: serde_json::Value = row.try_get("", "j").expect("row as json");
    let unique = su
        .query_all_raw(stmt(
            "SELECT DISTINCT a.attname::text AS col, a.atttypid::regtype::text AS typ \
             FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
             WHERE i.indrelid = $1::regclass AND i.indisunique AND a.attname <> 'org_id' \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.conrelid = i.indrelid \
                               AND f.contype = 'f' AND a.attnum = ANY (f.conkey))",
            vec![format!("public.{}", ident(table)).into()],
        ))
        .await
        .expect("unique columns");
    // Short enough for the length checks of names (provider: 40).
    let suffix = Uuid::new_v4().simple().to_string()[..12].to_owned();
    for r in unique {
        let (col, typ): (String, String) = (
            r.try_get("", "col").expect("col"),
            r.try_get("", "typ").expect("typ"),
        );
        let fresh = match typ.as_str() {
            "uuid" => serde_json::json!(Uuid::now_v7()),
            "text" => serde_json::json!(format!("{}.{suffix}", json[&col].as_str().unwrap_or(""))),
            // As long as the seeded value (length checks).
            "bytea" => {
                let hex_len = json[&col]
                    .as_str()
                    .map_or(64, |v| v.len().saturating_sub(2));
                let random: String = (0..hex_len.div_ceil(32))
                    .map(|_| Uuid::new_v4().simple().to_string())
                    .collect();
                serde_json::json!(format!("\\x{}", &random[..hex_len]))
            }
            _ => continue, // the insert reports the conflict
        };
        json[&col] = fresh;
    }
    json
}

/// The column of `table` to touch in the UPDATE cell: one `ochre_app` may
/// update (`updated_at` when it can), else `org_id` (refused).
pub async fn update_column(su: &impl ConnectionTrait, table: &str) -> String {
    let cols = su
        .query_all_raw(stmt(
            "SELECT a.attname::text AS col, a.atttypid = 'timestamptz'::regtype AS ts FROM pg_attribute a \
             WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \
               AND has_column_privilege('ochre_app', a.attrelid, a.attnum, 'UPDATE') \
             ORDER BY a.attname <> 'updated_at', a.attname",
            vec![format!("public.{}", ident(table)).into()],
        ))
        .await
        .expect("updatable columns");
    // A timestamp is set to itself, or to now() when unset: so a one-way
    // column such as revoked_at is exercised by a real revocation.
    match cols.first() {
        Some(r) => {
            let c = ident(&r.try_get::<String>("", "col").expect("col"));
            if r.try_get::<bool>("", "ts").expect("ts") {
                format!("{c} = coalesce({c}, now())")
            } else {
                format!("{c} = {c}")
            }
        }
        None => "org_id = org_id".to_owned(),
    }
}

/// The columns `ochre_app` may insert into `table` (all of them when it may
/// insert none, so that the INSERT is refused for the privilege); generated
/// columns never take a value.
pub async fn insert_columns(su: &impl ConnectionTrait, table: &str) -> Vec<String> {
    let all = |privilege: &str| {
        format!(
            "SELECT a.attname::text FROM pg_attribute a \
             WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \
               AND a.attgenerated = '' {privilege} \
             ORDER BY a.attnum"
        )
    };
    let target = || vec![format!("public.{}", ident(table)).into()];
    let granted = strings(
        su,
        &all("AND has_column_privilege('ochre_app', a.attrelid, a.attnum, 'INSERT')"),
        target(),
    )
    .await;
    if granted.is_empty() {
        strings(su, &all(""), target()).await
    } else {
        granted
    }
}
