//! One built delivery and the ways a test spoils it after signing: headers
//! changed or dropped, another path, a tampered body or signed header.

use super::{providers::P, signing::ORIGINAL};

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
}
