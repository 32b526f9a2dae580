//! The gRPC side: orgs, integrations connected with pasted signing
//! secrets, and stored events read back through
//! `WebhookService.ListWebhookEvents`.

use std::collections::HashMap;

use ochre_sdk::v1::{
    ConnectIntegrationRequest, ListWebhookEventsRequest, ListWebhookEventsResponse, WebhookEvent,
};
use ochre_tests::prelude::*;
use tonic::Status;

use super::providers::P;

/// Pages read before a list is declared endless.
const MAX_PAGES: usize = 200;

/// A signed-in owner and their new org.
#[derive(Debug, Clone)]
pub struct Org {
    pub owner: Session,
    pub id: String,
}

pub async fn new_org(app: &TestApp, name: &str) -> Org {
    let owner = signup_and_login(app, &unique_email()).await;
    let id = create_org(app, &owner, name).await;
    Org { owner, id }
}

/// `ConnectIntegration` with pasted secrets (as `session`); the integration id.
pub async fn connect(
    app: &TestApp,
    session: &Session,
    org: &str,
    provider: &str,
    account: &str,
    secrets: &[(&str, &str)],
) -> String {
    let secrets: HashMap<String, String> = secrets
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let request = ConnectIntegrationRequest {
        provider: provider.to_owned(),
        external_account: account.to_owned(),
        secrets,
        ..Default::default()
    };
    app.client::<IntegrationClient>()
        .connect_integration(with_auth(request, &session.access_token, Some(org)))
        .await
        .unwrap_or_else(|s| panic!("ConnectIntegration {provider}: {s:?}"))
        .into_inner()
        .integration
        .expect("the connected integration")
        .id
}

/// Connects `provider` (account `acct_1`) with `secret` as its signing
/// secret; pasting again rotates it. The integration id.
pub async fn connect_hook(app: &TestApp, org: &Org, provider: P, secret: &str) -> String {
    connect(
        app,
        &org.owner,
        &org.id,
        provider.id(),
        "acct_1",
        &[(provider.field(), secret)],
    )
    .await
}

/// Re-pastes `provider`'s signing secret with the previous one revoked
/// at once (a leaked secret).
pub async fn replace_leaked_hook_secret(app: &TestApp, org: &Org, provider: P, secret: &str) {
    let request = ConnectIntegrationRequest {
        provider: provider.id().to_owned(),
        external_account: "acct_1".to_owned(),
        secrets: HashMap::from([(provider.field().to_owned(), secret.to_owned())]),
        revoke_previous_signing_secret: true,
        ..Default::default()
    };
    app.client::<IntegrationClient>()
        .connect_integration(with_auth(request, &org.owner.access_token, Some(&org.id)))
        .await
        .unwrap_or_else(|s| panic!("ConnectIntegration {}: {s:?}", provider.id()));
}

/// A list request.
pub fn filter(
    provider: &str,
    integration: &str,
    page_size: i32,
    token: &str,
) -> ListWebhookEventsRequest {
    ListWebhookEventsRequest {
        provider: provider.to_owned(),
        integration_id: integration.to_owned(),
        page_size,
        page_token: token.to_owned(),
    }
}

/// One `ListWebhookEvents` call as `token` in `org`.
pub async fn list_page(
    app: &TestApp,
    token: &str,
    org: &str,
    request: ListWebhookEventsRequest,
) -> Result<ListWebhookEventsResponse, Status> {
    app.client::<WebhookClient>()
        .max_decoding_message_size(64 * 1024 * 1024)
        .list_webhook_events(with_auth(request, token, Some(org)))
        .await
        .map(tonic::Response::into_inner)
}

/// Every page of a listing, in order.
pub async fn list_all(
    app: &TestApp,
    token: &str,
    org: &str,
    provider: &str,
    integration: &str,
    page_size: i32,
) -> Result<Vec<WebhookEvent>, Status> {
    let (mut events, mut page_token) = (Vec::new(), String::new());
    for _ in 0..MAX_PAGES {
        let request = filter(provider, integration, page_size, &page_token);
        let page = list_page(app, token, org, request).await?;
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            return Ok(events);
        }
        page_token = page.next_page_token;
    }
    panic!("ListWebhookEvents never returned an empty next_page_token");
}

/// The events stored for one integration, as the org's owner sees them.
pub async fn stored(app: &TestApp, org: &Org, integration: &str) -> Vec<WebhookEvent> {
    list_all(app, &org.owner.access_token, &org.id, "", integration, 100)
        .await
        .unwrap_or_else(|s| panic!("ListWebhookEvents: {s:?}"))
}

/// Records whether nothing was stored for `integration`.
pub async fn nothing_stored(
    c: &mut Checks,
    what: &str,
    app: &TestApp,
    org: &Org,
    integration: &str,
) {
    let events = stored(app, org, integration).await;
    let ids: Vec<&str> = events.iter().map(|e| e.delivery_id.as_str()).collect();
    c.that(
        events.is_empty(),
        &format!("{what}: expected nothing stored, found deliveries {ids:?}"),
    );
}

/// An app and an org with one integration per provider, each with its own
/// signing secret.
pub async fn app_with_every_provider() -> (TestApp, Org, Vec<(P, String, String)>) {
    let app = spawn_app().await;
    let org = new_org(&app, "Hooks").await;
    let mut hooks = Vec::new();
    for p in P::ALL {
        let secret = p.new_secret();
        let id = connect_hook(&app, &org, p, &secret).await;
        hooks.push((p, secret, id));
    }
    (app, org, hooks)
}
