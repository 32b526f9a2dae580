//! OAuth connect end to end against a small OAuth provider started on
//! loopback: authorize URL with a signed single-use state and PKCE S256, the
//! code exchange, tokens stored encrypted, and every refusal.

#![allow(clippy::unwrap_used)]

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{Form, Json, Router, extract::State, http::StatusCode, routing::post};
use ochre_sdk::v1::{
    CompleteOAuthConnectRequest, GetIntegrationTokenRequest, Role, StartOAuthConnectRequest,
    integration_service_client::IntegrationServiceClient,
};
use ochre_server::oauth::state::{StateClaims, StateSigner, pkce_challenge_s256};
use ochre_tests::{
    AppOptions, TestApp,
    identity::{
        Session, add_member, code_of, create_org, signup_and_login, unique_email, with_auth,
    },
    spawn_app_with,
};
use tonic::Code;

const CLIENT_ID: &str = "ochre-test-client";
const CLIENT_SECRET: &str = "provider-client-secret-for-tests";
const REDIRECT: &str = "https://app.ochre.test/oauth/callback";

/// Approved codes: code -> (PKCE challenge, used).
type Approvals = Arc<Mutex<HashMap<String, (String, bool)>>>;

struct Provider {
    addr: SocketAddr,
    approvals: Approvals,
}

async fn token(
    State(approvals): State<Approvals>,
    Form(f): Form<HashMap<String, String>>,
) -> (StatusCode, Json<serde_json::Value>) {
    let refuse = || {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "invalid_grant" })),
        )
    };
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "authorization_code"
        || field("client_id") != CLIENT_ID
        || field("client_secret") != CLIENT_SECRET
        || field("redirect_uri") != REDIRECT
    {
        return refuse();
    }
    let mut approvals = approvals.lock().unwrap();
    let Some((challenge, used)) = approvals.get_mut(field("code")) else {
        return refuse();
    };
    if *used || pkce_challenge_s256(field("code_verifier")) != *challenge {
        return refuse();
    }
    *used = true;
    let id = uuid::Uuid::new_v4().simple();
    (
        StatusCode::OK,
        Json(serde_json::json!({
            "access_token": format!("prov-access-{id}"), "refresh_token": format!("prov-refresh-{id}"),
            "expires_in": 3600, "token_type": "bearer",
        })),
    )
}

async fn provider() -> Provider {
    let approvals: Approvals = Arc::default();
    let app = Router::new()
        .route("/token", post(token))
        .with_state(approvals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Provider { addr, approvals }
}

impl Provider {
    /// The user approves: checks the authorize URL and returns a code.
    fn approve(&self, authorize_url: &str) -> String {
        let url = url::Url::parse(authorize_url).unwrap();
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], CLIENT_ID);
        assert_eq!(q["redirect_uri"], REDIRECT);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(
            q["scope"], "issues:write pull_requests:read metadata:read",
            "least privilege"
        );
        assert!(!q["state"].is_empty());
        let code = format!("code-{}", uuid::Uuid::new_v4().simple());
        self.approvals
            .lock()
            .unwrap()
            .insert(code.clone(), (q["code_challenge"].clone(), false));
        code
    }
}

async fn setup() -> (TestApp, Provider, Session, String) {
    let p = provider().await;
    let clients = format!(
        "[github]\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
         authorize_url = \"http://{0}/authorize\"\ntoken_url = \"http://{0}/token\"\n",
        p.addr
    );
    let app = spawn_app_with(AppOptions {
        oauth_clients: Some(clients),
        ..Default::default()
    })
    .await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "OAuth").await;
    (app, p, owner, org)
}

fn client(app: &TestApp) -> IntegrationServiceClient<tonic::transport::Channel> {
    IntegrationServiceClient::new(app.channel.clone())
}

async fn start(
    app: &TestApp,
    s: &Session,
    org: &str,
    provider: &str,
    return_to: &str,
) -> Result<(String, String), tonic::Status> {
    let req = StartOAuthConnectRequest {
        provider: provider.into(),
        return_to: return_to.into(),
    };
    client(app)
        .start_o_auth_connect(with_auth(req, &s.access_token, Some(org)))
        .await
        .map(|r| r.into_inner())
        .map(|r| (r.authorize_url, r.state))
}

async fn complete(
    app: &TestApp,
    s: &Session,
    org: &str,
    state: &str,
    code: &str,
) -> Result<ochre_sdk::v1::CompleteOAuthConnectResponse, tonic::Status> {
    let req = CompleteOAuthConnectRequest {
        state: state.into(),
        code: code.into(),
    };
    client(app)
        .complete_o_auth_connect(with_auth(req, &s.access_token, Some(org)))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test]
async fn the_full_flow_stores_the_providers_tokens_encrypted_and_returns_the_validated_return_to() {
    let (app, p, owner, org) = setup().await;
    let (url, state) = start(
        &app,
        &owner,
        &org,
        "github",
        "/settings/integrations?tab=github",
    )
    .await
    .unwrap();
    let code = p.approve(&url);
    let done = complete(&app, &owner, &org, &state, &code).await.unwrap();
    assert_eq!(
        done.return_to,
        "https://app.ochre.test/settings/integrations?tab=github"
    );
    let integration = done.integration.unwrap();
    let fields: Vec<&str> = integration
        .secret_fields
        .iter()
        .map(|f| f.field.as_str())
        .collect();
    assert_eq!(fields, ["access_token", "refresh_token"]);
    let req = GetIntegrationTokenRequest {
        integration_id: integration.id.clone(),
        field: "access_token".into(),
    };
    let token = client(&app)
        .get_integration_token(with_auth(req, &owner.access_token, Some(&org)))
        .await
        .unwrap();
    assert!(token.into_inner().value.starts_with("prov-access-"));
}

#[tokio::test]
async fn a_state_is_single_use_even_when_the_first_exchange_failed() {
    let (app, p, owner, org) = setup().await;
    let (url, state) = start(&app, &owner, &org, "github", "/").await.unwrap();
    let code = p.approve(&url);
    complete(&app, &owner, &org, &state, &code).await.unwrap();
    let replay = complete(&app, &owner, &org, &state, &code).await;
    assert_eq!(code_of(&replay), Code::FailedPrecondition);

    let (_, state) = start(&app, &owner, &org, "github", "/").await.unwrap();
    let refused = complete(
        &app,
        &owner,
        &org,
        &state,
        "a-code-the-provider-never-issued",
    )
    .await;
    assert_eq!(
        code_of(&refused),
        Code::FailedPrecondition,
        "the provider refuses the code"
    );
    let again = complete(&app, &owner, &org, &state, "another").await;
    assert_eq!(
        code_of(&again),
        Code::FailedPrecondition,
        "and the state is spent"
    );
}

#[tokio::test]
async fn a_tampered_expired_or_foreign_state_is_refused() {
    let (app, p, owner, org) = setup().await;
    let (url, state) = start(&app, &owner, &org, "github", "/").await.unwrap();
    let code = p.approve(&url);
    let mut tampered = state.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(
        code_of(&complete(&app, &owner, &org, &tampered, &code).await),
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(&complete(&app, &owner, &org, "garbage", &code).await),
        Code::InvalidArgument
    );
    // Correctly signed with the server's secret, but expired.
    let signer =
        StateSigner::new(&secrecy::SecretString::from(app.oauth_state_secret.clone())).unwrap();
    let user = uuid::Uuid::parse_str(&owner.user_id).unwrap();
    let org_id = uuid::Uuid::parse_str(&org).unwrap();
    let old = StateClaims::new(
        user,
        org_id,
        "github",
        "https://app.ochre.test/",
        1_000_000,
        600,
    );
    let expired = complete(&app, &owner, &org, &signer.sign(&old), &code)
        .await
        .unwrap_err();
    assert_eq!(expired.code(), Code::InvalidArgument);
    assert!(expired.message().contains("expired"));
    // Another admin of the same org cannot complete the owner's state.
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    assert_eq!(
        code_of(&complete(&app, &admin, &org, &state, &code).await),
        Code::PermissionDenied
    );
    // The owner still can: the refusals above did not spend it.
    complete(&app, &owner, &org, &state, &code).await.unwrap();
}

#[tokio::test]
async fn a_return_to_outside_the_public_origin_is_refused_at_start() {
    let (app, _p, owner, org) = setup().await;
    for bad in [
        "https://evil.com/",
        "//evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
        " javascript:alert(1)",
        "https://app.ochre.test@evil.com/",
        "https://app.ochre.test.evil.com/",
        "/%2F%2Fevil.com",
        "/%5Cevil.com",
        "http://app.ochre.test/",
        "https://app.ochre.test:8443/",
        "settings",
    ] {
        let r = start(&app, &owner, &org, "github", bad).await;
        assert_eq!(code_of(&r), Code::InvalidArgument, "{bad:?}");
        assert!(
            !r.unwrap_err().message().contains("evil"),
            "the input is not echoed"
        );
    }
}

#[tokio::test]
async fn an_unconfigured_or_non_oauth_provider_cannot_start() {
    let (app, _p, owner, org) = setup().await;
    assert_eq!(
        code_of(&start(&app, &owner, &org, "slack", "/").await),
        Code::FailedPrecondition
    );
    assert_eq!(
        code_of(&start(&app, &owner, &org, "openai", "/").await),
        Code::InvalidArgument
    );
    assert_eq!(
        code_of(&start(&app, &owner, &org, "nope", "/").await),
        Code::InvalidArgument
    );
}
