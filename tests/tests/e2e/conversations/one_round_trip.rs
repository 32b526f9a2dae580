//! GetConversation by a signed-in caller is read in ONE round trip: the
//! gate checks the access token in memory and the identity call leaves with
//! the handler's query (`BEGIN READ ONLY`, identity call, query, `COMMIT`).
//! The gate's refusals must stay exactly what they were, come before the
//! handler's own answers, and never carry what the query read; the
//! transaction must be read-only and the org's rate still charged.

use ochre_tests::{
    errors::reason,
    identity::{logout, superuser_execute},
    prelude::*,
};

use super::{app_with_org, conversation, outsider};

/// The code and `ErrorInfo` reason of a refused read.
fn refusal<T: std::fmt::Debug>(reply: Result<T, tonic::Status>) -> (Code, String) {
    let status = reply.expect_err("refused");
    (status.code(), reason(&status).unwrap_or_default())
}

#[tokio::test]
async fn a_refused_caller_gets_the_gates_refusal_before_any_answer_of_the_handler() {
    let (app, owner, api) = app_with_org().await;
    let id = conversation(&api, "read@example.com").await;
    let org = api.org.clone();
    // A member reads it; a malformed id is the handler's INVALID_ARGUMENT.
    assert_eq!(api.conversation_by_id(&id).await.unwrap().id, id);
    let bad = api.conversation_by_id("not-a-uuid").await;
    assert_eq!(code_of(&bad), Code::InvalidArgument);

    // Someone of another org: not a member, whatever the id.
    let stranger = outsider(&app).await;
    let caller = Caller::user(&app, &stranger, &org);
    for asked in [id.as_str(), "not-a-uuid"] {
        let refused = refusal(caller.conversation_by_id(asked).await);
        assert_eq!(refused, (Code::PermissionDenied, "NOT_A_MEMBER".into()));
    }

    // A member removed: refused from the next request on.
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let member = Caller::user(&app, &agent, &org);
    assert_eq!(member.conversation_by_id(&id).await.unwrap().id, id);
    superuser_execute(
        &app,
        &format!("DELETE FROM memberships WHERE org_id = '{org}' AND role = 'agent'"),
    )
    .await;
    let refused = refusal(member.conversation_by_id(&id).await);
    assert_eq!(refused, (Code::PermissionDenied, "NOT_A_MEMBER".into()));

    // The org's allowlist excludes the caller's address.
    superuser_execute(
        &app,
        &format!("UPDATE orgs SET ip_allowlist = '{{10.0.0.0/8}}' WHERE id = '{org}'"),
    )
    .await;
    let refused = refusal(api.conversation_by_id(&id).await);
    assert_eq!(refused, (Code::PermissionDenied, "IP_NOT_ALLOWED".into()));
    superuser_execute(
        &app,
        &format!("UPDATE orgs SET ip_allowlist = '{{}}' WHERE id = '{org}'"),
    )
    .await;

    // The org is pending deletion: refused with its reason.
    superuser_execute(
        &app,
        &format!("UPDATE orgs SET deleted_at = now(), purge_after = now() + interval '7 days' WHERE id = '{org}'"),
    )
    .await;
    for asked in [id.as_str(), "not-a-uuid"] {
        let refused = refusal(api.conversation_by_id(asked).await);
        assert_eq!(
            refused,
            (
                Code::FailedPrecondition,
                "WORKSPACE_PENDING_DELETION".into()
            )
        );
    }
    superuser_execute(
        &app,
        &format!("UPDATE orgs SET deleted_at = NULL, purge_after = NULL WHERE id = '{org}'"),
    )
    .await;
    assert_eq!(api.conversation_by_id(&id).await.unwrap().id, id);

    // Signed out: the session has ended, even for a malformed id.
    logout(&app, &owner.access_token).await.unwrap();
    for asked in [id.as_str(), "not-a-uuid"] {
        let refused = refusal(api.conversation_by_id(asked).await);
        assert_eq!(refused, (Code::Unauthenticated, "SESSION_ENDED".into()));
    }
}

/// `Db::verify_later`, driven directly: the identity call travels with the
/// first query; a wrong proof reads nothing (nobody is pinned) and its
/// verdict says so; the transaction refuses to write even for a caller
/// the database admitted; and a transaction whose handler never queried
/// still gets its verdict.
#[tokio::test]
async fn a_read_in_one_round_trip_is_read_only_and_a_wrong_proof_reads_nothing() {
    use base64::Engine as _;
    use ochre_server::{
        crypto::tokens::SessionProof,
        db::{Db, Verdict, store::customers},
        ids::OrgId,
        pg,
    };
    use ochre_tests::caller::Credential;
    use sea_orm::ConnectionTrait as _;
    let (app, owner, api) = app_with_org().await;
    api.customer("seen@example.com").await;
    let url = |role| app.cluster.url(role, &app.database);
    let db = Db::connect(&url(pg::APP_ROLE), &url(pg::SERVICE_ROLE), 1, false)
        .await
        .unwrap();
    let org = Some(OrgId::from(uuid::Uuid::parse_str(&api.org).unwrap()));
    let Credential::Session { session, proof } = Credential::of_access_token(&owner.access_token)
    else {
        panic!("an access token carries a session");
    };
    let session = session.into();
    // A proof as the access token carries it (base64url).
    let proof_of = |bytes: &[u8]| {
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        serde_json::from_value::<SessionProof>(serde_json::Value::String(text)).unwrap()
    };
    let (right, wrong) = (proof_of(&proof), proof_of(&[7; 32]));

    let tx = db
        .verify_later(session, &right, org, None, false)
        .await
        .unwrap();
    assert_eq!(customers::list(&tx, None, 10).await.unwrap().len(), 1);
    assert!(matches!(tx.verdict().await.unwrap(), Verdict::Ok { .. }));
    let write = tx
        .conn()
        .execute_unprepared("UPDATE customers SET name = 'changed'")
        .await
        .expect_err("a write in a read-only transaction");
    assert!(format!("{write:?}").contains("read-only"), "{write:?}");
    drop(tx);

    let tx = db
        .verify_later(session, &wrong, org, None, false)
        .await
        .unwrap();
    assert!(customers::list(&tx, None, 10).await.unwrap().is_empty());
    assert_eq!(tx.verdict().await.unwrap(), Verdict::NoCredential);
    drop(tx);

    let tx = db
        .verify_later(session, &right, org, None, false)
        .await
        .unwrap();
    assert!(matches!(tx.verdict().await.unwrap(), Verdict::Ok { .. }));
    tx.finish_read().await.unwrap();
    // The pool of one serves again, nothing left open.
    let tx = db
        .verify_later(session, &right, org, None, false)
        .await
        .unwrap()
        .single_read();
    assert_eq!(customers::list(&tx, None, 10).await.unwrap().len(), 1);
    assert!(matches!(tx.verdict().await.unwrap(), Verdict::Ok { .. }));
    tx.finish_read().await.unwrap();
    let open = ochre_tests::identity::superuser_count(
        &app,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND usename = 'ochre_app' AND state LIKE 'idle in transaction%'",
    )
    .await;
    assert_eq!(open, 0);
}
