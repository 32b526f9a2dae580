//! Reads end without a round trip of their own: most with a ROLLBACK the
//! request does not wait for, single-query reads (GetConversation and the
//! like) with a COMMIT sent with their one query. On a pool of ONE
//! connection, every request reuses the connection the previous one left:
//! the next caller must see only their own org, writes that follow reads
//! must be kept, and no connection is left inside a transaction.

use ochre_tests::{
    identity::{superuser_count, superuser_execute},
    prelude::*,
};

use super::outsider;

/// The app role's connections of this database left inside a transaction.
const IDLE_IN_TRANSACTION: &str = "SELECT count(*) FROM pg_stat_activity \
     WHERE datname = current_database() AND usename = 'ochre_app' \
     AND state LIKE 'idle in transaction%'";

#[tokio::test]
async fn a_read_leaves_its_pooled_connection_clean_for_the_next_caller() {
    let app = spawn_app_with(AppOptions {
        db_max_connections: 1,
        ..AppOptions::default()
    })
    .await;
    let alice = signup_and_login(&app, &unique_email()).await;
    let alice_org = create_org(&app, &alice, "Alice's").await;
    let bob = outsider(&app).await;
    let bob_org = create_org(&app, &bob, "Bob's").await;
    let (a, b) = (
        Caller::user(&app, &alice, &alice_org),
        Caller::user(&app, &bob, &bob_org),
    );
    let mut ids = Vec::new();
    for round in 0..5 {
        // A read (rolled back), then the other org's write and read on the
        // same connection.
        let customer = a.customer(&format!("a{round}@example.com")).await;
        assert_eq!(a.customer_by_id(&customer.id).await.unwrap(), customer);
        let missing = b.customer_by_id(&customer.id).await;
        assert_eq!(code_of(&missing), Code::NotFound, "round {round}");
        let mine = b.customer(&format!("b{round}@example.com")).await;
        ids.push((customer.id, mine.id));
        let missing = a.customer_by_id(&ids[round].1).await;
        assert_eq!(code_of(&missing), Code::NotFound, "round {round}");
        // The read that commits with its query, then the other org's.
        let conversation = a.conversation(&ids[round].0, "Subject").await;
        let read = a.conversation_by_id(&conversation.id).await.unwrap();
        assert_eq!(read.id, conversation.id, "round {round}");
        let missing = b.conversation_by_id(&conversation.id).await;
        assert_eq!(code_of(&missing), Code::NotFound, "round {round}");
    }
    // Every transaction has ended (a background ROLLBACK within moments).
    assert_eq!(
        left_in_a_transaction(&app).await,
        0,
        "connections left inside a transaction"
    );
    // Every write made between the reads was committed.
    for (alice_customer, bob_customer) in &ids {
        assert_eq!(code_of(&a.customer_by_id(alice_customer).await), Code::Ok);
        assert_eq!(code_of(&b.customer_by_id(bob_customer).await), Code::Ok);
    }
}

/// A read whose query fails to prepare (a column renamed under the server)
/// never sent its COMMIT: its connection must not go back to the pool
/// inside the aborted transaction, or the next caller on it would fail too.
#[tokio::test]
async fn a_read_that_fails_to_prepare_does_not_leave_its_connection_in_a_transaction() {
    let app = spawn_app_with(AppOptions {
        db_max_connections: 1,
        ..AppOptions::default()
    })
    .await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme").await;
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("renamed@example.com").await;
    let conversation = api.conversation(&customer.id, "Subject").await;
    // The first GetConversation on the connection prepares its statement.
    superuser_execute(
        &app,
        "ALTER TABLE conversations RENAME COLUMN subject TO topic",
    )
    .await;
    let failed = api.conversation_by_id(&conversation.id).await;
    assert_eq!(code_of(&failed), Code::Internal);
    superuser_execute(
        &app,
        "ALTER TABLE conversations RENAME COLUMN topic TO subject",
    )
    .await;
    // The next callers on the one connection are served.
    assert_eq!(code_of(&api.customer_by_id(&customer.id).await), Code::Ok);
    let read = api.conversation_by_id(&conversation.id).await.unwrap();
    assert_eq!(read.id, conversation.id);
}

/// `TenantTx::single_read`, driven directly: the one query carries the
/// COMMIT, so a second statement fails instead of running outside the
/// transaction, and the connection (a pool of one) serves the next
/// transaction with nothing left open.
#[tokio::test]
async fn a_single_read_refuses_a_second_statement_and_leaves_its_connection_clean() {
    use ochre_server::db::{Proof, Verdict, store::customers};
    let app = spawn_app().await;
    let (db, key, org) = pool_of_one_with_an_agent_key(&app, Some("single@example.com")).await;
    for round in 0..3 {
        let (verdict, tx) = db
            .verify(Proof::ApiKey(&key), org, None, false)
            .await
            .unwrap();
        assert!(matches!(verdict, Verdict::Ok { .. }), "round {round}");
        let tx = tx.expect("an open transaction").single_read();
        let rows = customers::list(&tx, None, 10).await.unwrap();
        assert_eq!(rows.len(), 1, "round {round}");
        let second = customers::list(&tx, None, 10).await;
        let refused = format!("{:?}", second.expect_err("a second statement ran"));
        assert!(refused.contains("the transaction has ended"), "{refused}");
        tx.finish_read().await.unwrap();
    }
    assert_eq!(superuser_count(&app, IDLE_IN_TRANSACTION).await, 0);
}

/// The app pool's driver sends the statements of a write with one Sync,
/// so when one fails Postgres skips the rest of that write: the COMMIT
/// sent with a failing query never runs, the transaction is rolled back in
/// the background, and the same connection (the same backend, not a new
/// one) serves the next transaction, with nothing left open.
#[tokio::test]
async fn a_query_that_fails_in_the_write_of_its_commit_leaves_the_same_backend_clean_for_the_next()
{
    use ochre_server::db::{Proof, Verdict};
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    let app = spawn_app().await;
    let (db, key, org) = pool_of_one_with_an_agent_key(&app, None).await;
    let sql = |text: &str| Statement::from_string(DbBackend::Postgres, text);
    let mut backends = Vec::new();
    for round in 0..3 {
        let (verdict, tx) = db
            .verify(Proof::ApiKey(&key), org, None, false)
            .await
            .unwrap();
        assert!(matches!(verdict, Verdict::Ok { .. }), "round {round}");
        let tx = tx.expect("an open transaction");
        let pid = tx
            .conn()
            .query_one_raw(sql("SELECT pg_backend_pid() AS pid"))
            .await
            .unwrap()
            .expect("a row")
            .try_get::<i32>("", "pid")
            .unwrap();
        backends.push(pid);
        let tx = tx.single_read();
        let failed = tx.conn().query_one_raw(sql("SELECT 1 / 0 AS x")).await;
        let failed = format!("{:?}", failed.expect_err("division by zero"));
        assert!(failed.contains("22012"), "round {round}: {failed}");
        drop(tx);
    }
    assert!(
        backends.windows(2).all(|w| w[0] == w[1]),
        "one backend served every transaction: {backends:?}"
    );
    // The last background ROLLBACK ends within moments.
    assert_eq!(
        left_in_a_transaction(&app).await,
        0,
        "connections left inside a transaction"
    );
}

/// The app pool speaks no TLS: a URL that requires it is refused when the
/// pool opens, never connected in plain text; the same URL without the
/// requirement connects (over the Unix socket too).
#[tokio::test]
async fn an_app_database_url_that_requires_tls_is_refused_not_downgraded() {
    use ochre_server::{db::Db, pg};
    use secrecy::{ExposeSecret as _, SecretString};
    let app = spawn_app().await;
    let plain = app.cluster.url(pg::APP_ROLE, &app.database);
    let service = app.cluster.url(pg::SERVICE_ROLE, &app.database);
    let tls = SecretString::from(format!("{}?sslmode=require", plain.expose_secret()));
    let refused = Db::connect(&tls, &service, 1, false)
        .await
        .err()
        .map(|e| e.to_string())
        .expect("a URL that requires TLS is refused");
    assert!(refused.contains("sslmode=require"), "{refused}");
    assert!(
        !refused.contains(plain.expose_secret()),
        "the URL leaked: {refused}"
    );
    Db::connect(&plain, &service, 1, false)
        .await
        .expect("the plain URL connects");
    let socket = app.cluster.socket_url(pg::APP_ROLE, &app.database);
    Db::connect(&socket, &service, 1, false)
        .await
        .expect("the socket URL connects");
}

/// An org of a new owner (with one customer when `customer` names it), an
/// agent API key of it, and the app's pools opened directly with ONE
/// connection each: the pools, the key and the org.
async fn pool_of_one_with_an_agent_key(
    app: &TestApp,
    customer: Option<&str>,
) -> (
    ochre_server::db::Db,
    String,
    Option<ochre_server::ids::OrgId>,
) {
    use ochre_server::{db::Db, ids::OrgId, pg};
    let owner = signup_and_login(app, &unique_email()).await;
    let org = create_org(app, &owner, "Acme").await;
    let key = create_api_key(app, &owner, &org, Role::Agent)
        .await
        .unwrap()
        .secret;
    if let Some(email) = customer {
        Caller::user(app, &owner, &org).customer(email).await;
    }
    let url = |role| app.cluster.url(role, &app.database);
    let db = Db::connect(&url(pg::APP_ROLE), &url(pg::SERVICE_ROLE), 1, false)
        .await
        .unwrap();
    let org = Some(OrgId::from(uuid::Uuid::parse_str(&org).unwrap()));
    (db, key, org)
}

/// The app role's connections left inside a transaction, once the
/// background ROLLBACKs (which end within moments) had up to a second.
async fn left_in_a_transaction(app: &TestApp) -> i64 {
    let mut left = -1;
    for _ in 0..50 {
        left = superuser_count(app, IDLE_IN_TRANSACTION).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    left
}
