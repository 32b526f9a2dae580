//! Two `ochre serve` processes on one database share the sign-in and
//! survey-answer limits of a client address: calls to one count on the
//! other (the limits live in Postgres, `rate_limit_take()`), straight on
//! Postgres and through PgBouncer in transaction pooling mode.

use ochre_sdk::v1::{LoginRequest, SendSurveyRequest, SubmitSurveyResponseRequest};
use ochre_tests::{identity::strong_password, prelude::*};

use super::{only, throttled};
use crate::replicas::{Route, replicas_with};

#[tokio::test]
async fn two_server_processes_on_one_database_share_the_sign_in_and_survey_limits() {
    limits_are_shared(Route::Direct).await;
}

#[tokio::test]
async fn two_server_processes_through_pgbouncer_share_the_sign_in_and_survey_limits() {
    limits_are_shared(Route::PgBouncer).await;
}

async fn limits_are_shared(route: Route) {
    let limits = only(&[
        ("sign_in.address", "3/m:3"),
        ("survey_submit.address", "2/m:2"),
    ]);
    let servers = replicas_with(route, 2, &[("OCHRE_RATE_LIMITS", limits.as_str())]).await;
    let (a, b) = (&servers[0], &servers[1]);

    // Survey answers: a genuine link answered on A twice (stored, then
    // already answered), the third answer from the address on B is refused.
    let (token, org) = a.owner_with_org("Shared limits").await;
    let api = Caller::on(a.channel.clone(), &token, &org);
    let customer = api.customer("shared@example.com").await;
    let conversation = api.conversation(&customer.id, "Limits").await.id;
    let sent = api
        .send_survey(SendSurveyRequest {
            conversation_id: conversation,
            ttl_days: 0,
            ..Default::default()
        })
        .await
        .expect("a survey");
    let answer = |channel: tonic::transport::Channel| {
        let token = sent.token.clone();
        async move {
            SurveyClient::on(channel)
                .submit_survey_response(SubmitSurveyResponseRequest {
                    token,
                    score: 5,
                    comment: String::new(),
                })
                .await
        }
    };
    // Sign-in: the owner's sign-in and two attempts on A, the fourth on B
    // is refused.
    let attempt = |channel: tonic::transport::Channel| async move {
        AuthClient::on(channel)
            .login(LoginRequest {
                email: unique_email(),
                password: strong_password(),
            })
            .await
    };
    for i in 0..2 {
        let r = attempt(a.channel.clone()).await;
        assert_eq!(code_of(&r), Code::Unauthenticated, "attempt {i} on A");
    }
    throttled("a fourth sign-in, on B", attempt(b.channel.clone()).await);
    throttled("and on A", attempt(a.channel.clone()).await);

    answer(a.channel.clone()).await.expect("stored");
    let again = answer(a.channel.clone()).await;
    assert_eq!(
        code_of(&again),
        Code::FailedPrecondition,
        "already answered"
    );
    throttled("a third answer, on B", answer(b.channel.clone()).await);
}
