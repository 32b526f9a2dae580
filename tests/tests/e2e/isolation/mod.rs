//! Isolation between orgs, at the SQL level and at the RPC level.

mod accounts;
mod cluster_grants;
mod definers;
mod forged;
mod generated;
mod impersonation;
mod pinned;
mod portals;
mod rpc;
mod sql;
mod temporary;
mod unsafe_roles;

use ochre_tests::{
    cluster::cluster,
    sqlmatrix::{SeedOrg, seed_org},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// One text value (column `v`) of a one-row query.
async fn text(tx: &impl ConnectionTrait, sql: &str) -> Option<String> {
    let row = tx
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row");
    row.try_get("", "v").unwrap()
}

/// A fresh database with a victim org and an attacker: the victim's
/// agent, who also owns an org of its own (anyone may create one).
/// Returns the database, the victim and the attacker's org; the attacker
/// is `victim.user("agent")`, signed in with its seeded session.
async fn agent_who_owns_another_org() -> (String, SeedOrg, uuid::Uuid) {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let victim = seed_org(&su, "victim").await;
    let own = seed_org(&su, "attackers").await;
    let agent = victim.user("agent");
    su.execute_unprepared(&format!(
        "INSERT INTO memberships (org_id, user_id, role) VALUES ('{}', '{agent}', 'owner')",
        own.id
    ))
    .await
    .unwrap();
    (name, victim, own.id)
}
