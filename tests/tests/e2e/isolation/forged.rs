//! What a stolen database password buys. Connected as `ochre_app` with its
//! password, an attacker sets every setting the old design read (`app.*`)
//! and a made-up `ochre.identity`, replays a genuine sealed identity in a
//! later transaction, or edits the role inside a verified one: every table
//! of the schema (found in the catalog, so a new one is covered) shows no
//! row and takes no write. Connected as `ochre_service`, it is refused every
//! table outright. The review's impersonation chain is in `impersonation.rs`.

use ochre_tests::{
    cluster::cluster,
    prelude::{Credential, become_caller, forge_settings},
    sqlmatrix::{
        Op, Outcome, SeedOrg, fresh_row, ident, insert_columns, public_tables, run_in, seed_org,
        statement, tenant_tables, update_column,
    },
};
use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait as _,
};
use uuid::Uuid;

/// How the attacker tries to become a caller in one transaction.
#[derive(Debug, Clone, Copy)]
enum Forgery {
    /// `app.org_id`/`app.user_id` of the victim org's owner, and a made-up
    /// sealed identity naming them.
    OwnerSettings,
    /// `app.org_id`/`app.api_key_id` of the victim's admin API key.
    KeySettings,
    /// A genuine sealed identity of the owner, copied out of the verified
    /// transaction it was made in and set in a later one.
    ReplayedSeal,
    /// A verified agent's own transaction, its sealed identity edited to say
    /// owner (and then admin) with the seal kept.
    EditedRole,
}

const FORGERIES: [Forgery; 4] = [
    Forgery::OwnerSettings,
    Forgery::KeySettings,
    Forgery::ReplayedSeal,
    Forgery::EditedRole,
];

/// A genuine `ochre.identity` value, made for the owner of `org`.
async fn genuine_seal(app: &DatabaseConnection, org: &SeedOrg) -> String {
    let tx = app.begin().await.unwrap();
    let owner = Credential::seeded_user(org.user("owner"));
    become_caller(&tx, &owner, Some(org.id)).await;
    let seal = pinned(&tx).await;
    tx.commit().await.unwrap();
    seal
}

/// The sealed identity pinned in `tx`.
async fn pinned(tx: &DatabaseTransaction) -> String {
    let row = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('ochre.identity') AS seal",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "seal").unwrap()
}

/// Opens a transaction on `app` and applies `forgery` against `victim`.
async fn forged(
    app: &DatabaseConnection,
    victim: &SeedOrg,
    forgery: Forgery,
    seal: &str,
) -> DatabaseTransaction {
    let tx = app.begin().await.unwrap();
    let set = |value: String| {
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('ochre.identity', $1, true)",
            [value.into()],
        )
    };
    match forgery {
        Forgery::OwnerSettings => {
            forge_settings(&tx, Some(victim.id), Some(victim.user("owner")), None).await
        }
        Forgery::KeySettings => {
            let key = victim.keys.iter().find(|(r, _)| *r == "admin").unwrap().1;
            forge_settings(&tx, Some(victim.id), None, Some(key)).await
        }
        Forgery::ReplayedSeal => {
            tx.execute_raw(set(seal.to_owned())).await.unwrap();
        }
        Forgery::EditedRole => {
            let agent = Credential::seeded_user(victim.user("agent"));
            become_caller(&tx, &agent, Some(victim.id)).await;
            let genuine = pinned(&tx).await;
            assert!(genuine.contains("|agent|"), "the seal names the role");
            tx.execute_raw(set(genuine.replace("|agent|", "|owner|")))
                .await
                .unwrap();
        }
    }
    tx
}

/// The one table both runtime roles may read: migration names (the server
/// checks at startup that the schema is current). It holds no tenant data.
const SCHEMA_VERSIONS: &str = "seaql_migrations";

/// Whether `got` is a refusal of `op` on `table`: no row seen of any org,
/// no row written (zero rows, an RLS violation, or no privilege at all).
fn refused(table: &str, op: Op, got: &Outcome) -> bool {
    match (op, got) {
        (Op::Select, Outcome::Seen { .. }) if table == SCHEMA_VERSIONS => true,
        (Op::Select, Outcome::Seen { target, others }) => *target == 0 && *others == 0,
        (_, Outcome::Affected(n)) => *n == 0,
        (_, Outcome::PermissionDenied | Outcome::RlsViolation) => true,
        _ => false,
    }
}

/// The statements of every op against `table` for `victim`'s rows. Tables
/// without `org_id` get a plain count, an update of every row and a delete
/// of every row.
async fn statements(
    su: &DatabaseConnection,
    table: &str,
    tenant: bool,
    victim: Uuid,
) -> Vec<(Op, String, Vec<sea_orm::Value>)> {
    if tenant {
        let row = fresh_row(su, table, victim).await;
        let cols = insert_columns(su, table).await;
        let set = update_column(su, table).await;
        return Op::ALL
            .iter()
            .map(|&op| {
                let (sql, values) = statement(op, table, victim, &row, &cols, &set);
                (op, sql, values)
            })
            .collect();
    }
    let t = ident(table);
    let first = su
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT attname::text AS c FROM pg_attribute WHERE attrelid = $1::regclass AND attnum = 1",
            [format!("public.{t}").into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "c")
        .unwrap();
    let c = ident(&first);
    vec![
        (
            Op::Select,
            format!("SELECT count(*) AS target, 0::bigint AS others FROM {t}"),
            vec![],
        ),
        (Op::Update, format!("UPDATE {t} SET {c} = {c}"), vec![]),
        (Op::Delete, format!("DELETE FROM {t}"), vec![]),
    ]
}

#[tokio::test]
async fn forged_settings_replayed_seals_and_edited_roles_see_and_write_nothing_in_any_table() {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let victim = seed_org(&su, "victim").await;
    let _other = seed_org(&su, "other").await;
    let app = c.connect(ochre_server::pg::APP_ROLE, &name).await;
    let seal = genuine_seal(&app, &victim).await;
    let tables = public_tables(&su).await;
    let tenant = tenant_tables(&su).await;
    for known in [
        "customers",
        "users",
        "sessions",
        "integration_secrets",
        "audit_log",
    ] {
        assert!(tables.iter().any(|t| t == known), "{known}: {tables:?}");
    }
    // The control: the owner's own credential does see the victim's rows.
    let customers = statements(&su, "customers", true, victim.id).await;
    let tx = app.begin().await.unwrap();
    let owner = Credential::seeded_user(victim.user("owner"));
    become_caller(&tx, &owner, Some(victim.id)).await;
    let seen = run_in(&tx, &customers[0].1, customers[0].2.clone()).await;
    tx.rollback().await.unwrap();
    assert!(
        matches!(seen, Outcome::Seen { target, others: 0 } if target > 0),
        "{seen}"
    );
    let mut wrong = Vec::new();
    let mut cells = 0;
    for table in &tables {
        let ops = statements(&su, table, tenant.contains(table), victim.id).await;
        for forgery in FORGERIES {
            for (op, sql, values) in &ops {
                let tx = forged(&app, &victim, forgery, &seal).await;
                let got = run_in(&tx, sql, values.clone()).await;
                tx.rollback().await.ok();
                cells += 1;
                if !refused(table, *op, &got) {
                    wrong.push(format!("{table} {forgery:?} {op:?}: {got}"));
                }
            }
        }
    }
    assert!(cells > 100, "the attack ran: {cells} cells");
    assert!(wrong.is_empty(), "forgeries that worked: {wrong:#?}");
}

#[tokio::test]
async fn the_service_role_is_refused_every_table_whatever_it_sets() {
    let c = cluster().await;
    let name = c.fresh_database(true).await;
    let su = c.connect_superuser(&name).await;
    let victim = seed_org(&su, "victim").await;
    let service = c.connect(ochre_server::pg::SERVICE_ROLE, &name).await;
    let tenant = tenant_tables(&su).await;
    let mut wrong = Vec::new();
    for table in public_tables(&su).await {
        for (op, sql, values) in statements(&su, &table, tenant.contains(&table), victim.id).await {
            let tx = service.begin().await.unwrap();
            forge_settings(&tx, Some(victim.id), Some(victim.user("owner")), None).await;
            let got = run_in(&tx, &sql, values).await;
            tx.rollback().await.ok();
            let readable = table == SCHEMA_VERSIONS && op == Op::Select;
            if got != Outcome::PermissionDenied && !readable {
                wrong.push(format!("{table} {op:?}: {got}"));
            }
        }
    }
    assert!(wrong.is_empty(), "ochre_service reached tables: {wrong:#?}");
}
