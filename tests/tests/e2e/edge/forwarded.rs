//! `X-Forwarded-For` is believed only from `OCHRE_TRUSTED_PROXIES`: behind
//! a trusted proxy (loopback here) the right-most address that is not itself
//! a trusted proxy is the client, and the IP allowlist, the login lockout,
//! the session and audit rows follow it; from any other peer the header is
//! ignored, whatever it says.

use ochre_sdk::v1::{
    GetOrgRequest, ListAuditEventsRequest, ListSessionsRequest, LoginRequest,
    SetIpAllowlistRequest, audit_service_client::AuditServiceClient,
};
use ochre_tests::{identity::superuser_execute, prelude::*, webhook_path};
use tonic::{Request, Status, metadata::MetadataValue, transport::Channel};

const CLIENT: &str = "203.0.113.7";
const OTHER: &str = "198.51.100.9";

/// `request` as a proxy forwards it: one `x-forwarded-for` header per
/// element of `headers` (each may be a comma list).
fn forwarded<T>(mut request: Request<T>, headers: &[&str]) -> Request<T> {
    for value in headers {
        let value = MetadataValue::try_from(*value).unwrap();
        request.metadata_mut().append("x-forwarded-for", value);
    }
    request
}

/// A server behind a proxy on 127.0.0.1 (and a second proxy tier in
/// 10.0.0.0/8), or with no trusted proxy at all.
async fn app_trusting(proxies: Option<&str>) -> TestApp {
    let vars = proxies
        .map(|p| vec![("OCHRE_TRUSTED_PROXIES", p.to_owned())])
        .unwrap_or_default();
    spawn_app_with(AppOptions {
        vars,
        ..Default::default()
    })
    .await
}

async fn set_allowlist(
    app: &TestApp,
    owner: &Session,
    org: &str,
    cidr: &str,
    via: &[&str],
) -> Result<(), Status> {
    let request = SetIpAllowlistRequest {
        cidrs: vec![cidr.to_owned()],
    };
    let request = forwarded(with_auth(request, &owner.access_token, Some(org)), via);
    app.client::<OrgClient>()
        .set_ip_allowlist(request)
        .await
        .map(|_| ())
}

/// `GetOrg` on `channel` with these `x-forwarded-for` headers.
async fn get_org_via(channel: &Channel, owner: &Session, org: &str, via: &[&str]) -> Code {
    let request = forwarded(
        with_auth(GetOrgRequest {}, &owner.access_token, Some(org)),
        via,
    );
    code_of(&OrgClient::on(channel.clone()).get_org(request).await)
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_decides_the_ip_allowlist() {
    let app = app_trusting(Some("127.0.0.1/32, 10.0.0.0/8")).await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Behind a proxy").await;
    // The caller's own address is the forwarded one: a list of it is not
    // "a list that excludes the caller".
    set_allowlist(&app, &owner, &org, &format!("{CLIENT}/32"), &[CLIENT])
        .await
        .expect("the forwarded client is on its own list");
    let ch = &app.channel;
    assert_eq!(get_org_via(ch, &owner, &org, &[CLIENT]).await, Code::Ok);
    assert_eq!(
        get_org_via(ch, &owner, &org, &[OTHER]).await,
        Code::PermissionDenied
    );
    // The proxy itself is not the client.
    assert_eq!(
        get_org_via(ch, &owner, &org, &[]).await,
        Code::PermissionDenied
    );
    // `client, proxy2` with proxy2 trusted: the client.
    let chain = format!("{CLIENT}, 10.1.2.3");
    assert_eq!(get_org_via(ch, &owner, &org, &[&chain]).await, Code::Ok);
    // The same chain split over two header instances.
    assert_eq!(
        get_org_via(ch, &owner, &org, &[CLIENT, "10.1.2.3"]).await,
        Code::Ok
    );
    // What a client wrote left of the address the proxy saw is not believed.
    let spoofed = format!("{CLIENT}, {OTHER}");
    assert_eq!(
        get_org_via(ch, &owner, &org, &[&spoofed]).await,
        Code::PermissionDenied
    );
    // Garbage stops the walk at the last trusted hop (here the proxy).
    let garbage = format!("{CLIENT}, not-an-address");
    assert_eq!(
        get_org_via(ch, &owner, &org, &[&garbage]).await,
        Code::PermissionDenied
    );
    // A peer that is not a trusted proxy gets no say.
    let mut direct = app
        .client_from::<OrgClient>("127.0.1.1".parse().unwrap())
        .await;
    let request = forwarded(
        with_auth(GetOrgRequest {}, &owner.access_token, Some(&org)),
        &[CLIENT],
    );
    assert_eq!(
        code_of(&direct.get_org(request).await),
        Code::PermissionDenied
    );
    // The audit row of the change records the client, not the proxy (and
    // reading it takes the client's address too).
    let request = with_auth(
        ListAuditEventsRequest {
            action: "org.ip_allowlist_changed".to_owned(),
            ..Default::default()
        },
        &owner.access_token,
        Some(&org),
    );
    let events = AuditServiceClient::new(app.channel.clone())
        .list_audit_events(forwarded(request, &[CLIENT]))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].client_ip, CLIENT);
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_is_ignored_by_the_allowlist() {
    let app = app_trusting(None).await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "No proxy").await;
    // Believed, the header would make this list exclude the caller.
    set_allowlist(&app, &owner, &org, "127.0.0.1/32", &[OTHER])
        .await
        .expect("the caller is 127.0.0.1 whatever the header says");
    let ch = &app.channel;
    assert_eq!(get_org_via(ch, &owner, &org, &[OTHER]).await, Code::Ok);
    let sql = format!("UPDATE orgs SET ip_allowlist = '{{{CLIENT}/32}}' WHERE id = '{org}'");
    superuser_execute(&app, &sql).await;
    assert_eq!(
        get_org_via(ch, &owner, &org, &[CLIENT]).await,
        Code::PermissionDenied
    );
}

async fn login_via(app: &TestApp, who: &Session, password: &str, via: &[&str]) -> Code {
    let request = Request::new(LoginRequest {
        email: who.email.clone(),
        password: password.to_owned(),
    });
    code_of(
        &app.client::<AuthClient>()
            .login(forwarded(request, via))
            .await,
    )
}

#[tokio::test]
async fn failed_logins_behind_a_trusted_proxy_lock_the_forwarded_client_not_the_proxy() {
    let app = app_trusting(Some("127.0.0.1/32")).await;
    let victim = signup_and_login(&app, &unique_email()).await;
    for attempt in 1..=5 {
        let code = login_via(&app, &victim, "Not-the-password-42", &[CLIENT]).await;
        assert_eq!(code, Code::Unauthenticated, "attempt {attempt}");
    }
    assert_eq!(
        login_via(&app, &victim, &victim.password, &[CLIENT]).await,
        Code::ResourceExhausted,
        "the forwarded address that failed is locked"
    );
    assert_eq!(
        login_via(&app, &victim, &victim.password, &[OTHER]).await,
        Code::Ok,
        "another client behind the same proxy is not"
    );
    assert_eq!(
        login_via(&app, &victim, &victim.password, &[]).await,
        Code::Ok,
        "nor the proxy's own address"
    );
    // The session records the forwarded client.
    let request = forwarded(
        Request::new(LoginRequest {
            email: victim.email.clone(),
            password: victim.password.clone(),
        }),
        &["2001:db8::7"],
    );
    let token = app
        .client::<AuthClient>()
        .login(request)
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    let sessions = app
        .client::<AuthClient>()
        .list_sessions(with_auth(ListSessionsRequest::default(), &token, None))
        .await
        .unwrap()
        .into_inner()
        .sessions;
    let current = sessions.iter().find(|s| s.current).unwrap();
    assert_eq!(current.client_ip, "2001:db8::7");
}

#[tokio::test]
async fn a_forged_forwarded_for_does_not_escape_a_lockout_from_an_untrusted_peer() {
    let app = app_trusting(None).await;
    let victim = signup_and_login(&app, &unique_email()).await;
    for attempt in 1..=5 {
        // A new "address" each time, as an attacker would forge.
        let forged = format!("203.0.113.{attempt}");
        let code = login_via(&app, &victim, "Not-the-password-42", &[&forged]).await;
        assert_eq!(code, Code::Unauthenticated, "attempt {attempt}");
    }
    assert_eq!(
        login_via(&app, &victim, &victim.password, &[OTHER]).await,
        Code::ResourceExhausted,
        "the real address is locked whatever the header claims"
    );
}

#[tokio::test]
async fn per_address_rate_limits_behind_a_trusted_proxy_count_each_forwarded_client_apart() {
    use ochre_sdk::v1::GetServerInfoRequest;
    let limits = crate::limits::only(&[("public.address", "2/m:2"), ("webhook.address", "2/m:2")]);
    let app = spawn_app_with(AppOptions {
        vars: vec![
            ("OCHRE_TRUSTED_PROXIES", "127.0.0.1/32".to_owned()),
            ("OCHRE_RATE_LIMITS", limits),
        ],
        ..Default::default()
    })
    .await;
    let info = |via: &'static str| {
        let mut client = app.client::<SystemClient>();
        async move {
            let request = forwarded(Request::new(GetServerInfoRequest {}), &[via]);
            code_of(&client.get_server_info(request).await)
        }
    };
    assert_eq!(info(CLIENT).await, Code::Ok);
    assert_eq!(info(CLIENT).await, Code::Ok);
    assert_eq!(info(CLIENT).await, Code::ResourceExhausted);
    assert_eq!(info(OTHER).await, Code::Ok, "another client has its own");

    // The webhook route's limit too (plain HTTP through the same proxy).
    let http = reqwest::Client::new();
    let (org, integration) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let hook = format!(
        "http://{}{}",
        app.addr,
        webhook_path("github", &org.to_string(), &integration.to_string())
    );
    let post = |via: &'static str| {
        let request = http.post(&hook).header("x-forwarded-for", via).body("{}");
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_ne!(post(CLIENT).await, 429);
    assert_ne!(post(CLIENT).await, 429);
    assert_eq!(post(CLIENT).await, 429);
    assert_ne!(post(OTHER).await, 429, "another client has its own");
}
