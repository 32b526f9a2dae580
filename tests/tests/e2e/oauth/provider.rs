//! A small OAuth provider on loopback for the connect and refresh tests:
//! a token endpoint that checks the client, the redirect URI, single-use
//! codes and PKCE S256, and issues, refreshes or refuses tokens.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::State,
    http::{StatusCode, header::RETRY_AFTER},
    response::{IntoResponse as _, Response},
    routing::post,
};
use ochre_sdk::v1::{
    CompleteOAuthConnectRequest, GetIntegrationTokenRequest, StartOAuthConnectRequest,
};
use ochre_server::integrations::oauth_state::pkce_challenge_s256;
use ochre_tests::prelude::*;

pub const CLIENT_ID: &str = "ochre-test-client";
pub const CLIENT_SECRET: &str = "provider-client-secret-for-tests";
pub const REDIRECT: &str = "https://app.ochre.test/oauth/callback";

/// The provider's memory: approved codes (code -> PKCE challenge, used),
/// issued refresh tokens, refresh calls, and switches for the tests.
#[derive(Default)]
pub struct Memory {
    pub approvals: HashMap<String, (String, bool)>,
    pub refresh_tokens: Vec<String>,
    pub refresh_calls: usize,
    pub fail_refresh: bool,
    /// Answer refreshes 429 with this `Retry-After`.
    pub throttle_refresh: Option<&'static str>,
    /// `expires_in` of tokens issued by the code exchange.
    pub first_expires_in: Option<i64>,
    /// Issue access tokens without a refresh token.
    pub omit_refresh: bool,
}

pub type Shared = Arc<Mutex<Memory>>;

pub struct Provider {
    pub addr: SocketAddr,
    pub memory: Shared,
}

pub type Reply = (StatusCode, Json<serde_json::Value>);

pub fn issue(memory: &mut Memory, expires_in: i64) -> Reply {
    let id = uuid::Uuid::new_v4().simple();
    let refresh = format!("prov-refresh-{id}");
    memory.refresh_tokens.push(refresh.clone());
    let mut body = serde_json::json!({
        "access_token": format!("prov-access-{id}"), "refresh_token": refresh,
        "expires_in": expires_in, "token_type": "bearer",
    });
    if memory.omit_refresh {
        body.as_object_mut().map(|o| o.remove("refresh_token"));
    }
    (StatusCode::OK, Json(body))
}

pub async fn token(State(memory): State<Shared>, form: Form<HashMap<String, String>>) -> Response {
    let throttled = memory.lock().unwrap().throttle_refresh;
    match throttled {
        Some(wait) if form.get("grant_type").map(String::as_str) == Some("refresh_token") => {
            memory.lock().unwrap().refresh_calls += 1;
            let body = Json(serde_json::json!({ "error": "rate_limited" }));
            (StatusCode::TOO_MANY_REQUESTS, [(RETRY_AFTER, wait)], body).into_response()
        }
        _ => answer(&memory, form).into_response(),
    }
}

fn answer(memory: &Shared, Form(f): Form<HashMap<String, String>>) -> Reply {
    let refuse = || {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "invalid_grant" })),
        )
    };
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return refuse();
    }
    let mut memory = memory.lock().unwrap();
    if field("grant_type") == "refresh_token" {
        memory.refresh_calls += 1;
        if memory.fail_refresh {
            let body = serde_json::json!({ "error": "unavailable" });
            return (StatusCode::SERVICE_UNAVAILABLE, Json(body));
        }
        if !memory
            .refresh_tokens
            .iter()
            .any(|t| t == field("refresh_token"))
        {
            return refuse();
        }
        return issue(&mut memory, 3600);
    }
    if field("grant_type") != "authorization_code" || field("redirect_uri") != REDIRECT {
        return refuse();
    }
    let first = memory.first_expires_in.unwrap_or(3600);
    let Some((challenge, used)) = memory.approvals.get_mut(field("code")) else {
        return refuse();
    };
    if *used || pkce_challenge_s256(field("code_verifier")) != *challenge {
        return refuse();
    }
    *used = true;
    issue(&mut memory, first)
}

pub async fn provider() -> Provider {
    let memory: Shared = Arc::default();
    let app = Router::new()
        .route("/token", post(token))
        .with_state(memory.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Provider { addr, memory }
}

impl Provider {
    /// The user approves: checks the authorize URL and returns a code.
    pub fn approve(&self, authorize_url: &str) -> String {
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
        self.memory
            .lock()
            .unwrap()
            .approvals
            .insert(code.clone(), (q["code_challenge"].clone(), false));
        code
    }
}

pub async fn setup() -> (TestApp, Provider, Session, String) {
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

pub async fn start(
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
    app.client::<IntegrationClient>()
        .start_o_auth_connect(with_auth(req, &s.access_token, Some(org)))
        .await
        .map(|r| r.into_inner())
        .map(|r| (r.authorize_url, r.state))
}

pub async fn complete(
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
    app.client::<IntegrationClient>()
        .complete_o_auth_connect(with_auth(req, &s.access_token, Some(org)))
        .await
        .map(|r| r.into_inner())
}

/// Connects GitHub through the whole flow; the first token expires in `secs`.
pub async fn connected(secs: i64) -> (TestApp, Provider, Session, String, String) {
    let (app, p, owner, org) = setup().await;
    p.memory.lock().unwrap().first_expires_in = Some(secs);
    let (url, state) = start(&app, &owner, &org, "github", "/").await.unwrap();
    let code = p.approve(&url);
    let id = complete(&app, &owner, &org, &state, &code)
        .await
        .unwrap()
        .integration
        .unwrap()
        .id;
    (app, p, owner, org, id)
}

pub async fn access_token(app: &TestApp, s: &Session, org: &str, id: &str) -> String {
    let req = GetIntegrationTokenRequest {
        integration_id: id.into(),
        field: "access_token".into(),
    };
    app.client::<IntegrationClient>()
        .get_integration_token(with_auth(req, &s.access_token, Some(org)))
        .await
        .unwrap()
        .into_inner()
        .value
}
