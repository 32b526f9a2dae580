//! Provider-specific behaviour: the Slack URL verification challenge,
//! HubSpot batches and long delivery ids, Mercado Pago data ids.

use ochre_tests::{prelude::*, webhook_path};

use super::{
    http::{Answer, Http, PUBLIC_URL, accepted, duplicate},
    providers::{P, mac},
    rpc::{connect_hook, new_org, stored},
};

#[tokio::test]
async fn a_signed_slack_url_verification_is_answered_with_its_challenge() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Slack").await;
    let secret = P::Slack.new_secret();
    let integration = connect_hook(&app, &org, P::Slack, &secret).await;
    let challenge = format!(
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P{}",
        unix_now()
    );
    let body = format!(
        r#"{{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"{challenge}","type":"url_verification"}}"#
    );
    let ts = unix_now();
    let tag = mac(
        secret.as_bytes(),
        &[b"v0:", ts.to_string().as_bytes(), b":", body.as_bytes()],
    );
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-slack-request-timestamp".to_owned(), ts.to_string()),
        (
            "x-slack-signature".to_owned(),
            format!("v0={}", hex::encode(tag)),
        ),
    ];
    let path = webhook_path("slack", &org.id, &integration);
    let answer = http
        .send(
            http::Method::POST,
            &path,
            &headers,
            body.clone().into_bytes(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.show());
    assert_eq!(
        answer.json(),
        serde_json::json!({ "challenge": challenge }),
        "{}",
        answer.show()
    );
    let mut bad = headers.clone();
    bad[2].1 = format!(
        "v0={}",
        hex::encode(mac(b"not the secret", &[body.as_bytes()]))
    );
    let answer = http
        .send(http::Method::POST, &path, &bad, body.into_bytes())
        .await;
    assert_eq!(answer.status, 401, "{}", answer.show());
    assert!(
        !answer.text.contains(&challenge),
        "an unverified challenge is not echoed: {}",
        answer.show()
    );
}

/// Posts `body` to integration `integration` of `org` as HubSpot v3 signs
/// it (full public URL, ms timestamp).
async fn post_hubspot(
    http: &Http,
    secret: &str,
    org: &str,
    integration: &str,
    body: &str,
) -> Answer {
    use base64::Engine as _;
    let path = webhook_path("hubspot", org, integration);
    let ms = (unix_now() * 1000).to_string();
    let url = format!("{PUBLIC_URL}{path}");
    let tag = mac(
        secret.as_bytes(),
        &[b"POST", url.as_bytes(), body.as_bytes(), ms.as_bytes()],
    );
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-hubspot-request-timestamp".to_owned(), ms),
        (
            "x-hubspot-signature-v3".to_owned(),
            base64::engine::general_purpose::STANDARD.encode(tag),
        ),
    ];
    http.send(
        http::Method::POST,
        &path,
        &headers,
        body.as_bytes().to_vec(),
    )
    .await
}

/// A HubSpot batch body with these event ids.
fn hubspot_batch(ids: &[u64]) -> String {
    let ms = unix_now() * 1000;
    let events: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(r#"{{"eventId":{id},"subscriptionType":"contact.creation","occurredAt":{ms}}}"#)
        })
        .collect();
    format!("[{}]", events.join(","))
}

#[tokio::test]
async fn a_hubspot_batch_is_one_delivery_identified_by_all_its_event_ids() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "HubSpot").await;
    let secret = P::HubSpot.new_secret();
    let integration = connect_hook(&app, &org, P::HubSpot, &secret).await;
    let body = hubspot_batch(&[1001, 1002]);
    let mut c = Checks::default();
    let first = post_hubspot(&http, &secret, &org.id, &integration, &body).await;
    accepted(&mut c, "batch", &first);
    let again = post_hubspot(&http, &secret, &org.id, &integration, &body).await;
    duplicate(&mut c, "batch again", &again);
    let events = stored(&app, &org, &integration).await;
    let got: Vec<(&str, &[u8])> = events
        .iter()
        .map(|e| (e.delivery_id.as_str(), e.payload.as_slice()))
        .collect();
    c.eq("stored", got, vec![("1001,1002", body.as_bytes())]);
    c.verify();
}

#[tokio::test]
async fn a_delivery_id_over_200_characters_is_kept_as_its_sha256_and_still_deduplicates() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "HubSpot").await;
    let secret = P::HubSpot.new_secret();
    let integration = connect_hook(&app, &org, P::HubSpot, &secret).await;
    let ids: Vec<u64> = (0..30).map(|i| 4_000_000_000_000 + i).collect();
    let joined = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    assert!(joined.len() > 200);
    let body = hubspot_batch(&ids);
    let mut c = Checks::default();
    accepted(
        &mut c,
        "long batch",
        &post_hubspot(&http, &secret, &org.id, &integration, &body).await,
    );
    duplicate(
        &mut c,
        "long batch again",
        &post_hubspot(&http, &secret, &org.id, &integration, &body).await,
    );
    use sha2::Digest as _;
    let digest = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(joined.as_bytes()))
    );
    let events = stored(&app, &org, &integration).await;
    let got: Vec<&str> = events.iter().map(|e| e.delivery_id.as_str()).collect();
    c.eq("stored delivery ids", got, vec![digest.as_str()]);
    c.verify();
}

#[tokio::test]
async fn a_mercado_pago_alphanumeric_data_id_may_be_signed_lower_cased_or_as_sent() {
    // Mercado Pago's docs lower-case an alphanumeric data.id in the signed
    // manifest; several official SDK validators sign it as sent.
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "MP").await;
    let secret = P::MercadoPago.new_secret();
    let integration = connect_hook(&app, &org, P::MercadoPago, &secret).await;
    let sent = "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3";
    let path = format!(
        "{}?data.id={sent}&type=order",
        webhook_path("mercadopago", &org.id, &integration)
    );
    let body = format!(r#"{{"action":"order.processed","type":"order","data":{{"id":"{sent}"}}}}"#);
    let mut c = Checks::default();
    let mut request_ids = Vec::new();
    for (label, signed_id) in [
        ("lower-cased", sent.to_ascii_lowercase()),
        ("as sent", sent.to_owned()),
        ("another id", "ord01other".to_owned()),
    ] {
        let request_id = uuid::Uuid::new_v4().to_string();
        let ts = unix_now();
        let manifest = format!("id:{signed_id};request-id:{request_id};ts:{ts};");
        let tag = mac(secret.as_bytes(), &[manifest.as_bytes()]);
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-request-id".to_owned(), request_id.clone()),
            (
                "x-signature".to_owned(),
                format!("ts={ts},v1={}", hex::encode(tag)),
            ),
        ];
        let answer = http
            .send(
                http::Method::POST,
                &path,
                &headers,
                body.clone().into_bytes(),
            )
            .await;
        if label == "another id" {
            c.that(
                answer.status == 401,
                &format!("{label}: expected 401, got {}", answer.show()),
            );
        } else {
            accepted(&mut c, label, &answer);
            request_ids.push(request_id);
        }
    }
    let events = stored(&app, &org, &integration).await;
    let mut got: Vec<String> = events.into_iter().map(|e| e.delivery_id).collect();
    got.sort();
    request_ids.sort();
    c.eq("delivery ids", got, request_ids);
    c.verify();
}
