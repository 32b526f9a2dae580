//! Every SECURITY DEFINER function the app role may execute, called as each
//! member role and each API-key role (each presenting its own credential to
//! the database's identity call), and with forged settings (an outsider's id,
//! nobody): each admits exactly the callers its rule names,
//! and a refused call writes nothing. A definer function that is granted to
//! the app role but missing from the table below fails the test, so a new
//! one must state its rule here.

use std::collections::BTreeSet;

use sea_orm::{
    ConnectionTrait as _, DatabaseConnection, DbBackend, Statement, TransactionTrait as _,
};

use ochre_tests::prelude::*;

/// How a caller becomes one in SQL.
enum As {
    /// Presents a live credential to the identity call.
    Verified(Credential),
    /// Sets the old `app.*` settings and a made-up pinned caller (custom
    /// settings) for this user (none: nobody), as an attacker with the app
    /// password would.
    Forged(Option<uuid::Uuid>),
}

/// Who calls: its label, the org it acts in, and how.
struct Who(&'static str, String, As);

/// Functions of the app role that only read or resolve the caller (no rule
/// to prove here: they return the caller's own data or nothing).
const READERS: &[&str] = &[
    "app_api_key",
    "app_org",
    "app_role",
    "app_user",
    "role_rank",
    "my_memberships",
    "org_members",
    "sole_owner_orgs",
    "lock_org_members",
    // The identity calls: they pin the caller a live credential proves
    // (attacked in isolation::forged and the identity tests).
    "verify_session",
    "verify_api_key",
    "verify_login_ticket",
    // Acts on the caller's own account only (tested in identity::authority).
    "delete_my_account",
    // Needs a valid invitation token of the caller (identity tests).
    "accept_invitation",
    // Creates an org owned by the caller (identity tests).
    "create_org",
];

/// Every verified member and API key of the org.
const EVERY_CALLER_OF_THE_ORG: &[&str] = &[
    "owner",
    "admin",
    "agent",
    "light_agent",
    "key_admin",
    "key_agent",
    "key_light_agent",
];

/// A state-changing definer function, its call, and who it admits.
struct Rule {
    name: &'static str,
    call: String,
    admits: &'static [&'static str],
}

async fn definer_functions(db: &DatabaseConnection) -> BTreeSet<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
              WHERE n.nspname = 'public' AND p.prosecdef \
                AND has_function_privilege('ochre_app', p.oid, 'EXECUTE')",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get_by::<String, _>("name").unwrap())
        .collect()
}

/// What the org's rows look like (audit, memberships, keys, secrets).
pub(super) async fn footprint(tx: &impl sea_orm::ConnectionTrait, org: &str) -> String {
    let row = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT (SELECT count(*) FROM audit_log WHERE org_id = '{org}')::text || '/' || \
                   (SELECT coalesce(deleted_at::text, 'live') FROM orgs WHERE id = '{org}') || '/' || \
                   (SELECT string_agg(user_id::text || role, ',' ORDER BY user_id) \
                      FROM memberships WHERE org_id = '{org}') || '/' || \
                   coalesce((SELECT string_agg(field, ',' ORDER BY field) FROM integration_secrets \
                     WHERE org_id = '{org}'), '') || '/' || \
                   coalesce((SELECT string_agg(b::text, ',' ORDER BY kind) FROM budgets b \
                     WHERE org_id = '{org}'), '') || '/' || \
                   coalesce((SELECT string_agg(r::text, ',' ORDER BY id) FROM budget_reservations r \
                     WHERE org_id = '{org}'), '') || '/' || \
                   (SELECT count(*) FROM request_ids WHERE org_id = '{org}')::text AS f"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by("f").unwrap()
}

/// Runs `sql` as `ochre_app` for `who`: whether it was admitted, and
/// whether the org's rows are as they were afterwards. An admitted call is
/// rolled back (cells stay independent); a refused one is committed, so
/// whatever a refusal might have written would stay and be seen.
async fn call(
    app: &DatabaseConnection,
    su: &DatabaseConnection,
    who: &Who,
    org: &str,
    sql: &str,
) -> (bool, bool) {
    let tx = app.begin().await.unwrap();
    match &who.2 {
        As::Verified(cred) => become_caller(&tx, cred, org_of(&who.1)).await,
        As::Forged(user) => forge_settings(&tx, org_of(&who.1), *user, None).await,
    }
    let before = footprint(su, org).await;
    let admitted = tx.execute_unprepared(sql).await.is_ok();
    if admitted && who.1 == org {
        tx.rollback().await.unwrap();
    } else {
        // Refused, or acting on another org: committed, so whatever it wrote
        // stays and is seen (a failed transaction's COMMIT rolls back).
        let _ = tx.commit().await;
    }
    let after = footprint(su, org).await;
    (admitted, before == after)
}

#[tokio::test]
async fn every_definer_function_admits_exactly_its_callers_and_a_refusal_writes_nothing() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Definers").await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let light = add_member(&app, &owner, &org, Role::LightAgent).await;
    let outsider = signup_and_login(&app, &unique_email()).await;
    let elsewhere = create_org(&app, &outsider, "Elsewhere").await;
    let request = ochre_sdk::v1::ConnectIntegrationRequest {
        provider: "github".into(),
        external_account: "acme".into(),
        secrets: [("webhook_signing_secret".to_owned(), "s3cret-1".to_owned())].into(),
        ..Default::default()
    };
    let integration = app
        .client::<IntegrationClient>()
        .connect_integration(with_auth(request, &owner.access_token, Some(&org)))
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap()
        .id;
    let customer = Caller::user(&app, &owner, &org)
        .customer("erased@example.com")
        .await
        .id;
    // A reservation to settle and release.
    let reservation = uuid::Uuid::now_v7();
    ochre_tests::identity::superuser_execute(
        &app,
        &format!(
            "INSERT INTO budgets (org_id, kind, limit_amount, period_start, reserved) \
               VALUES ('{org}', 'ai_cost', 1000, date_trunc('month', now(), 'UTC'), 5); \
             INSERT INTO budget_reservations (org_id, id, kind, idempotency_key, amount, \
                                              created_by_user_id, expires_at) \
               VALUES ('{org}', '{reservation}', 'ai_cost', 'matrix-seed', 5, '{}', \
                       now() + interval '1 hour')",
            owner.user_id
        ),
    )
    .await;
    let key = |role| {
        let (app, owner, org) = (&app, &owner, &org);
        async move {
            let secret = create_api_key(app, owner, org, role).await.unwrap().secret;
            As::Verified(Credential::ApiKey(secret))
        }
    };
    let user = |s: &Session| As::Verified(Credential::of_access_token(&s.access_token));
    let outsider_id = uuid::Uuid::parse_str(&outsider.user_id).unwrap();
    let o = || org.clone();
    let callers: Vec<Who> = vec![
        Who("owner", o(), user(&owner)),
        Who("admin", o(), user(&admin)),
        Who("agent", o(), user(&agent)),
        Who("light_agent", o(), user(&light)),
        Who("key_admin", o(), key(Role::Admin).await),
        Who("key_agent", o(), key(Role::Agent).await),
        Who("key_light_agent", o(), key(Role::LightAgent).await),
        Who("forged_outsider", o(), As::Forged(Some(outsider_id))),
        Who("forged_nobody", o(), As::Forged(None)),
        // The outsider acting in its own org on this org's ids.
        Who("other_org_owner", elsewhere.clone(), user(&outsider)),
    ];
    let rules = vec![
        Rule {
            name: "read_integration_secret",
            call: format!(
                "SELECT * FROM read_integration_secret('{integration}', 'webhook_signing_secret', '', 'matrix')"
            ),
            admits: &["owner", "admin", "key_admin"],
        },
        Rule {
            name: "integration_refresh_material",
            call: format!(
                "SELECT * FROM integration_refresh_material('{integration}', 'matrix')"
            ),
            admits: &["owner", "admin", "key_admin"],
        },
        Rule {
            name: "record_audit",
            call: "SELECT record_audit('integration.connected', 'integration', NULL, '{}', '', 'matrix')"
                .into(),
            admits: &["owner", "admin", "key_admin"],
        },
        Rule {
            name: "record_audit",
            call: "SELECT record_audit('survey.sent', 'survey', NULL, '{}', '', 'matrix')".into(),
            admits: &["owner", "admin", "agent", "key_admin", "key_agent"],
        },
        Rule {
            name: "record_audit",
            call: "SELECT record_audit('made.up', 'org', NULL, '{}', '', 'matrix')".into(),
            admits: &[],
        },
        // Only the state the account is in: no second factor here yet.
        Rule {
            name: "record_account_audit",
            call: "SELECT record_account_audit('totp.disabled', '', 'matrix')".into(),
            admits: &["owner", "admin", "agent", "light_agent", "other_org_owner"],
        },
        Rule {
            name: "record_account_audit",
            call: "SELECT record_account_audit('totp.enabled', '', 'matrix')".into(),
            admits: &[],
        },
        Rule {
            name: "retire_signing_secret",
            call: format!(
                "SELECT retire_signing_secret('{integration}', 'webhook_signing_secret')"
            ),
            admits: &["owner", "admin", "key_admin"],
        },
        Rule {
            name: "set_member_role",
            call: format!("SELECT set_member_role('{}', 'light_agent')", agent.user_id),
            admits: &["owner", "admin"],
        },
        Rule {
            name: "remove_member",
            call: format!("SELECT remove_member('{}')", light.user_id),
            admits: &["owner", "admin"],
        },
        // The org is live: nobody restores it. An org pending deletion pins
        // only its owner, and only when the call asks for it (deletion::sql).
        Rule {
            name: "restore_org",
            call: "SELECT restore_org('', 'matrix')".into(),
            admits: &[],
        },
        Rule {
            name: "erase_customer",
            call: format!("SELECT * FROM erase_customer('{customer}', '', 'matrix')"),
            admits: &["owner", "admin", "key_admin"],
        },
        Rule {
            name: "set_budget",
            call: "SELECT * FROM set_budget('ai_cost', 500, 'day', '', 'matrix')".into(),
            admits: &["owner", "admin", "key_admin"],
        },
        Rule {
            name: "clear_budget",
            call: "SELECT * FROM clear_budget('ai_cost', '', 'matrix')".into(),
            admits: &["owner", "admin", "key_admin"],
        },
        Rule {
            name: "reserve_budget",
            call: "SELECT * FROM reserve_budget('ai_cost', 10, 'matrix-new', NULL, 60)".into(),
            admits: &["owner", "admin", "agent", "key_admin", "key_agent"],
        },
        Rule {
            name: "settle_budget",
            call: format!("SELECT * FROM settle_budget('{reservation}', 4)"),
            admits: &["owner", "admin", "agent", "key_admin", "key_agent"],
        },
        Rule {
            name: "release_budget",
            call: format!("SELECT * FROM release_budget('{reservation}')"),
            admits: &["owner", "admin", "agent", "key_admin", "key_agent"],
        },
        Rule {
            name: "guard_record_screening",
            call: "SELECT guard_record_screening('chat', 'flag', '{instruction_override}', 'v1.0', '', 'matrix')"
                .into(),
            admits: &["owner", "admin", "agent", "key_admin", "key_agent"],
        },
        // Any verified caller of the org claims its own request ids, and
        // keeps the answer of a claim of its own transaction.
        Rule {
            name: "claim_request_id",
            call: format!("SELECT * FROM claim_request_id('AddMessage', 'matrix-claim', '{org}')"),
            admits: EVERY_CALLER_OF_THE_ORG,
        },
        Rule {
            name: "record_request_id",
            call: format!(
                "SELECT * FROM claim_request_id('AddMessage', 'matrix-keep', '{org}'); \
                 SELECT record_request_id('{org}', 'AddMessage', 'matrix-keep', '\\x00', NULL, NULL)"
            ),
            admits: EVERY_CALLER_OF_THE_ORG,
        },
        Rule {
            name: "transfer_ownership",
            call: format!("SELECT transfer_ownership('{}')", admin.user_id),
            admits: &["owner"],
        },
        // Last: the outsider, acting in its own org, schedules that one's
        // deletion for good (a call in another org is committed).
        Rule {
            name: "schedule_org_deletion",
            call: "SELECT * FROM schedule_org_deletion(interval '30 days', '', 'matrix')".into(),
            admits: &["owner"],
        },
    ];
    let su = app.superuser_db().await;
    let db = app.app_db().await;
    let granted = definer_functions(&db).await;
    let covered: BTreeSet<String> = rules
        .iter()
        .map(|r| r.name.to_owned())
        .chain(READERS.iter().map(|n| (*n).to_owned()))
        .collect();
    let uncovered: Vec<_> = granted.difference(&covered).collect();
    assert!(
        uncovered.is_empty(),
        "definer functions without a rule here: {uncovered:?}"
    );

    let mut wrong = Vec::new();
    for rule in &rules {
        for who in &callers {
            let (admitted, untouched) = call(&db, &su, who, &org, &rule.call).await;
            let expected = rule.admits.contains(&who.0);
            if who.1 != org {
                // Acting in its own org with this org's ids: whatever it may
                // do there, this org's rows stay as they were.
                if !untouched {
                    wrong.push(format!("{} as {}: touched the other org", rule.name, who.0));
                }
                continue;
            }
            if admitted != expected {
                wrong.push(format!("{} as {}: admitted {admitted}", rule.name, who.0));
            }
            if !admitted && !untouched {
                wrong.push(format!("{} as {}: refused but wrote", rule.name, who.0));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
