//! The registry's drift check: the tenant columns of a migrated catalog
//! that [`registry::TABLES`](super::registry::TABLES) does not classify,
//! and those it names that the catalog lacks
//! (`tests/tests/e2e/exports/registry.rs`).

use crate::exports::registry::TABLES;

/// What the registry and the catalog disagree on: `table.column` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    /// In the catalog, not classified here.
    pub unclassified: Vec<String>,
    /// Classified here, not in the catalog.
    pub missing: Vec<String>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.unclassified.is_empty() && self.missing.is_empty()
    }
}

/// Compares the registry with the catalog's tenant columns
/// (`(table, column)` pairs of every tenant table).
pub fn drift(catalog: &[(String, String)]) -> Drift {
    let known: std::collections::BTreeSet<(String, String)> = TABLES
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .map(|(c, _)| (t.name.to_owned(), (*c).to_owned()))
        })
        .collect();
    let found: std::collections::BTreeSet<(String, String)> = catalog.iter().cloned().collect();
    Drift {
        unclassified: found
            .difference(&known)
            .map(|(t, c)| format!("{t}.{c}"))
            .collect(),
        missing: known
            .difference(&found)
            .map(|(t, c)| format!("{t}.{c}"))
            .collect(),
    }
}

/// The catalog query that lists every tenant column, for [`drift`]: every
/// column of every base table in `public` that has an `org_id` column,
/// and of `orgs`.
pub const CATALOG_QUERY: &str = "\
SELECT c.table_name::text AS table_name, c.column_name::text AS column_name \
  FROM information_schema.columns c \
  JOIN information_schema.tables t \
    ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
 WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' \
   AND (c.table_name = 'orgs' OR EXISTS ( \
        SELECT 1 FROM information_schema.columns o \
         WHERE o.table_schema = 'public' AND o.table_name = c.table_name \
           AND o.column_name = 'org_id')) \
 ORDER BY 1, 2";
