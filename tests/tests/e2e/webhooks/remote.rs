//! Webhooks of an `ochre serve` process (the fault and replica tests; the
//! rest of this module talks to an in-process app): GitHub connected with a
//! pasted signing secret, a delivery posted, and the delivery ids stored.

use ochre_sdk::v1::{ConnectIntegrationRequest, ListWebhookEventsRequest};
use ochre_tests::{
    clients::{GrpcClient as _, IntegrationClient, WebhookClient},
    identity::with_auth,
    process::ServerProcess,
};

use super::{delivery::Delivery, providers::P};

/// Connects GitHub in `org` on `server` as `token`: the integration id and
/// its signing secret.
pub async fn connect_github(server: &ServerProcess, token: &str, org: &str) -> (String, String) {
    let secret = P::GitHub.new_secret();
    let request = ConnectIntegrationRequest {
        provider: P::GitHub.id().to_owned(),
        external_account: "acct_1".to_owned(),
        secrets: [(P::GitHub.field().to_owned(), secret.clone())].into(),
        ..Default::default()
    };
    let id = IntegrationClient::on(server.channel.clone())
        .connect_integration(with_auth(request, token, Some(org)))
        .await
        .expect("connect GitHub")
        .into_inner()
        .integration
        .expect("the integration")
        .id;
    (id, secret)
}

/// Posts `d` to the server on `port`: the HTTP status.
pub async fn post(
    client: &reqwest::Client,
    port: u16,
    d: &Delivery,
) -> Result<u16, reqwest::Error> {
    let mut request = client
        .post(format!("http://127.0.0.1:{port}{}", d.path))
        .body(d.body.clone());
    for (name, value) in &d.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    Ok(request.send().await?.status().as_u16())
}

/// Every stored delivery id of GitHub integration `id`, page by page.
pub async fn stored_ids(server: &ServerProcess, token: &str, org: &str, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListWebhookEventsRequest {
            provider: P::GitHub.id().to_owned(),
            integration_id: id.to_owned(),
            page_size: 100,
            page_token,
        };
        let page = WebhookClient::on(server.channel.clone())
            .max_decoding_message_size(64 * 1024 * 1024)
            .list_webhook_events(with_auth(request, token, Some(org)))
            .await
            .expect("list events")
            .into_inner();
        out.extend(page.events.into_iter().map(|e| e.delivery_id));
        if page.next_page_token.is_empty() {
            return out;
        }
        page_token = page.next_page_token;
    }
}
