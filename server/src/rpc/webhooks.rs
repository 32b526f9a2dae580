//! `ochre.v1.WebhookService`: the org's received webhook events.

use ochre_sdk::v1::{
    ListWebhookEventsRequest, ListWebhookEventsResponse, WebhookEvent,
    webhook_service_server::WebhookService,
};
use tonic::{Request, Response, Status};

use super::{
    convert::{parse_id, ts, ts_opt},
    pager::{ListKind, page_size},
};
use crate::{
    db::store::webhooks::{self as store, WebhookEventRow},
    error::ApiError,
    gate::principal,
    ids::IntegrationId,
    rpc::state::AppState,
    webhooks::Provider,
};

/// A page ends once it holds this much payload (the first event always
/// fits: a payload is at most 1 MiB), well under gRPC's 4 MiB default.
const PAGE_PAYLOAD_BYTES: i64 = 2 * 1024 * 1024;

/// The handler of `WebhookService`.
#[derive(Debug, Clone)]
pub struct WebhookApi {
    state: AppState,
}

impl WebhookApi {
    pub fn new(state: AppState) -> Self {
        WebhookApi { state }
    }
}

fn event(e: WebhookEventRow) -> WebhookEvent {
    WebhookEvent {
        id: e.id.to_string(),
        integration_id: e.integration_id.to_string(),
        provider: e.provider,
        delivery_id: e.delivery_id,
        event_type: e.event_type,
        signed_at: ts_opt(e.signed_at),
        received_at: Some(ts(e.received_at)),
        content_type: e.content_type,
        payload: e.payload,
    }
}

#[tonic::async_trait]
impl WebhookService for WebhookApi {
    async fn list_webhook_events(
        &self,
        request: Request<ListWebhookEventsRequest>,
    ) -> Result<Response<ListWebhookEventsResponse>, Status> {
        let p = principal(&request)?;
        let req = request.get_ref();
        let size = page_size(req.page_size)?;
        let provider = match req.provider.as_str() {
            "" => None,
            id => Some(
                Provider::from_id(id)
                    .ok_or_else(|| {
                        ApiError::invalid_field("provider", "provider is not a webhook provider")
                    })?
                    .id(),
            ),
        };
        let integration = match req.integration_id.as_str() {
            "" => None,
            id => Some(parse_id::<IntegrationId>("integration_id", id)?),
        };
        let (org, _) = p.require_org()?;
        let filter = format!(
            "provider={};integration={}",
            provider.unwrap_or(""),
            integration.map(|i| i.to_string()).unwrap_or_default()
        );
        let after =
            self.state
                .pager
                .resume(&req.page_token, ListKind::WebhookEvents, org, &filter)?;
        let tx = p.tenant(&self.state.db).await?.single_read();
        let (mut rows, fetched) = store::list(
            &tx,
            provider,
            integration,
            after,
            size + 1,
            PAGE_PAYLOAD_BYTES,
        )
        .await?;
        tx.finish_read().await?;
        // The query also stops once a page holds its payload budget.
        let cut_by_bytes = fetched > rows.len() as u64;
        let next_page_token = self.state.pager.finish(
            &mut rows,
            size,
            cut_by_bytes,
            ListKind::WebhookEvents,
            org,
            &filter,
            |r| r.id,
        );
        Ok(Response::new(ListWebhookEventsResponse {
            events: rows.into_iter().map(event).collect(),
            next_page_token,
        }))
    }
}
