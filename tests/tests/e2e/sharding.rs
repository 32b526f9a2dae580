//! Ready to shard by tenant (Citus's model): the schema lint. Every tenant
//! table (a table with an `org_id` column, found in the catalog, so a new
//! table is covered) keeps its primary key and unique constraints and
//! indexes led by `org_id`; every foreign key between two tenant tables
//! carries `org_id` on both sides; and every join to a tenant table in the
//! application's SQL and in the schema's functions matches on `org_id`.
//! Then each table can be distributed by `org_id` with its rows co-located.
//!
//! No key is global: API keys and invitation tokens name their org, a
//! webhook URL names its org, and request ids are claimed per org (README
//! "Scale"), so every lookup can be routed to its org's node.

use ochre_tests::{cluster::cluster, sqlmatrix::tenant_tables};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};

async fn database() -> DatabaseConnection {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    c.connect_superuser(&name).await
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<(String, String, String)> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
                r.try_get_by_index(2).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_unique_key_of_a_tenant_table_starts_with_org_id() {
    let db = database().await;
    let tenant = tenant_tables(&db).await;
    // Every unique index (primary keys and unique constraints have one):
    // table, index, first column.
    let keys = rows(
        &db,
        "SELECT t.relname::text, ix.relname::text, coalesce(a.attname::text, '(expression)') \
         FROM pg_index i \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public' \
         JOIN pg_class ix ON ix.oid = i.indexrelid \
         LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] \
         WHERE i.indisunique ORDER BY 2",
    )
    .await;
    assert!(
        keys.iter().any(|(t, _, _)| t == "conversations"),
        "the catalog query found the keys"
    );
    let offenders: Vec<&str> = keys
        .iter()
        .filter(|(t, _, col)| tenant.contains(t) && col != "org_id")
        .map(|(_, idx, _)| idx.as_str())
        .collect();
    assert_eq!(
        offenders,
        Vec::<&str>::new(),
        "a unique key of a tenant table must start with org_id"
    );
}

#[tokio::test]
async fn every_foreign_key_between_tenant_tables_matches_org_id_to_org_id() {
    let db = database().await;
    let tenant = tenant_tables(&db).await;
    // table, referenced table, and the column pairs as "col=refcol,...".
    let fks = rows(
        &db,
        "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text, \
                string_agg(a.attname || '=' || r.attname, ',' ORDER BY k.n) \
         FROM pg_constraint c \
         JOIN pg_namespace ns ON ns.oid = c.connamespace AND ns.nspname = 'public' \
         CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(col, ref, n) \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col \
         JOIN pg_attribute r ON r.attrelid = c.confrelid AND r.attnum = k.ref \
         WHERE c.contype = 'f' GROUP BY c.oid, 1, 2 ORDER BY 1, 2",
    )
    .await;
    let between: Vec<_> = fks
        .iter()
        .filter(|(t, r, _)| tenant.contains(t) && tenant.contains(r))
        .collect();
    assert!(
        between
            .iter()
            .any(|(t, r, _)| t == "messages" && r == "conversations"),
        "the catalog query found the foreign keys: {fks:?}"
    );
    let offenders: Vec<String> = between
        .iter()
        .filter(|(_, _, pairs)| !pairs.split(',').any(|p| p == "org_id=org_id"))
        .map(|(t, r, pairs)| format!("{t} -> {r} ({pairs})"))
        .collect();
    assert_eq!(offenders, Vec::<String>::new());
}

/// Every `JOIN <table> [alias] ON <condition>` of `sql` (the text up to the
/// next clause), with whitespace folded.
fn joins(sql: &str) -> Vec<(String, String)> {
    let text = sql
        .replace("\\\n", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let upper = text.to_ascii_uppercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = upper[from..].find(" JOIN ") {
        let start = from + at + " JOIN ".len();
        from = start;
        let table = text[start..]
            .split([' ', '('])
            .next()
            .unwrap_or("")
            .trim_start_matches("public.")
            .to_owned();
        let rest = &upper[start..];
        let end = [
            " WHERE ",
            " JOIN ",
            " GROUP BY ",
            " ORDER BY ",
            " LIMIT ",
            ";",
            "\"",
            ")",
        ]
        .iter()
        .filter_map(|k| rest.find(k))
        .min()
        .unwrap_or(rest.len());
        out.push((table, text[start..start + end].to_owned()));
    }
    out
}

fn sources(dir: &std::path::Path, ext: &str, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path.display().to_string(), text));
        }
    }
}

#[tokio::test]
async fn every_join_to_a_tenant_table_matches_on_org_id() {
    let db = database().await;
    let tenant = tenant_tables(&db).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    sources(&root.join("server/src/db"), "rs", &mut files);
    sources(&root.join("server/src/exports"), "rs", &mut files);
    sources(&root.join("migrations/sql"), "sql", &mut files);
    let mut seen = 0;
    let mut offenders = Vec::new();
    for (path, text) in &files {
        for (table, join) in joins(text) {
            if !tenant.contains(&table) {
                continue;
            }
            seen += 1;
            if !join.contains("org_id") {
                offenders.push(format!("{path}: JOIN {join}"));
            }
        }
    }
    assert!(seen >= 5, "the lint found the joins ({seen})");
    assert_eq!(offenders, Vec::<String>::new());
}

#[test]
fn the_join_lint_reads_a_join_up_to_its_next_clause() {
    let sql = "SELECT 1 FROM surveys s JOIN survey_responses r \\\n   ON r.org_id = s.org_id \
               WHERE x LEFT JOIN users u ON u.id = s.by)";
    assert_eq!(
        joins(sql),
        vec![
            (
                "survey_responses".to_owned(),
                "survey_responses r ON r.org_id = s.org_id".to_owned()
            ),
            ("users".to_owned(), "users u ON u.id = s.by".to_owned()),
        ]
    );
}
