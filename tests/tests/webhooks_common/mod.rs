//! Helpers shared by the webhook test binaries: deliveries signed the way
//! each provider signs them (computed here with `hmac`/`sha2` from the
//! providers' published schemes, never with the server's verifier), posted
//! over plain HTTP/1.1 to `/webhooks/{provider}/{integration_id}`, and the
//! stored events read back through `WebhookService.ListWebhookEvents`.

#![allow(dead_code, unused_imports)]

use std::{
    collections::HashMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use ochre_sdk::v1::{
    ConnectIntegrationRequest, ListWebhookEventsRequest, ListWebhookEventsResponse, WebhookEvent,
    integration_service_client::IntegrationServiceClient,
    webhook_service_client::WebhookServiceClient,
};
use ochre_tests::{
    TestApp,
    identity::{Session, create_org, signup_and_login, unique_email, with_auth},
    support::Checks,
};
use sha2::{Digest as _, Sha256};
use tonic::Status;

/// The test server's `OCHRE_PUBLIC_URL` (HubSpot signs the full URL).
pub const PUBLIC_URL: &str = "https://app.ochre.test";

/// The largest body the ingress accepts.
pub const MAX_BODY: usize = 1_048_576;

/// The text every payload carries (see [`Delivery::tampered`]).
const ORIGINAL: &str = "original";

/// Pages read before a list is declared endless.
const MAX_PAGES: usize = 200;

/// A webhook sender, as the tests know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum P {
    Stripe,
    Slack,
    HubSpot,
    Linear,
    GitHub,
    Resend,
    Meta,
    Paddle,
    MercadoPago,
}

impl P {
    pub const ALL: [P; 9] = [
        P::Stripe,
        P::Slack,
        P::HubSpot,
        P::Linear,
        P::GitHub,
        P::Resend,
        P::Meta,
        P::Paddle,
        P::MercadoPago,
    ];

    /// The catalog id, also the path segment.
    pub fn id(self) -> &'static str {
        match self {
            P::Stripe => "stripe",
            P::Slack => "slack",
            P::HubSpot => "hubspot",
            P::Linear => "linear",
            P::GitHub => "github",
            P::Resend => "resend",
            P::Meta => "meta",
            P::Paddle => "paddle",
            P::MercadoPago => "mercadopago",
        }
    }

    /// The vault field holding the signing secret.
    pub fn field(self) -> &'static str {
        match self {
            P::Slack => "signing_secret",
            P::Meta => "app_secret",
            _ => "webhook_signing_secret",
        }
    }

    /// The signed timestamp's window, for providers that sign one.
    pub fn window_secs(self) -> Option<u64> {
        match self {
            P::Stripe | P::Slack | P::HubSpot | P::Resend | P::MercadoPago => Some(300),
            P::Linear => Some(60),
            P::Paddle => Some(5),
            P::GitHub | P::Meta => None,
        }
    }

    /// Whether one header carries several signatures during a rotation.
    pub fn multi_signature(self) -> bool {
        matches!(self, P::Stripe | P::Resend | P::Paddle)
    }

    /// A fresh signing secret in the provider's format: Resend's is
    /// `whsec_` + base64 of random key bytes, the others a random string.
    pub fn new_secret(self) -> String {
        let mut bytes = uuid::Uuid::new_v4().as_bytes().to_vec();
        bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        match self {
            P::Resend => format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
            _ => format!("{}_whsecret_{}", self.id(), hex::encode(bytes)),
        }
    }

    /// The header carrying the signature.
    pub fn signature_header(self) -> &'static str {
        match self {
            P::Stripe => "stripe-signature",
            P::Slack => "x-slack-signature",
            P::HubSpot => "x-hubspot-signature-v3",
            P::Linear => "linear-signature",
            P::GitHub | P::Meta => "x-hub-signature-256",
            P::Resend => "svix-signature",
            P::Paddle => "paddle-signature",
            P::MercadoPago => "x-signature",
        }
    }

    /// A signature header value that cannot be parsed.
    pub fn malformed_signature(self) -> &'static str {
        match self {
            P::Stripe | P::Paddle | P::MercadoPago => "garbage",
            P::Slack => "v0=zz",
            P::HubSpot => "***not base64***",
            P::Linear => "zz",
            P::GitHub | P::Meta => "sha1=abc",
            P::Resend => "garbage",
        }
    }

    /// Other headers the scheme requires (without them: 400).
    pub fn other_required_headers(self) -> &'static [&'static str] {
        match self {
            P::Slack => &["x-slack-request-timestamp"],
            P::HubSpot => &["x-hubspot-request-timestamp"],
            P::Linear => &["linear-delivery"],
            P::GitHub => &["x-github-delivery"],
            P::Resend => &["svix-id", "svix-timestamp"],
            P::MercadoPago => &["x-request-id"],
            P::Stripe | P::Meta | P::Paddle => &[],
        }
    }

    /// The HMAC key a secret string stands for.
    pub fn key(self, secret: &str) -> Vec<u8> {
        match self {
            P::Resend => {
                let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .expect("a Resend secret is whsec_ + base64")
            }
            _ => secret.as_bytes().to_vec(),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// HMAC-SHA256 of the concatenated parts.
pub fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        m.update(part);
    }
    m.finalize().into_bytes().into()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A delivery to build: which provider, what it says, when and with which
/// secrets it is signed.
#[derive(Debug, Clone)]
pub struct Hook {
    pub provider: P,
    /// Makes every delivery id of this hook unique.
    pub seed: uuid::Uuid,
    /// The signed time, Unix seconds.
    pub ts: u64,
    /// One signature per secret (the first only, where a header holds one).
    pub secrets: Vec<String>,
    /// Corrupt every MAC (one bit of the tag).
    pub flip: bool,
    /// Resend: `webhook-*` header names instead of `svix-*`.
    pub standard_headers: bool,
    /// A unique string inside the payload, never to be echoed in an error.
    pub canary: String,
}

impl Hook {
    /// A delivery of `provider` signed now with `secret`.
    pub fn new(provider: P, secret: &str) -> Hook {
        Hook {
            provider,
            seed: uuid::Uuid::new_v4(),
            ts: now(),
            secrets: vec![secret.to_owned()],
            flip: false,
            standard_headers: false,
            canary: format!("canary{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Signed at `ts` instead of now.
    pub fn at(mut self, ts: u64) -> Hook {
        self.ts = ts;
        self
    }

    /// Signed with these secrets (several signatures where supported).
    pub fn signed_by(mut self, secrets: &[&str]) -> Hook {
        self.secrets = secrets.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// With every signature corrupted.
    pub fn flipped(mut self) -> Hook {
        self.flip = true;
        self
    }

    /// Resend with Standard Webhooks header names.
    pub fn standard_headers(mut self) -> Hook {
        self.standard_headers = true;
        self
    }

    fn tags(&self, parts: &[&[u8]]) -> Vec<[u8; 32]> {
        let mut tags: Vec<[u8; 32]> = self
            .secrets
            .iter()
            .map(|s| mac(&self.provider.key(s), parts))
            .collect();
        if !self.provider.multi_signature() {
            tags.truncate(1);
        }
        if self.flip {
            for tag in &mut tags {
                tag[0] ^= 0x01;
            }
        }
        tags
    }

    fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.tags(parts)[0]
    }

    /// A number derived from the seed (HubSpot event ids, Mercado Pago
    /// data ids), below 2^53 so JSON keeps it exact.
    fn number(&self) -> u64 {
        let bytes = self.seed.as_bytes();
        let mut head = [0u8; 8];
        head.copy_from_slice(&bytes[..8]);
        (u64::from_be_bytes(head) >> 12) + 1
    }

    /// The request to send to this integration.
    pub fn build(&self, integration: &str) -> Delivery {
        let p = self.provider;
        let ts = self.ts;
        let ts_text = ts.to_string();
        let ms_text = (ts * 1000 + 250).to_string();
        let seed = self.seed.simple().to_string();
        let uuid = self.seed.hyphenated().to_string();
        let note = format!("{ORIGINAL} {}", self.canary);
        let mut path = format!("/webhooks/{}/{integration}", p.id());
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut header = |name: &str, value: String| headers.push((name.to_owned(), value));
        let body: String;
        let delivery_id: String;
        match p {
            P::Stripe => {
                body = format!(
                    r#"{{"id":"evt_{seed}","object":"event","api_version":"2024-06-20","created":{ts},"type":"customer.updated","data":{{"object":{{"id":"cus_1","description":"{note}"}}}}}}"#
                );
                delivery_id = format!("evt_{seed}");
                let sigs: Vec<String> = self
                    .tags(&[ts_text.as_bytes(), b".", body.as_bytes()])
                    .iter()
                    .map(|t| format!(",v1={}", hex::encode(t)))
                    .collect();
                header("stripe-signature", format!("t={ts}{}", sigs.concat()));
            }
            P::Slack => {
                body = format!(
                    r#"{{"token":"legacy","team_id":"T0001","api_app_id":"A0001","type":"event_callback","event_id":"Ev{seed}","event_time":{ts},"event":{{"type":"app_mention","user":"U1","text":"{note}"}}}}"#
                );
                delivery_id = format!("Ev{seed}");
                let tag = self.tag(&[b"v0:", ts_text.as_bytes(), b":", body.as_bytes()]);
                header("x-slack-request-timestamp", ts_text.clone());
                header("x-slack-signature", format!("v0={}", hex::encode(tag)));
            }
            P::HubSpot => {
                let event = self.number();
                body = format!(
                    r#"[{{"eventId":{event},"subscriptionId":7,"portalId":62515,"appId":1160452,"occurredAt":{ms_text},"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":123,"propertyName":"message","propertyValue":"{note}"}}]"#
                );
                delivery_id = event.to_string();
                let url = format!("{PUBLIC_URL}{path}");
                let tag = self.tag(&[b"POST", url.as_bytes(), body.as_bytes(), ms_text.as_bytes()]);
                header("x-hubspot-request-timestamp", ms_text.clone());
                header("x-hubspot-signature-v3", b64(&tag));
            }
            P::Linear => {
                body = format!(
                    r#"{{"action":"create","type":"Issue","data":{{"id":"{uuid}","title":"{note}"}},"url":"https://linear.app/acme/issue/ACM-1","organizationId":"org1","webhookTimestamp":{ms_text}}}"#
                );
                delivery_id = uuid.clone();
                let tag = self.tag(&[body.as_bytes()]);
                header("linear-delivery", uuid.clone());
                header("linear-event", "Issue".to_owned());
                header("linear-signature", hex::encode(tag));
            }
            P::GitHub => {
                body = format!(
                    r#"{{"action":"opened","issue":{{"number":1,"title":"{note}","node_id":"{seed}"}},"repository":{{"full_name":"acme/app"}}}}"#
                );
                delivery_id = uuid.clone();
                let tag = self.tag(&[body.as_bytes()]);
                header("x-github-delivery", uuid.clone());
                header("x-github-event", "issues".to_owned());
                header(
                    "x-hub-signature-256",
                    format!("sha256={}", hex::encode(tag)),
                );
            }
            P::Resend => {
                body = format!(
                    r#"{{"type":"email.delivered","created_at":"2024-11-22T23:41:12.126Z","data":{{"email_id":"{uuid}","from":"Acme <support@acme.test>","subject":"{note}"}}}}"#
                );
                let id = format!("msg_{seed}");
                delivery_id = id.clone();
                let sigs: Vec<String> = self
                    .tags(&[
                        id.as_bytes(),
                        b".",
                        ts_text.as_bytes(),
                        b".",
                        body.as_bytes(),
                    ])
                    .iter()
                    .map(|t| format!("v1,{}", b64(t)))
                    .collect();
                let family = if self.standard_headers {
                    "webhook"
                } else {
                    "svix"
                };
                header(&format!("{family}-id"), id);
                header(&format!("{family}-timestamp"), ts_text.clone());
                header(&format!("{family}-signature"), sigs.join(" "));
            }
            P::Meta => {
                body = format!(
                    r#"{{"object":"whatsapp_business_account","entry":[{{"id":"{seed}","changes":[{{"field":"messages","value":{{"messaging_product":"whatsapp","messages":[{{"type":"text","text":{{"body":"{note}"}}}}]}}}}]}}]}}"#
                );
                delivery_id = hex::encode(Sha256::digest(body.as_bytes()));
                let tag = self.tag(&[body.as_bytes()]);
                header(
                    "x-hub-signature-256",
                    format!("sha256={}", hex::encode(tag)),
                );
            }
            P::Paddle => {
                body = format!(
                    r#"{{"event_id":"evt_{seed}","event_type":"transaction.completed","occurred_at":"2024-04-12T10:18:49.621022Z","notification_id":"ntf_{seed}","data":{{"id":"txn_1","note":"{note}"}}}}"#
                );
                delivery_id = format!("evt_{seed}");
                let sigs: Vec<String> = self
                    .tags(&[ts_text.as_bytes(), b":", body.as_bytes()])
                    .iter()
                    .map(|t| format!(";h1={}", hex::encode(t)))
                    .collect();
                header("paddle-signature", format!("ts={ts}{}", sigs.concat()));
            }
            P::MercadoPago => {
                let data_id = self.number();
                path.push_str(&format!("?data.id={data_id}&type=payment"));
                body = format!(
                    r#"{{"action":"payment.updated","api_version":"v1","data":{{"id":"{data_id}"}},"date_created":"2024-01-10T17:33:30Z","id":{data_id},"live_mode":false,"type":"payment","user_id":"44444","note":"{note}"}}"#
                );
                delivery_id = uuid.clone();
                let manifest = format!("id:{data_id};request-id:{uuid};ts:{ts};");
                let tag = self.tag(&[manifest.as_bytes()]);
                header("x-request-id", uuid.clone());
                header("x-signature", format!("ts={ts},v1={}", hex::encode(tag)));
            }
        }
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
        Delivery {
            provider: p,
            path,
            headers,
            body: body.into_bytes(),
            delivery_id,
            ts,
            canary: self.canary.clone(),
            secrets: self.secrets.clone(),
        }
    }
}

/// One HTTP request as a provider would send it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub provider: P,
    /// Path and query.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The delivery id the provider's scheme names.
    pub delivery_id: String,
    /// The signed time, Unix seconds.
    pub ts: u64,
    /// A unique string inside the body.
    pub canary: String,
    /// The secrets it was signed with.
    pub secrets: Vec<String>,
}

impl Delivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// With `name` set to `value` (replaced when present).
    pub fn with_header(mut self, name: &str, value: &str) -> Delivery {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Without the header `name`.
    pub fn without_header(mut self, name: &str) -> Delivery {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// To another path (and query).
    pub fn at_path(mut self, path: &str) -> Delivery {
        self.path = path.to_owned();
        self
    }

    /// With another body (the signature unchanged).
    pub fn with_body(mut self, body: Vec<u8>) -> Delivery {
        self.body = body;
        self
    }

    /// The signed data changed after signing: one word of the body, or for
    /// Mercado Pago (which signs no body bytes) the query's `data.id`.
    pub fn tampered(self) -> Delivery {
        if self.provider == P::MercadoPago {
            let path = self.path.replacen("?data.id=", "?data.id=9", 1);
            return self.at_path(&path);
        }
        let text = String::from_utf8(self.body.clone()).expect("test bodies are UTF-8");
        assert!(text.contains(ORIGINAL), "the body holds the word to change");
        let body = text.replacen(ORIGINAL, "tampered", 1).into_bytes();
        self.with_body(body)
    }

    /// A signed header other than the signature changed after signing, for
    /// schemes that sign one (Linear, GitHub and Meta sign only the body).
    pub fn signed_header_changed(self) -> Option<Delivery> {
        let (ts, later) = (self.ts.to_string(), (self.ts + 1).to_string());
        let other_id = uuid::Uuid::new_v4().hyphenated().to_string();
        match self.provider {
            P::Stripe => {
                let value = self.header("stripe-signature")?.replacen(
                    &format!("t={ts}"),
                    &format!("t={later}"),
                    1,
                );
                Some(self.with_header("stripe-signature", &value))
            }
            P::Slack => Some(self.with_header("x-slack-request-timestamp", &later)),
            P::HubSpot => {
                let ms = (self.ts * 1000 + 251).to_string();
                Some(self.with_header("x-hubspot-request-timestamp", &ms))
            }
            P::Resend => Some(self.with_header("svix-id", &format!("msg_{other_id}"))),
            P::Paddle => {
                let value = self.header("paddle-signature")?.replacen(
                    &format!("ts={ts}"),
                    &format!("ts={later}"),
                    1,
                );
                Some(self.with_header("paddle-signature", &value))
            }
            P::MercadoPago => Some(self.with_header("x-request-id", &other_id)),
            P::Linear | P::GitHub | P::Meta => None,
        }
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the server answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub text: String,
}

impl Answer {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or(serde_json::Value::Null)
    }

    /// The `status` field of a JSON answer.
    pub fn outcome(&self) -> String {
        self.json()
            .get("status")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    /// The `event_id` of an accepted answer.
    pub fn event_id(&self) -> String {
        self.json()
            .get("event_id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }

    /// A short description for failure messages.
    pub fn show(&self) -> String {
        let text: String = self.text.chars().take(300).collect();
        format!("{} {text}", self.status)
    }
}

/// A plain HTTP/1.1 client of one test server.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    pub fn new(app: &TestApp) -> Http {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(128)
            .build()
            .expect("an HTTP client");
        Http {
            client,
            base: format!("http://{}", app.addr),
        }
    }

    /// Sends `method path` with these headers and body.
    pub async fn send(
        &self,
        method: http::Method,
        path: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(method.clone(), &url).body(body);
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: reading the answer: {e:?}"));
        Answer {
            status,
            headers,
            text,
        }
    }

    /// POSTs a delivery.
    pub async fn post(&self, delivery: &Delivery) -> Answer {
        self.send(
            http::Method::POST,
            &delivery.path,
            &delivery.headers,
            delivery.body.clone(),
        )
        .await
    }

    /// A request carrying `Authorization: Bearer <bearer>` when given.
    pub async fn with_bearer(
        &self,
        method: http::Method,
        path: &str,
        bearer: Option<&str>,
    ) -> Answer {
        let headers: Vec<(String, String)> = bearer
            .map(|b| vec![("authorization".to_owned(), format!("Bearer {b}"))])
            .unwrap_or_default();
        self.send(method, path, &headers, Vec::new()).await
    }

    /// The Prometheus text of `/metrics` (panics unless 200).
    pub async fn metrics(&self, bearer: &str) -> String {
        let answer = self
            .with_bearer(http::Method::GET, "/metrics", Some(bearer))
            .await;
        assert_eq!(answer.status, 200, "GET /metrics: {}", answer.show());
        answer.text
    }
}

/// The value of `ochre_webhook_deliveries_total` for this provider and
/// outcome (0 when the series is absent), whatever the label order.
pub fn delivery_count(metrics: &str, provider: &str, outcome: &str) -> u64 {
    let mut total = 0;
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("ochre_webhook_deliveries_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        let labels: HashMap<&str, &str> = labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .collect();
        if labels.get("provider") == Some(&provider) && labels.get("outcome") == Some(&outcome) {
            let value = value.split_whitespace().next().unwrap_or("0");
            total += value
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("a numeric sample: {line:?}"))
                as u64;
        }
    }
    total
}

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
    };
    IntegrationServiceClient::new(app.channel.clone())
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
    WebhookServiceClient::new(app.channel.clone())
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

/// Records whether `answer` is 200 `{"status":"accepted","event_id":<uuid>}`;
/// returns the event id.
pub fn accepted(c: &mut Checks, what: &str, answer: &Answer) -> String {
    let event_id = answer.event_id();
    let ok = answer.status == 200
        && answer.outcome() == "accepted"
        && uuid::Uuid::parse_str(&event_id).is_ok();
    c.that(
        ok,
        &format!(
            "{what}: expected 200 accepted with a uuid event_id, got {}",
            answer.show()
        ),
    );
    event_id
}

/// Records whether `answer` is 200 `{"status":"duplicate"}`.
pub fn duplicate(c: &mut Checks, what: &str, answer: &Answer) {
    let ok = answer.status == 200 && answer.outcome() == "duplicate";
    c.that(
        ok,
        &format!("{what}: expected 200 duplicate, got {}", answer.show()),
    );
}

/// Records whether `answer` is a refusal with `status` and a JSON `error`
/// that echoes neither a secret nor the delivery's body.
pub fn refused(c: &mut Checks, what: &str, answer: &Answer, status: u16, delivery: &Delivery) {
    c.that(
        answer.status == status,
        &format!("{what}: expected {status}, got {}", answer.show()),
    );
    let has_error = answer.json().get("error").is_some();
    c.that(
        has_error,
        &format!(
            "{what}: expected a JSON {{\"error\":..}} body, got {}",
            answer.show()
        ),
    );
    for secret in &delivery.secrets {
        c.that(
            !answer.text.contains(secret.as_str()),
            &format!("{what}: the answer echoes a secret"),
        );
    }
    c.that(
        !answer.text.contains(&delivery.canary),
        &format!("{what}: the answer echoes the body"),
    );
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
