//! The Ochre schema, as ordered SQL migrations run by sea-orm-migration
//! (`ochre migrate`, or automatically in development mode).
//!
//! Each migration is a plain SQL file under `migrations/sql/`, so the
//! policies and grants read as what they are.

use sea_orm_migration::prelude::*;

/// Runs the migrations in order and records them in `seaql_migrations`.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        MIGRATIONS
            .iter()
            .map(|m| Box::new(SqlMigration(m)) as Box<dyn MigrationTrait>)
            .collect()
    }
}

/// One migration: its recorded name and its SQL.
#[derive(Debug)]
pub struct Migration {
    /// The name recorded in `seaql_migrations.version`.
    pub name: &'static str,
    /// The statements to apply, run as one batch.
    pub up: &'static str,
}

/// Every migration, oldest first. Append; never edit a released one.
///
/// Nothing is released yet: these five are the squashed baseline, one file
/// per topic, where every table is stated once with its columns, indexes,
/// policies and grants, and every function is created once.
/// `migrations/schema.snapshot` is the catalog they produce
/// (`make schema-snapshot`).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "m20261204_000001_foundation",
        up: include_str!("../sql/0001_foundation.up.sql"),
    },
    Migration {
        name: "m20261204_000002_identity",
        up: include_str!("../sql/0002_identity.up.sql"),
    },
    Migration {
        name: "m20261204_000003_conversations",
        up: include_str!("../sql/0003_conversations.up.sql"),
    },
    Migration {
        name: "m20261204_000004_integrations",
        up: include_str!("../sql/0004_integrations.up.sql"),
    },
    Migration {
        name: "m20261204_000005_webhooks",
        up: include_str!("../sql/0005_webhooks.up.sql"),
    },
    Migration {
        name: "m20261205_000006_surveys",
        up: include_str!("../sql/0006_surveys.up.sql"),
    },
    Migration {
        name: "m20261205_000007_workspace_deletion",
        up: include_str!("../sql/0007_workspace_deletion.up.sql"),
    },
    Migration {
        name: "m20261205_000008_customer_erasure",
        up: include_str!("../sql/0008_customer_erasure.up.sql"),
    },
    Migration {
        name: "m20261205_000009_budgets",
        up: include_str!("../sql/0009_budgets.up.sql"),
    },
    Migration {
        name: "m20261205_000010_input_guard",
        up: include_str!("../sql/0010_input_guard.up.sql"),
    },
    Migration {
        name: "m20261205_000011_rate_limits",
        up: include_str!("../sql/0011_rate_limits.up.sql"),
    },
    Migration {
        name: "m20261206_000012_request_ids",
        up: include_str!("../sql/0012_request_ids.up.sql"),
    },
];

/// The names of every migration this binary knows, oldest first.
pub fn names() -> Vec<&'static str> {
    MIGRATIONS.iter().map(|m| m.name).collect()
}

#[derive(Debug)]
struct SqlMigration(&'static Migration);

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.0.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(self.0.up)
            .await?;
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(format!(
            "{} cannot be rolled back: restore from a backup instead",
            self.0.name
        )))
    }
}
