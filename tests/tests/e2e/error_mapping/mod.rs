//! Errors keep their cause and reach the caller classified: real Postgres
//! errors map to the status a client can act on (retry only what a retry can
//! fix), a broken statement is INTERNAL with an opaque message and its cause
//! in the log, and bad input the database refuses is INVALID_ARGUMENT. Each
//! carries its `google.rpc.ErrorInfo` reason; `details` checks the field
//! violations, the retry advice and the README's table of reasons.

mod details;

use std::time::Duration;

use ochre_sdk::v1::{ListCustomersRequest, MessageKind};
use ochre_server::db::DbError;
use ochre_tests::{
    cluster::cluster, errors::Reply, prelude::*, process::ServerProcess, support::message_request,
};
use sea_orm::{
    ConnectOptions, ConnectionTrait as _, Database, DbBackend, Statement, TransactionTrait as _,
};
use tonic::Status;

/// The status the server answers for the error `sql` raises as `ochre_app`.
async fn status_of(sql: &str, values: Vec<sea_orm::Value>) -> Status {
    let c = cluster().await;
    let db = c.fresh_database(true).await;
    let app = c.connect(ochre_server::pg::APP_ROLE, &db).await;
    let tx = app.begin().await.unwrap();
    tx.execute_unprepared("SET LOCAL statement_timeout = '100ms'")
        .await
        .unwrap();
    let err = tx
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .expect_err("the statement fails");
    Status::from(DbError(err))
}

#[tokio::test]
async fn database_errors_are_unavailable_only_when_a_retry_can_fix_them() {
    let cases: [(&str, Vec<sea_orm::Value>, Code); 8] = [
        ("SELECT pg_sleep(5)", vec![], Code::Unavailable),
        (
            "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$",
            vec![],
            Code::Unavailable,
        ),
        (
            "DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$",
            vec![],
            Code::Unavailable,
        ),
        ("SELECT 1 / 0", vec![], Code::InvalidArgument),
        (
            "SELECT $1::text",
            vec!["a\0b".into()],
            Code::InvalidArgument,
        ),
        ("SELECT no_such_column FROM orgs", vec![], Code::Internal),
        ("SELECT * FROM no_such_table", vec![], Code::Internal),
        (
            "DO $$ BEGIN RAISE EXCEPTION 'only owners may do that' USING ERRCODE = '42501'; END $$",
            vec![],
            Code::PermissionDenied,
        ),
    ];
    for (sql, values, code) in cases {
        let status = status_of(sql, values).await;
        assert_eq!(status.code(), code, "{sql}: {status:?}");
        // The database knows no field of the request: a reason, no BadRequest.
        let reply = Reply::of(&status);
        let reason = match code {
            Code::Unavailable => "DATABASE_UNAVAILABLE",
            Code::InvalidArgument => "VALUE_INVALID",
            Code::Internal => "INTERNAL",
            _ => "PERMISSION_DENIED",
        };
        assert_eq!(reply.reason.as_deref(), Some(reason), "{sql}: {status:?}");
        assert!(reply.fields.is_empty(), "{sql}: {status:?}");
        match code {
            Code::Internal => assert_eq!(status.message(), "internal error", "{sql}"),
            Code::PermissionDenied => assert_eq!(status.message(), "only owners may do that"),
            _ => assert!(!status.message().contains("SQL"), "{sql}: {status:?}"),
        }
    }
}

#[tokio::test]
async fn a_lost_connection_is_unavailable() {
    let mut options = ConnectOptions::new("postgres://nobody:x@127.0.0.1:1/none");
    options
        .connect_timeout(Duration::from_secs(1))
        .acquire_timeout(Duration::from_secs(1));
    let err = Database::connect(options)
        .await
        .expect_err("nothing listens on port 1");
    assert_eq!(Status::from(DbError(err)).code(), Code::Unavailable);
}

#[tokio::test]
async fn a_nul_byte_in_a_message_body_is_invalid_argument() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme").await;
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("ada@example.com").await;
    let conversation = api.conversation(&customer.id, "Subject").await;
    let sent = api
        .add(message_request(
            &conversation.id,
            MessageKind::OutboundReply,
            "before\0after",
        ))
        .await;
    let status = sent.expect_err("a NUL byte cannot be stored");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(Reply::of(&status).fields, ["body"], "{status:?}");
    // The conversation is intact and holds no message.
    assert!(api.all_messages(&conversation.id, 10).await.is_empty());
}

#[tokio::test]
async fn a_broken_statement_is_internal_with_an_opaque_message_and_its_cause_in_the_log() {
    let server = ServerProcess::start(&[("OCHRE_LOG_FORMAT", "json")]).await;
    let (token, org) = server.owner_with_org("Acme").await;
    // A schema the binary does not expect: its statement is now broken.
    let superuser = cluster().await.connect_superuser(&server.database).await;
    superuser
        .execute_unprepared("ALTER TABLE customers RENAME COLUMN phone TO phone_moved")
        .await
        .unwrap();
    let mut request = with_auth(ListCustomersRequest::default(), &token, Some(&org));
    request
        .metadata_mut()
        .insert("x-request-id", "rid-broken".parse().unwrap());
    let status = CustomerClient::on(server.channel.clone())
        .list_customers(request)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "internal error");
    assert_eq!(Reply::of(&status).reason.as_deref(), Some("INTERNAL"));
    let log = server.stop();
    let cause = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "internal error")
        .expect("the internal error is logged");
    assert_eq!(cause["span"]["request_id"], "rid-broken");
    assert!(
        cause["error"]
            .as_str()
            .unwrap_or_default()
            .contains("phone"),
        "the cause names the broken column: {cause}"
    );
}
