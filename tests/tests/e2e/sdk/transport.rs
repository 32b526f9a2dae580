//! The client's other doors: the generated clients through its
//! interceptor, another org with `with_org`, gzip, and TLS for `https://`.

use std::time::Duration;

use ochre_sdk::{
    client::OchreClient,
    v1::{GetOrgRequest, ListCustomersRequest, customer_service_client::CustomerServiceClient},
};
use ochre_tests::prelude::*;

use super::{org_with_key, tokens_expiring, url};

#[tokio::test]
async fn the_generated_clients_call_with_the_clients_credential_through_its_interceptor() {
    let app = spawn_app().await;
    let (_, org, key) = org_with_key(&app).await;
    let client = super::key_client(url(&app), &key, &org).await;
    let mut raw = CustomerServiceClient::with_interceptor(client.channel(), client.interceptor());
    let page = raw
        .list_customers(ListCustomersRequest::default())
        .await
        .expect("authorized by the interceptor's headers")
        .into_inner();
    assert!(page.customers.is_empty());
    // Without it, the same call is refused.
    let bare = CustomerServiceClient::new(client.channel())
        .list_customers(ListCustomersRequest::default())
        .await;
    assert_eq!(code_of(&bare), Code::Unauthenticated);
}

#[tokio::test]
async fn one_session_acts_on_each_of_its_orgs_with_with_org() {
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let first = create_org(&app, &user, "First").await;
    let second = create_org(&app, &user, "Second").await;
    let client = OchreClient::builder(url(&app))
        .session(tokens_expiring(&app, &user, Duration::from_secs(600)).await)
        .org(&first)
        .gzip(true)
        .build()
        .await
        .expect("a session client");
    let name = |c: &OchreClient| {
        let c = c.clone();
        async move {
            c.orgs()
                .get_org(GetOrgRequest::default())
                .await
                .expect("get org")
                .org
                .map(|o| o.name)
        }
    };
    assert_eq!(name(&client).await.as_deref(), Some("First"));
    let other = client.with_org(&second).expect("a UUID");
    assert_eq!(name(&other).await.as_deref(), Some("Second"));
    assert_eq!(name(&client).await.as_deref(), Some("First"), "unchanged");
    assert!(client.with_org("not-an-org").is_err());
}

#[tokio::test]
async fn an_https_url_speaks_tls_and_a_plaintext_server_is_refused() {
    let app = spawn_app().await;
    // The test server speaks plaintext: the TLS handshake cannot succeed,
    // and the call fails without ever being sent in the clear.
    let client = OchreClient::builder(format!("https://{}", app.addr))
        .retries(0)
        .build()
        .await
        .expect("a client");
    let err = client
        .system()
        .get_server_info(Default::default())
        .await
        .expect_err("no TLS there");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let plain = OchreClient::builder(url(&app))
        .build()
        .await
        .expect("a client");
    plain
        .system()
        .get_server_info(Default::default())
        .await
        .expect("the same call over http://");
}
