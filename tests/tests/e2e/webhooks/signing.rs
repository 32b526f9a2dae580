//! Deliveries signed the way each provider signs them, computed here with
//! `hmac`/`sha2` from the providers' published schemes (never with the
//! server's verifier).

use ochre_tests::{clock::unix_now, webhook_path};
use sha2::{Digest as _, Sha256};

use super::{
    delivery::Delivery,
    http::PUBLIC_URL,
    providers::{P, b64, mac},
};

/// The text every payload carries (see [`Delivery::tampered`]).
pub const ORIGINAL: &str = "original";

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
            ts: unix_now(),
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

    /// The request to send to integration `integration` of org `org`.
    pub fn build(&self, org: &str, integration: &str) -> Delivery {
        let p = self.provider;
        let ts = self.ts;
        let ts_text = ts.to_string();
        let ms_text = (ts * 1000 + 250).to_string();
        let seed = self.seed.simple().to_string();
        let uuid = self.seed.hyphenated().to_string();
        let note = format!("{ORIGINAL} {}", self.canary);
        let mut path = webhook_path(p.id(), org, integration);
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

/// A GitHub delivery to integration `integration` of org `org` whose JSON
/// body is exactly `len` bytes.
pub fn github_body_of(secret: &str, org: &str, integration: &str, len: usize) -> Delivery {
    let head = r#"{"action":"opened","pad":""#;
    let tail = r#""}"#;
    let body = format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()));
    assert_eq!(body.len(), len);
    let tag = mac(secret.as_bytes(), &[body.as_bytes()]);
    Hook::new(P::GitHub, secret)
        .build(org, integration)
        .with_body(body.into_bytes())
        .with_header(
            "x-hub-signature-256",
            &format!("sha256={}", hex::encode(tag)),
        )
}
