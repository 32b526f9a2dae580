//! Plain HTTP/1.1 to the test server
//! (`/webhooks/{provider}/{org_id}/{integration_id}`, `/cron/{job}`) and the
//! checks every answer is held to.

use std::time::Duration;

use ochre_tests::prelude::*;

use super::delivery::Delivery;

/// The test server's `OCHRE_PUBLIC_URL` (HubSpot signs the full URL).
pub const PUBLIC_URL: &str = "https://app.ochre.test";

/// The largest body the ingress accepts.
pub const MAX_BODY: usize = 1_048_576;

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
