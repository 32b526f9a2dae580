//! Reading an org's exported columns in one transaction: the caller opens
//! it (REPEATABLE READ, so every table is read at the same instant) as the
//! app role under RLS (`ExportWorkspace`) or as the owner role
//! (`ochre export`). Only the registry's exported columns are named in the
//! SELECT lists; secret columns are never read.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::{
    db::stmt,
    exports::{
        archive::{ExportError, MAX_ARCHIVE_BYTES, Snapshot, TableFile},
        registry::{Class, TABLES, TableSpec},
    },
    ids::OrgId,
};

#[derive(Debug, FromQueryResult)]
struct Line {
    line: String,
}

#[derive(Debug, FromQueryResult)]
struct Now {
    at: DateTime<Utc>,
}

/// The statement that reads one table's exported columns as JSON lines
/// (`None`: the table has no exported column). Names come from the
/// registry, never from input.
pub fn select_sql(spec: &TableSpec) -> Option<String> {
    let fields: Vec<String> = spec
        .exported()
        .map(|(c, class)| match class {
            Class::Bytes => format!("'{c}', translate(encode({c}, 'base64'), E'\\n', '')"),
            _ => format!("'{c}', {c}"),
        })
        .collect();
    if fields.is_empty() {
        return None;
    }
    Some(format!(
        "SELECT json_build_object({})::text AS line FROM {} WHERE {} = $1 ORDER BY {}",
        fields.join(", "),
        spec.name,
        spec.org_column,
        spec.order_by
    ))
}

/// Reads every exported table of `org` on `conn` (a REPEATABLE READ
/// transaction the caller opened).
pub async fn snapshot(conn: &impl ConnectionTrait, org: OrgId) -> Result<Snapshot, ExportError> {
    let time = Now::find_by_statement(stmt("SELECT now() AS at", []))
        .one(conn)
        .await?
        .map(|n| n.at)
        .ok_or(ExportError::Db(sea_orm::DbErr::RecordNotFound(
            "now()".into(),
        )))?;
    let mut total = 0usize;
    let mut tables = Vec::new();
    for spec in TABLES {
        let Some(sql) = select_sql(spec) else {
            continue;
        };
        let lines = Line::find_by_statement(stmt(&sql, [org.into()]))
            .all(conn)
            .await?;
        let mut ndjson = Vec::new();
        for l in &lines {
            ndjson.extend_from_slice(l.line.as_bytes());
            ndjson.push(b'\n');
        }
        total += ndjson.len();
        if total > MAX_ARCHIVE_BYTES {
            return Err(ExportError::TooLarge);
        }
        tables.push(TableFile {
            table: spec.name,
            columns: spec.exported().map(|(c, _)| c).collect(),
            rows: lines.len() as u64,
            ndjson,
        });
    }
    Ok(Snapshot { org, time, tables })
}
