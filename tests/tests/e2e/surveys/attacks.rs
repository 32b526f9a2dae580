//! Attacks on survey links: tampering (refused before any database access),
//! foreign keys and secrets, expiry, a race of answers, staff rating
//! themselves, bad input, and flooding one link.

use ochre_server::crypto::survey_token::{SurveyClaims, SurveyTokens};
use ochre_server::ids::{ConversationId, CustomerId, OrgId};
use ochre_tests::{concurrent::join_all, prelude::*};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use secrecy::SecretString;

use super::{answer, answer_as, read, refusal, scene, stored_answers};

fn invalid_link() -> (Code, String) {
    (Code::InvalidArgument, "invalid survey link".to_owned())
}

fn expired() -> (Code, String) {
    (
        Code::FailedPrecondition,
        "this survey link has expired".to_owned(),
    )
}

fn uuid(id: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(id).unwrap()
}

/// Runs `sql` as the cluster superuser on the test's database.
async fn su(app: &TestApp, sql: &str) {
    app.superuser_db()
        .await
        .execute_unprepared(sql)
        .await
        .unwrap();
}

/// Runs `sql` as the cluster superuser on the `postgres` database.
async fn su_elsewhere(app: &TestApp, sql: &str) {
    app.cluster
        .connect_superuser("postgres")
        .await
        .execute_unprepared(sql)
        .await
        .unwrap();
}

/// The stored nonce of the only open survey.
async fn nonce(app: &TestApp) -> [u8; 16] {
    let row = app
        .superuser_db()
        .await
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT nonce FROM surveys WHERE revoked_at IS NULL",
        ))
        .await
        .unwrap()
        .unwrap();
    let nonce: Vec<u8> = row.try_get("", "nonce").unwrap();
    nonce.try_into().unwrap()
}

#[tokio::test]
async fn a_tampered_link_is_refused_before_any_database_access() {
    let s = scene().await;
    let sent = s.send().await;
    let mut tampered = sent.token.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    // Cut the server off its database: whatever answers now came first.
    let db = &s.app.database;
    su_elsewhere(
        &s.app,
        &format!(
            "ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
              WHERE datname = '{db}' AND pid <> pg_backend_pid();"
        ),
    )
    .await;
    assert_eq!(refusal(read(&s.app, &tampered).await), invalid_link());
    assert_eq!(
        refusal(answer(&s.app, &tampered, 5, "").await),
        invalid_link()
    );
    // The genuine link does need the database, which is gone.
    let genuine = read(&s.app, &sent.token).await;
    assert_eq!(genuine.unwrap_err().code(), Code::Unavailable);
    su_elsewhere(
        &s.app,
        &format!("ALTER DATABASE \"{db}\" WITH ALLOW_CONNECTIONS true"),
    )
    .await;
    assert_eq!(stored_answers(&s.app).await, 0);
}

#[tokio::test]
async fn unknown_key_ids_other_secrets_and_other_orgs_ids_get_one_uniform_refusal() {
    let s = scene().await;
    let sent = s.send().await;
    let real = SurveyTokens::new(&SecretString::from(s.app.survey_secret.clone()), None).unwrap();
    let other = SurveyTokens::new(&SecretString::from(random_secret(32)), None).unwrap();
    let claims = SurveyClaims {
        org: OrgId::from_uuid(uuid(&s.org)),
        conversation: ConversationId::from_uuid(uuid(&s.conversation)),
        customer: CustomerId::from_uuid(uuid(&s.customer)),
        nonce: nonce(&s.app).await,
        expires_at: unix_now() as i64 + 3600,
    };
    // The genuine claims re-issued under the real secret work (control).
    assert!(read(&s.app, &real.issue(&claims)).await.is_ok());
    // Another secret: its own key id, unknown here.
    let foreign_key = other.issue(&claims);
    // Another secret under the real key id: the tag does not verify.
    let (_, rest) = foreign_key.split_once('.').unwrap();
    let (_, rest) = rest.split_once('.').unwrap();
    let wrong_tag = format!("v1.{}.{rest}", real.key_id());
    // Genuinely signed, but naming another org's ids with this nonce.
    let outsider = signup_and_login(&s.app, &unique_email()).await;
    let elsewhere = create_org(&s.app, &outsider, "Elsewhere").await;
    let other_org = real.issue(&SurveyClaims {
        org: OrgId::from_uuid(uuid(&elsewhere)),
        ..claims
    });
    let other_customer = real.issue(&SurveyClaims {
        customer: CustomerId::from_uuid(uuid::Uuid::now_v7()),
        ..claims
    });
    for (what, token) in [
        ("unknown key id", foreign_key),
        ("wrong secret", wrong_tag),
        ("another org", other_org),
        ("another customer", other_customer),
        ("not a token", "v1.x.y.z".to_owned()),
        ("empty", String::new()),
        ("oversized", "v1.".repeat(500)),
    ] {
        assert_eq!(
            refusal(read(&s.app, &token).await),
            invalid_link(),
            "{what}"
        );
        assert_eq!(
            refusal(answer(&s.app, &token, 5, "").await),
            invalid_link(),
            "{what}"
        );
    }
    assert_eq!(stored_answers(&s.app).await, 0);
    answer(&s.app, &sent.token, 3, "").await.unwrap();
}

#[tokio::test]
async fn an_expired_link_gets_its_own_answer_from_the_token_or_the_row() {
    let s = scene().await;
    s.send().await;
    let real = SurveyTokens::new(&SecretString::from(s.app.survey_secret.clone()), None).unwrap();
    let claims = SurveyClaims {
        org: OrgId::from_uuid(uuid(&s.org)),
        conversation: ConversationId::from_uuid(uuid(&s.conversation)),
        customer: CustomerId::from_uuid(uuid(&s.customer)),
        nonce: nonce(&s.app).await,
        expires_at: unix_now() as i64 - 1,
    };
    let past = real.issue(&claims);
    assert_eq!(refusal(read(&s.app, &past).await), expired());
    assert_eq!(refusal(answer(&s.app, &past, 5, "").await), expired());
    // A token still valid for a row the database says has expired.
    let future = real.issue(&SurveyClaims {
        expires_at: unix_now() as i64 + 3600,
        ..claims
    });
    su(
        &s.app,
        "UPDATE surveys SET created_at = now() - interval '10 days', \
                            expires_at = now() - interval '1 second'",
    )
    .await;
    assert_eq!(refusal(read(&s.app, &future).await), expired());
    assert_eq!(refusal(answer(&s.app, &future, 5, "").await), expired());
    assert_eq!(stored_answers(&s.app).await, 0);
}

#[tokio::test]
async fn fifty_concurrent_answers_to_one_link_store_exactly_one() {
    let s = scene().await;
    let sent = s.send().await;
    let calls = (0..50).map(|i| answer(&s.app, &sent.token, 1 + i % 5, "race"));
    let replies = join_all(calls).await;
    let ok = replies.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "{replies:?}");
    for r in replies.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(r.code(), Code::FailedPrecondition | Code::ResourceExhausted),
            "{r:?}"
        );
    }
    assert_eq!(stored_answers(&s.app).await, 1);
}

#[tokio::test]
async fn fifty_concurrent_calls_of_the_answer_gate_in_sql_store_exactly_one() {
    let s = scene().await;
    s.send().await;
    let n = nonce(&s.app).await;
    let call = format!(
        "SELECT outcome FROM submit_survey_response('{}', '{}', '{}', '\\x{}', 5, '', NULL, NULL)",
        s.org,
        s.conversation,
        s.customer,
        n.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let service = s.app.service_db().await;
    let calls = (0..50).map(|_| {
        let (service, call) = (service.clone(), call.clone());
        async move {
            let row = service
                .query_one_raw(Statement::from_string(DbBackend::Postgres, call))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<String>("", "outcome").unwrap()
        }
    });
    let outcomes = join_all(calls).await;
    let stored = outcomes.iter().filter(|o| *o == "stored").count();
    assert_eq!(stored, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o == "stored" || o == "answered"));
    assert_eq!(stored_answers(&s.app).await, 1);
}

#[tokio::test]
async fn staff_of_the_org_cannot_answer_but_anyone_else_can() {
    let s = scene().await;
    let sent = s.send().await;
    let key = create_api_key(&s.app, &s.owner, &s.org, Role::Agent)
        .await
        .unwrap()
        .secret;
    let light = add_member(&s.app, &s.owner, &s.org, Role::LightAgent).await;
    let staff = (
        Code::PermissionDenied,
        "members of the org cannot answer its surveys".to_owned(),
    );
    let expired = s.app.access_token_issued_ago(&s.owner.access_token, 3600);
    for (what, credentials) in [
        ("owner", s.owner.access_token.as_str()),
        ("owner, with an expired access token", expired.as_str()),
        ("light agent", light.access_token.as_str()),
        ("agent API key", key.as_str()),
    ] {
        let reply = answer_as(&s.app, Some(credentials), &sent.token, 5, "").await;
        assert_eq!(refusal(reply), staff, "{what}");
    }
    assert_eq!(stored_answers(&s.app).await, 0);
    // Someone signed in elsewhere is a customer here.
    let stranger = signup_and_login(&s.app, &unique_email()).await;
    let reply = answer_as(&s.app, Some(&stranger.access_token), &sent.token, 5, "").await;
    reply.unwrap();
    assert_eq!(stored_answers(&s.app).await, 1);
}

#[tokio::test]
async fn bad_scores_and_comments_are_invalid_and_store_nothing() {
    let s = scene().await;
    let sent = s.send().await;
    let t = sent.token.as_str();
    let mut c = Checks::default();
    c.call("score 0", Code::InvalidArgument, answer(&s.app, t, 0, ""))
        .await;
    c.call("score 6", Code::InvalidArgument, answer(&s.app, t, 6, ""))
        .await;
    for (what, comment) in [
        ("NUL", "a\u{0}b".to_owned()),
        ("escape", "a\u{1b}[31mb".to_owned()),
        ("bidi override", "a\u{202e}b".to_owned()),
        ("2001 characters", "é".repeat(2001)),
    ] {
        c.call(what, Code::InvalidArgument, answer(&s.app, t, 5, &comment))
            .await;
    }
    c.verify();
    assert_eq!(stored_answers(&s.app).await, 0);
    let longest = format!("{}\n\t{}", "é".repeat(1000), "e".repeat(998));
    answer(&s.app, t, 5, &longest).await.unwrap();
}

#[tokio::test]
async fn flooding_one_link_is_throttled_with_a_retry_delay() {
    let s = scene().await;
    let sent = s.send().await;
    answer(&s.app, &sent.token, 5, "").await.unwrap();
    for _ in 0..4 {
        let again = answer(&s.app, &sent.token, 5, "").await;
        assert_eq!(again.unwrap_err().code(), Code::FailedPrecondition);
    }
    let throttled = answer(&s.app, &sent.token, 5, "").await.unwrap_err();
    assert_eq!(throttled.code(), Code::ResourceExhausted);
    let retry: u64 = throttled
        .metadata()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after");
    assert!((1..=60).contains(&retry));
    // Another link is not affected.
    let other = s.api.customer("other@example.com").await;
    let conversation = s.api.conversation(&other.id, "Other").await.id;
    let fresh = s
        .api
        .send_survey(ochre_sdk::v1::SendSurveyRequest {
            conversation_id: conversation,
            ttl_days: 0,
            ..Default::default()
        })
        .await
        .unwrap();
    answer(&s.app, &fresh.token, 4, "").await.unwrap();
}

#[tokio::test]
async fn members_cannot_read_nonces_and_the_database_refuses_control_characters() {
    let s = scene().await;
    s.send().await;
    let light = add_member(&s.app, &s.owner, &s.org, Role::LightAgent).await;
    let app_db = s.app.app_db().await;
    for who in [&s.owner, &light] {
        let tx = begin_as(&app_db, who, &s.org).await;
        let ids = tx
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT id, conversation_id, customer_id FROM surveys",
            ))
            .await
            .unwrap();
        assert_eq!(ids.len(), 1, "members read the survey");
        let nonce = tx
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT nonce FROM surveys",
            ))
            .await;
        assert!(
            format!("{:?}", nonce.unwrap_err()).contains("permission denied"),
            "the nonce is not readable by ochre_app"
        );
    }
    // The answer gate itself refuses what the server would (a CHECK).
    let n = nonce(&s.app).await;
    let call = format!(
        "SELECT outcome FROM submit_survey_response('{}', '{}', '{}', '\\x{}', 5, \
         E'a\\u001bb', NULL, NULL)",
        s.org,
        s.conversation,
        s.customer,
        n.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let refused = s
        .app
        .service_db()
        .await
        .query_one_raw(Statement::from_string(DbBackend::Postgres, call))
        .await;
    assert!(
        format!("{:?}", refused.unwrap_err()).contains("23514"),
        "a check violation"
    );
    assert_eq!(stored_answers(&s.app).await, 0);
}
