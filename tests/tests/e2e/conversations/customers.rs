//! Customers end to end: upsert by normalised email, field limits, custom
//! fields. Other orgs' and unknown ids: `isolation::rpc`.

use ochre_sdk::v1::{CustomFieldValue, HubSpotContext, StripeContext, custom_field_value::Value};
use ochre_tests::{
    prelude::*,
    support::{field, number_field, string_field, upsert_request},
};

use super::{BAD, OK, app_with_org};

#[tokio::test]
async fn a_second_upsert_of_a_normalized_email_replaces_every_field() {
    let (_app, _owner, api) = app_with_org().await;
    let stamp = prost_types::Timestamp::date(2024, 2, 29).unwrap();
    let mut sent = upsert_request("  Ada.Lovelace@Example.COM ");
    (sent.name, sent.phone) = ("Ada".into(), "+44 (20) 7946-0958".into());
    let fields = [
        ("plan_tier", string_field("gold")),
        ("seats", number_field(42.5)),
        ("vip", field(Value::BoolValue(true))),
        ("renewal", field(Value::TimestampValue(stamp))),
    ];
    sent.custom_fields = fields.map(|(k, v)| (k.to_owned(), v)).into();
    let mut stripe = StripeContext::default();
    (stripe.customer_id, stripe.plan) = ("cus_1".into(), "pro".into());
    (stripe.currency, stripe.mrr_cents) = ("eur".into(), 4_900);
    stripe.subscription_status = "active".into();
    let mut hubspot = HubSpotContext::default();
    (hubspot.contact_id, hubspot.lifecycle_stage) = ("501".into(), "customer".into());
    (hubspot.lead_status, hubspot.company) = ("open".into(), "Engines Ltd".into());
    hubspot.deal_stage = "closedwon".into();
    (sent.stripe, sent.hubspot) = (Some(stripe), Some(hubspot));
    let created = api.upsert_customer(sent.clone()).await.unwrap();
    assert!(created.created, "the first upsert creates");
    let got = created.customer.unwrap();
    assert_eq!(got.email, "ada.lovelace@example.com");
    assert_eq!((&got.name, &got.phone), (&sent.name, &sent.phone));
    assert_eq!(got.custom_fields, sent.custom_fields);
    assert_eq!((&got.stripe, &got.hubspot), (&sent.stripe, &sent.hubspot));
    assert_eq!(api.customer_by_id(&got.id).await.unwrap(), got);
    assert_eq!(api.find(" ADA.lovelace@Example.com").await.unwrap(), got);
    let mut second = upsert_request("ada.lovelace@example.com");
    let plan = "enterprise".to_owned();
    second.stripe = Some(StripeContext {
        plan,
        ..Default::default()
    });
    second.name = "Augusta Ada King".into();
    let updated = api.upsert_customer(second.clone()).await.unwrap();
    assert!(!updated.created, "the second upsert updates");
    assert_eq!(updated.customer.unwrap().id, got.id);
    let again = api.customer_by_id(&got.id).await.unwrap();
    assert_eq!((&*again.name, &*again.phone), ("Augusta Ada King", ""));
    assert!(again.custom_fields.is_empty(), "custom fields are replaced");
    assert_eq!(again.stripe, second.stripe);
    let hubspot = again.hubspot.unwrap_or_default();
    assert_eq!(hubspot, HubSpotContext::default(), "hubspot is replaced");
    assert_eq!(api.all_customer_ids(0).await, vec![got.id]);
}

#[tokio::test]
async fn email_name_and_phone_are_validated() {
    let (_app, _owner, api) = app_with_org().await;
    let mut c = Checks::default();
    let long = format!("{}@example.com", "a".repeat(250));
    for email in ["", " ", "plainaddress", "@example.com", "user@", &long] {
        let w = format!("email {email:?}");
        c.call(&w, BAD, api.upsert(upsert_request(email))).await;
    }
    for (n, ch, code) in [(200, "a", OK), (200, "é", OK), (201, "a", BAD)] {
        let mut request = upsert_request("name@example.com");
        request.name = ch.repeat(n);
        let w = format!("a name of {n} {ch:?}");
        c.call(&w, code, api.upsert(request)).await;
    }
    let (fifty, fifty_one) = ("1".repeat(50), "1".repeat(51));
    let good = ["+1 (555) 010-0199.", &fifty].map(|p| (p, OK));
    let bad = [
        "555-CALL-NOW",
        "555;0100",
        "555\n0100",
        "５５５",
        &fifty_one,
    ];
    for (phone, code) in good.into_iter().chain(bad.map(|p| (p, BAD))) {
        let mut request = upsert_request("phone@example.com");
        request.phone = phone.to_owned();
        let w = format!("phone {phone:?}");
        c.call(&w, code, api.upsert(request)).await;
    }
    c.verify();
}

#[tokio::test]
async fn custom_fields_are_limited_in_number_key_shape_and_value() {
    let (_app, _owner, api) = app_with_org().await;
    let mut c = Checks::default();
    let upsert = |fields: Vec<(String, CustomFieldValue)>| {
        let mut request = upsert_request("fields@example.com");
        request.custom_fields = fields.into_iter().collect();
        api.upsert(request)
    };
    for (count, code) in [(100, OK), (101, BAD)] {
        let field = |i| (format!("f_{i}"), number_field(1.0));
        let fields = (0..count).map(field).collect();
        c.call(&format!("{count} fields"), code, upsert(fields))
            .await;
    }
    let (k64, k65) = ("k".repeat(64), "k".repeat(65));
    let keys = [(&*k64, OK), ("a_1_z", OK), ("", BAD), (&k65, BAD)];
    let bad = [
        "Upper",
        "with-dash",
        "with space",
        "émoji",
        "dot.ted",
        "a/b",
    ];
    for (key, code) in keys.into_iter().chain(bad.map(|k| (k, BAD))) {
        let fields = vec![(key.to_owned(), string_field("x"))];
        c.call(&format!("key {key:?}"), code, upsert(fields)).await;
    }
    let values = [
        ("a 2048-char string", string_field(&"v".repeat(2048)), OK),
        ("a 2049-char string", string_field(&"v".repeat(2049)), BAD),
        ("NaN", number_field(f64::NAN), BAD),
        ("infinity", number_field(f64::INFINITY), BAD),
        ("-infinity", number_field(f64::NEG_INFINITY), BAD),
        ("no oneof set", CustomFieldValue { value: None }, BAD),
    ];
    for (w, value, code) in values {
        c.call(w, code, upsert(vec![("field".into(), value)])).await;
    }
    c.verify();
}
