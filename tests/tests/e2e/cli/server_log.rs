//! What the server logs: sign-ins and webhook outcomes, never a password, a
//! token, a key, a signing secret or a webhook body.

use ochre_tests::{prelude::*, webhook_path};

use super::{data_dir, free_port, serve, stop_cleanly, wait_serving};

#[tokio::test]
async fn the_server_log_never_contains_a_password_token_or_secret() {
    use ochre_sdk::v1::{
        ConnectIntegrationRequest, CreateApiKeyRequest, CreateOrgRequest, LoginRequest,
        SignUpRequest,
    };
    let data = data_dir();
    let port = free_port();
    let mut child = serve(data.path(), port);
    wait_serving(port, &mut child).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let password = format!(
        "Leak-canary {} horse battery",
        uuid::Uuid::new_v4().simple()
    );
    let email = format!("canary-{}@example.com", uuid::Uuid::new_v4().simple());
    let mut auth = AuthClient::on(channel.clone());
    auth.sign_up(SignUpRequest {
        email: email.clone(),
        password: password.clone(),
        display_name: String::new(),
    })
    .await
    .unwrap();
    // A failed login too: refusals must not log what was tried.
    let wrong = format!("{password}-wrong");
    assert!(
        auth.login(LoginRequest {
            email: email.clone(),
            password: wrong.clone()
        })
        .await
        .is_err()
    );
    let tokens = auth
        .login(LoginRequest {
            email: email.clone(),
            password: password.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let org = OrgClient::on(channel.clone())
        .create_org(with_auth(
            CreateOrgRequest {
                name: "Canary".into(),
                ..Default::default()
            },
            &tokens.access_token,
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .org
        .unwrap()
        .id;
    // A webhook signing secret, one delivery signed with it and one with a
    // wrong secret: neither the secret nor the body may reach the log.
    let signing_secret = format!("whsec-canary-{}", uuid::Uuid::new_v4().simple());
    let integration = IntegrationClient::on(channel.clone())
        .connect_integration(with_auth(
            ConnectIntegrationRequest {
                provider: "github".into(),
                external_account: "acme".into(),
                secrets: [("webhook_signing_secret".to_owned(), signing_secret.clone())].into(),
                ..Default::default()
            },
            &tokens.access_token,
            Some(&org),
        ))
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap()
        .id;
    let body_marker = format!("body-canary-{}", uuid::Uuid::new_v4().simple());
    let body = format!(r#"{{"note":"{body_marker}"}}"#);
    let http = reqwest::Client::new();
    for (secret, expected) in [(signing_secret.as_str(), 200), ("not-the-secret", 401)] {
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        let answer = http
            .post(format!(
                "http://127.0.0.1:{port}{}",
                webhook_path("github", &org, &integration)
            ))
            .header("x-hub-signature-256", format!("sha256={sig}"))
            .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
            .header("x-github-event", "issues")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), expected);
    }
    let key = ApiKeyClient::on(channel.clone())
        .create_api_key(with_auth(
            CreateApiKeyRequest {
                name: "k".into(),
                role: Role::Agent as i32,
                ..Default::default()
            },
            &tokens.access_token,
            Some(&org),
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    // A survey: its token and the customer's comment stay out of the log,
    // answered, refused as already answered, and tampered with.
    let (survey_token, comment) = survey_round(&channel, &tokens.access_token, &org).await;
    stop_cleanly(&mut child);
    let mut log = String::new();
    use std::io::Read as _;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(log.contains("signed in"), "the log is captured: {log}");
    assert!(
        log.contains("webhook accepted") && log.contains("webhook refused"),
        "webhook outcomes are logged: {log}"
    );

    let dev_secrets =
        std::fs::read_to_string(data.path().join("secrets/dev-secrets.toml")).unwrap();
    let mut canaries: Vec<(&str, String)> = vec![
        ("password", password),
        ("wrong password", wrong),
        ("email", email),
        ("access token", tokens.access_token),
        ("refresh token", tokens.refresh_token),
        ("api key", key),
        ("webhook signing secret", signing_secret),
        ("webhook body", body_marker),
        ("survey token", survey_token),
        ("survey comment", comment),
    ];
    for line in dev_secrets.lines().filter(|l| l.contains('=')) {
        let value = line.split('"').nth(1).unwrap_or_default().to_owned();
        canaries.push(("configured secret", value));
    }
    for (what, value) in canaries {
        assert!(!value.is_empty());
        assert!(
            !log.contains(&value),
            "the {what} leaked into the server log"
        );
    }
}

/// Sends a survey and answers it (twice, and once with a tampered token):
/// the token and the canary comment.
async fn survey_round(
    channel: &tonic::transport::Channel,
    access_token: &str,
    org: &str,
) -> (String, String) {
    use ochre_sdk::v1::{
        CreateConversationRequest, GetSurveyRequest, SendSurveyRequest,
        SubmitSurveyResponseRequest, UpsertCustomerRequest,
    };
    let customer = CustomerClient::on(channel.clone())
        .upsert_customer(with_auth(
            UpsertCustomerRequest {
                email: "rater@example.com".into(),
                ..Default::default()
            },
            access_token,
            Some(org),
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let conversation = ConversationClient::on(channel.clone())
        .create_conversation(with_auth(
            CreateConversationRequest {
                customer_id: customer.id,
                channel: 1,
                subject: "Refund".into(),
                ..Default::default()
            },
            access_token,
            Some(org),
        ))
        .await
        .unwrap()
        .into_inner()
        .conversation
        .unwrap();
    let mut surveys = SurveyClient::on(channel.clone());
    let token = surveys
        .send_survey(with_auth(
            SendSurveyRequest {
                conversation_id: conversation.id,
                ttl_days: 0,
                ..Default::default()
            },
            access_token,
            Some(org),
        ))
        .await
        .unwrap()
        .into_inner()
        .token;
    let read = GetSurveyRequest {
        token: token.clone(),
    };
    surveys.get_survey(read).await.unwrap();
    let comment = format!("comment-canary-{}", uuid::Uuid::new_v4().simple());
    let swap = if token.ends_with('x') { 'y' } else { 'x' };
    let tampered = format!("{}{swap}", &token[..token.len() - 1]);
    for (t, ok) in [(&token, true), (&token, false), (&tampered, false)] {
        let answer = SubmitSurveyResponseRequest {
            token: t.clone(),
            score: 5,
            comment: comment.clone(),
        };
        assert_eq!(surveys.submit_survey_response(answer).await.is_ok(), ok);
    }
    (token, comment)
}
