//! CSAT surveys end to end: sending, the public read and answer, results,
//! and attacks on the token and the single-use answer.

mod attacks;
mod flow;

use ochre_sdk::v1::{
    GetSurveyRequest, GetSurveyResponse, SendSurveyRequest, SendSurveyResponse,
    SubmitSurveyResponseRequest, SubmitSurveyResponseResponse,
};
use ochre_tests::prelude::*;
use tonic::Status;

/// A fresh app, an owner acting in a new org, and a conversation (with its
/// customer) to survey.
pub struct Scene {
    pub app: TestApp,
    pub owner: Session,
    pub org: String,
    pub api: Caller,
    pub conversation: String,
    pub customer: String,
}

pub async fn scene() -> Scene {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme Support").await;
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("rater@example.com").await;
    let conversation = api.conversation(&customer.id, "Refund").await.id;
    Scene {
        app,
        owner,
        org,
        api,
        conversation,
        customer: customer.id,
    }
}

impl Scene {
    /// Sends a survey for the scene's conversation as its owner.
    pub async fn send(&self) -> SendSurveyResponse {
        self.api
            .send_survey(SendSurveyRequest {
                conversation_id: self.conversation.clone(),
                ttl_days: 0,
                ..Default::default()
            })
            .await
            .expect("send survey")
    }
}

/// GetSurvey, without credentials.
pub async fn read(app: &TestApp, token: &str) -> Result<GetSurveyResponse, Status> {
    app.client::<SurveyClient>()
        .get_survey(GetSurveyRequest {
            token: token.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// SubmitSurveyResponse, with the given credentials (none: a customer).
pub async fn answer_as(
    app: &TestApp,
    credentials: Option<&str>,
    token: &str,
    score: i32,
    comment: &str,
) -> Result<SubmitSurveyResponseResponse, Status> {
    let request = SubmitSurveyResponseRequest {
        token: token.to_owned(),
        score,
        comment: comment.to_owned(),
    };
    let request = match credentials {
        Some(token) => with_auth(request, token, None),
        None => tonic::Request::new(request),
    };
    app.client::<SurveyClient>()
        .submit_survey_response(request)
        .await
        .map(tonic::Response::into_inner)
}

/// SubmitSurveyResponse as an anonymous customer.
pub async fn answer(
    app: &TestApp,
    token: &str,
    score: i32,
    comment: &str,
) -> Result<SubmitSurveyResponseResponse, Status> {
    answer_as(app, None, token, score, comment).await
}

/// The status code and message of a refusal.
pub fn refusal<T: std::fmt::Debug>(reply: Result<T, Status>) -> (Code, String) {
    let status = reply.expect_err("refused");
    (status.code(), status.message().to_owned())
}

/// Answers stored in the test's database (as superuser).
pub async fn stored_answers(app: &TestApp) -> i64 {
    use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
    let row = app
        .superuser_db()
        .await
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM survey_responses",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}
