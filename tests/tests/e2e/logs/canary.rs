//! The canary test: the `ochre` binary at `OCHRE_LOG=trace`, in both log
//! formats; an email, a phone number, a pasted API key, a webhook signing
//! secret, a password and an access token (and the other credentials the
//! calls mint) go through sign-up, login, customers, messages,
//! integrations, webhook deliveries and API keys, in calls that succeed and
//! calls that fail with them. No canary occurs in any captured line: raw,
//! base64 (standard or URL-safe, padded or not) or hex.

use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
};
use ochre_sdk::v1::{
    AddMessageRequest, ChangePasswordRequest, ConnectIntegrationRequest, CreateApiKeyRequest,
    CreateConversationRequest, CreateOrgRequest, FindCustomerByEmailRequest,
    GetIntegrationTokenRequest, ListCustomersRequest, LoginRequest, MessageKind, RefreshRequest,
    SignUpRequest, UpsertCustomerRequest, WhoAmIRequest,
};
use ochre_tests::{prelude::*, process::ServerProcess, webhook_path};
use rand::Rng as _;
use tonic::transport::Channel;

/// Every encoding of `value` that must not occur in the log.
fn encodings(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    let mut forms = vec![
        value.to_owned(),
        hex::encode(bytes),
        hex::encode_upper(bytes),
    ];
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        forms.push(engine.encode(bytes));
    }
    forms
}

/// A delivery to the GitHub webhook route of `integration` of `org`, signed
/// with `signature` as given; its HTTP status.
async fn deliver(port: u16, org: &str, integration: &str, body: &str, signature: &str) -> u16 {
    reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}{}",
            webhook_path("github", org, integration)
        ))
        .header("x-hub-signature-256", format!("sha256={signature}"))
        .header("x-github-delivery", uuid::Uuid::new_v4().to_string())
        .header("x-github-event", "issues")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn hmac_hex(key: &str, body: &str) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Seeds the canaries on the server behind `channel`; returns them by name.
async fn seed(channel: &Channel, port: u16) -> Vec<(&'static str, String)> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("canary.{}@example.com", &tag[..12]);
    let phone = format!("+1 415 555 {:04}", rand::rng().random_range(0..10_000));
    let pasted_key = format!(
        "sk_test_FAKE{}",
        &random_secret(24).replace(['-', '_'], "x")
    );
    let webhook_secret = format!("whs-canary-{}", random_secret(18));
    let password = format!("Canary {} horse battery", random_secret(9));
    let wrong_password = format!("{password} wrong");
    let mut auth = AuthClient::on(channel.clone());
    let sign_up = |password: &str| SignUpRequest {
        email: email.clone(),
        password: password.to_owned(),
        display_name: String::new(),
    };
    auth.sign_up(sign_up(&password)).await.unwrap();
    let again = auth.sign_up(sign_up(&password)).await;
    assert_eq!(again.unwrap_err().code(), Code::AlreadyExists);
    let login = |password: &str| LoginRequest {
        email: email.clone(),
        password: password.to_owned(),
    };
    let refused = auth.login(login(&wrong_password)).await;
    assert_eq!(refused.unwrap_err().code(), Code::Unauthenticated);
    let tokens = auth
        .login(login(&password))
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let access = tokens.access_token.clone();
    // A caller-chosen request id is logged on every line of its request
    // when it looks safe: a pasted key in it goes through the redaction.
    let mut echoed = with_auth(WhoAmIRequest {}, &access, None);
    echoed
        .metadata_mut()
        .insert("x-request-id", pasted_key.parse().unwrap());
    auth.who_am_i(echoed).await.unwrap();
    let tampered = format!("{access}x");
    let who = auth
        .who_am_i(with_auth(WhoAmIRequest {}, &tampered, None))
        .await;
    assert_eq!(who.unwrap_err().code(), Code::Unauthenticated);
    let change = ChangePasswordRequest {
        current_password: wrong_password.clone(),
        new_password: format!("{password} new"),
        totp_code: String::new(),
    };
    assert!(
        auth.change_password(with_auth(change, &access, None))
            .await
            .is_err()
    );
    let refreshed = auth
        .refresh(RefreshRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();

    let org_id = OrgClient::on(channel.clone())
        .create_org(with_auth(
            CreateOrgRequest {
                name: "Canary Logs".into(),
                ..Default::default()
            },
            &refreshed.access_token,
            None,
        ))
        .await
        .unwrap()
        .into_inner()
        .org
        .unwrap()
        .id;
    let token = refreshed.access_token.clone();
    let org = Some(org_id.as_str());

    // A customer with the canary email and phone; a refused one too.
    let mut customers = CustomerClient::on(channel.clone());
    let customer = customers
        .upsert_customer(with_auth(
            UpsertCustomerRequest {
                email: email.clone(),
                phone: phone.clone(),
                name: "Canary Customer".into(),
                ..Default::default()
            },
            &token,
            org,
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    let bad_phone = UpsertCustomerRequest {
        email: email.clone(),
        phone: format!("call {phone} {pasted_key}"),
        ..Default::default()
    };
    let refused = customers
        .upsert_customer(with_auth(bad_phone, &token, org))
        .await;
    assert_eq!(refused.unwrap_err().code(), Code::InvalidArgument);
    let find = FindCustomerByEmailRequest {
        email: email.clone(),
    };
    customers
        .find_customer_by_email(with_auth(find, &token, org))
        .await
        .unwrap();

    // A message body with the pasted key, the email and the phone; the same
    // body to a conversation that does not exist.
    let mut conversations = ConversationClient::on(channel.clone());
    let conversation = conversations
        .create_conversation(with_auth(
            CreateConversationRequest {
                customer_id: customer.id,
                channel: 1,
                subject: format!("Key for {email}"),
                ..Default::default()
            },
            &token,
            org,
        ))
        .await
        .unwrap()
        .into_inner()
        .conversation
        .unwrap()
        .id;
    let body = format!("Here is my key {pasted_key}, mail me at {email} or call {phone}.");
    for (conversation_id, ok) in [
        (conversation, true),
        (uuid::Uuid::now_v7().to_string(), false),
    ] {
        let message = AddMessageRequest {
            conversation_id,
            kind: MessageKind::InboundEmail as i32,
            body: body.clone(),
            ..Default::default()
        };
        let added = conversations
            .add_message(with_auth(message, &token, org))
            .await;
        assert_eq!(added.is_ok(), ok, "{added:?}");
    }

    // Integrations: the pasted key stored and read back, a webhook signing
    // secret, an unknown provider refused with both.
    let mut integrations = IntegrationClient::on(channel.clone());
    let connect = |provider: &str, field: &str, value: &str| ConnectIntegrationRequest {
        provider: provider.into(),
        external_account: "acme".into(),
        secrets: [(field.to_owned(), value.to_owned())].into(),
        ..Default::default()
    };
    let openai = integrations
        .connect_integration(with_auth(
            connect("openai", "api_key", &pasted_key),
            &token,
            org,
        ))
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap()
        .id;
    let read = GetIntegrationTokenRequest {
        integration_id: openai,
        field: "api_key".into(),
    };
    let value = integrations
        .get_integration_token(with_auth(read, &token, org))
        .await
        .unwrap()
        .into_inner()
        .value;
    assert_eq!(value, pasted_key);
    let github = integrations
        .connect_integration(with_auth(
            connect("github", "webhook_signing_secret", &webhook_secret),
            &token,
            org,
        ))
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap()
        .id;
    let unknown = connect(
        "no-such-provider",
        "webhook_signing_secret",
        &webhook_secret,
    );
    assert!(
        integrations
            .connect_integration(with_auth(unknown, &token, org))
            .await
            .is_err()
    );

    // Webhook deliveries: a good one, one signed with another key, one whose
    // "signature" is the secret itself; each body holds the email and phone.
    let hook_body =
        format!(r#"{{"action":"opened","sender":{{"email":"{email}","phone":"{phone}"}}}}"#);
    let good = hmac_hex(&webhook_secret, &hook_body);
    assert_eq!(
        deliver(port, &org_id, &github, &hook_body, &good).await,
        200
    );
    let other = hmac_hex("not-the-secret", &hook_body);
    assert_eq!(
        deliver(port, &org_id, &github, &hook_body, &other).await,
        401
    );
    let malformed = deliver(port, &org_id, &github, &hook_body, &webhook_secret).await;
    assert!(matches!(malformed, 400 | 401), "refused: {malformed}");

    // An API key, used and tampered with.
    let api_key = ApiKeyClient::on(channel.clone())
        .create_api_key(with_auth(
            CreateApiKeyRequest {
                name: "canary".into(),
                role: Role::Agent as i32,
                ..Default::default()
            },
            &token,
            org,
        ))
        .await
        .unwrap()
        .into_inner()
        .secret;
    let list = || ListCustomersRequest::default();
    customers
        .list_customers(with_auth(list(), &api_key, None))
        .await
        .unwrap();
    let forged = format!("{api_key}x");
    let refused = customers
        .list_customers(with_auth(list(), &forged, None))
        .await;
    assert_eq!(refused.unwrap_err().code(), Code::Unauthenticated);

    // A refresh token used twice (the reuse revokes the session).
    let stale = auth
        .refresh(RefreshRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await;
    assert!(stale.is_err(), "a reused refresh token is refused");
    vec![
        ("email", email),
        ("phone", phone.clone()),
        ("phone digits", phone.replace(' ', "")),
        ("pasted api key", pasted_key),
        ("webhook secret", webhook_secret),
        ("password", password),
        ("wrong password", wrong_password),
        ("access token", access),
        ("refreshed access token", refreshed.access_token),
        ("refresh token", tokens.refresh_token),
        ("api key", api_key),
    ]
}

async fn run(format: &str) {
    let server =
        ServerProcess::start(&[("OCHRE_LOG", "trace"), ("OCHRE_LOG_FORMAT", format)]).await;
    let canaries = seed(&server.channel, server.port).await;
    let log = server.stop();
    let trace = if format == "json" {
        r#""level":"TRACE""#
    } else {
        " TRACE "
    };
    assert!(log.contains(trace), "the log is at the most verbose level");
    let lines = log.lines().count();
    for (what, value) in &canaries {
        for form in encodings(value) {
            if let Some(line) = log.lines().find(|l| l.contains(&form)) {
                panic!("the {what} canary leaked ({form}) into a log line: {line}");
            }
        }
    }
    for seen in [
        "signed in",
        "webhook accepted",
        "webhook refused",
        "API key created",
        // The request id that held the pasted key, on its request's lines.
        "[redacted:stripe-key]",
    ] {
        assert!(log.contains(seen), "the log holds `{seen}`");
    }
    if format == "json" {
        for line in log.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "a redacted line is still JSON: {line}"
            );
        }
    }
    assert!(
        lines > 1000,
        "a trace log of the whole session: {lines} lines"
    );
}

#[tokio::test]
async fn no_canary_reaches_a_human_log_line_at_trace_level() {
    run("human").await;
}

#[tokio::test]
async fn no_canary_reaches_a_json_log_line_at_trace_level() {
    run("json").await;
}
