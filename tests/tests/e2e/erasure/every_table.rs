//! Erasure completeness the way isolation is checked: an org seeded with
//! rows in every tenant table (the SQL matrix's seed, which fails for a new
//! table without seed rows), one customer erased, then every table read
//! from the catalog. A new table that holds a customer's or conversation's
//! id, or their text, fails here until erase_customer() covers it.

use std::collections::BTreeMap;

use ochre_tests::prelude::*;
use ochre_tests::sqlmatrix::{seed_org, tenant_tables, unseeded_tables};
use sea_orm::{ConnectionTrait as _, TransactionTrait as _};

use super::texts;

/// Tables that keep an erased customer's id by design: the receipt.
const KEEPS_THE_ID: &[&str] = &["customer_erasures"];

/// Rows of `org` per tenant table.
async fn counts(su: &sea_orm::DatabaseConnection, org: &str) -> BTreeMap<String, i64> {
    let mut all = BTreeMap::new();
    for t in tenant_tables(su).await {
        let sql = format!("SELECT count(*)::text FROM {t} WHERE org_id = '{org}'");
        all.insert(t, texts(su, &sql).await[0].parse().unwrap());
    }
    all
}

#[tokio::test]
async fn erasure_leaves_no_id_or_email_of_the_customer_in_any_tenant_table_and_changes_no_other_table()
 {
    let app = spawn_app().await;
    let su = app.superuser_db().await;
    let seed = seed_org(&su, "Erasure everywhere").await;
    let org = seed.id.to_string();
    assert_eq!(unseeded_tables(&su, &[seed.id]).await, Vec::<String>::new());
    let customer = texts(
        &su,
        &format!("SELECT id::text FROM customers WHERE org_id = '{org}' AND name = 'Ada'"),
    )
    .await
    .remove(0);
    let email = texts(
        &su,
        &format!("SELECT email FROM customers WHERE id = '{customer}'"),
    )
    .await
    .remove(0);
    let conversations = texts(
        &su,
        &format!("SELECT id::text FROM conversations WHERE customer_id = '{customer}'"),
    )
    .await;
    // Another customer's conversation mentions the email.
    ochre_tests::identity::superuser_execute(
        &app,
        &format!(
            "INSERT INTO messages (org_id, id, conversation_id, kind, body) \
               SELECT org_id, gen_random_uuid(), id, 'internal_note', 'cc {}' \
                 FROM conversations WHERE org_id = '{org}' AND customer_id <> '{customer}'",
            email.to_uppercase()
        ),
    )
    .await;
    let before = counts(&su, &org).await;

    let db = app.app_db().await;
    let tx = db.begin().await.unwrap();
    let owner = Credential::seeded_user(seed.user("owner"));
    become_caller(&tx, &owner, Some(seed.id)).await;
    tx.execute_unprepared(&format!(
        "SELECT * FROM erase_customer('{customer}', '', 'every-table')"
    ))
    .await
    .expect("the owner erases");
    tx.commit().await.unwrap();

    // Only the erased rows, the receipt and the audit event changed.
    let after = counts(&su, &org).await;
    let changed: BTreeMap<_, _> = after
        .iter()
        .filter(|(t, n)| before[*t] != **n)
        .map(|(t, n)| (t.as_str(), n - before[t]))
        .collect();
    let expected = BTreeMap::from([
        ("audit_log", 1),
        ("conversations", -(conversations.len() as i64)),
        ("customer_erasures", 1),
        ("customers", -1),
        ("guard_flags", -1),
        ("messages", -2),
        ("request_ids", -1),
        ("survey_responses", -1),
        ("surveys", -1),
    ]);
    assert_eq!(changed, expected);

    // No column that names a customer or a conversation (by foreign key or
    // by name) holds the erased ones; no text column holds the email.
    let mut left = Vec::new();
    for t in tenant_tables(&su).await {
        let columns = texts(
            &su,
            &format!(
                "SELECT a.attname::text || ' ' || format_type(a.atttypid, a.atttypmod) \
                   FROM pg_attribute a WHERE a.attrelid = '{t}'::regclass AND a.attnum > 0 \
                    AND NOT a.attisdropped"
            ),
        )
        .await;
        for c in columns {
            let (column, kind) = c.split_once(' ').unwrap();
            let fk = texts(
                &su,
                &format!(
                    "SELECT confrelid::regclass::text FROM pg_constraint c \
                       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
                      WHERE c.contype = 'f' AND c.conrelid = '{t}'::regclass AND a.attname = '{column}' \
                        AND c.confrelid IN ('customers'::regclass, 'conversations'::regclass)"
                ),
            )
            .await;
            let refers_to = |what: &str| {
                fk.iter().any(|f| f == what) || column == format!("{}_id", &what[..what.len() - 1])
            };
            let ids = if refers_to("customers") && !KEEPS_THE_ID.contains(&t.as_str()) {
                vec![customer.clone()]
            } else if refers_to("conversations") {
                conversations.clone()
            } else {
                vec![]
            };
            for id in ids {
                let sql = format!(
                    "SELECT count(*)::text FROM {t} WHERE org_id = '{org}' AND {column} = '{id}'"
                );
                if texts(&su, &sql).await[0] != "0" {
                    left.push(format!("{t}.{column} holds {id}"));
                }
            }
            if matches!(kind, "text" | "jsonb") || kind.starts_with("character varying") {
                let sql = format!(
                    "SELECT count(*)::text FROM {t} WHERE org_id = '{org}' \
                       AND strpos(lower({column}::text), '{email}') > 0"
                );
                if texts(&su, &sql).await[0] != "0" {
                    left.push(format!("{t}.{column} holds the email"));
                }
            }
        }
    }
    assert!(left.is_empty(), "{left:#?}");
}
