//! Signing-secret rotation (the previous secret kept for 24 hours, only
//! the one replaced) and several signatures in one header.

use ochre_tests::prelude::*;
use sea_orm::ConnectionTrait as _;

use super::{
    http::{Http, accepted, refused},
    providers::P,
    rpc::{app_with_every_provider, connect_hook, new_org, replace_leaked_hook_secret, stored},
    signing::Hook,
};

#[tokio::test]
async fn a_rotated_secret_accepts_the_new_and_the_previous_secret_and_refuses_an_unknown_one() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Rotation").await;
    let mut c = Checks::default();
    for p in P::ALL {
        let (old, new, unknown) = (p.new_secret(), p.new_secret(), p.new_secret());
        let integration = connect_hook(&app, &org, p, &old).await;
        let again = connect_hook(&app, &org, p, &new).await;
        c.eq(
            &format!("{}: same integration", p.id()),
            &again,
            &integration,
        );
        for (label, secret) in [("new", &new), ("previous", &old)] {
            let delivery = Hook::new(p, secret).build(&org.id, &integration);
            let answer = http.post(&delivery).await;
            accepted(&mut c, &format!("{}: {label} secret", p.id()), &answer);
        }
        let delivery = Hook::new(p, &unknown).build(&org.id, &integration);
        let answer = http.post(&delivery).await;
        let what = format!("{}: unknown secret", p.id());
        refused(&mut c, &what, &answer, 401, &delivery);
        c.eq(p.id(), stored(&app, &org, &integration).await.len(), 2);
    }
    c.verify();
}

/// Sets the age of `integration`'s `<field>.previous` row; the rows changed.
async fn age_previous(app: &TestApp, integration: &str, field: &str, hours: u32) -> u64 {
    app.superuser_db()
        .await
        .execute_unprepared(&format!(
            "UPDATE integration_secrets SET updated_at = now() - interval '{hours} hours' \
              WHERE integration_id = '{integration}' AND field = '{field}.previous'"
        ))
        .await
        .unwrap()
        .rows_affected()
}

#[tokio::test]
async fn a_previous_secret_older_than_24_hours_is_refused_and_the_new_one_still_works() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Rotation").await;
    let mut c = Checks::default();
    for p in P::ALL {
        let (old, new) = (p.new_secret(), p.new_secret());
        let integration = connect_hook(&app, &org, p, &old).await;
        connect_hook(&app, &org, p, &new).await;
        let rows = age_previous(&app, &integration, p.field(), 23).await;
        c.eq(
            &format!("{}: rows named {}.previous", p.id(), p.field()),
            rows,
            1,
        );
        let delivery = Hook::new(p, &old).build(&org.id, &integration);
        let answer = http.post(&delivery).await;
        accepted(&mut c, &format!("{}: previous after 23 h", p.id()), &answer);
        age_previous(&app, &integration, p.field(), 25).await;
        let delivery = Hook::new(p, &old).build(&org.id, &integration);
        let answer = http.post(&delivery).await;
        let what = format!("{}: previous secret after 25 h", p.id());
        refused(&mut c, &what, &answer, 401, &delivery);
        let delivery = Hook::new(p, &new).build(&org.id, &integration);
        let answer = http.post(&delivery).await;
        accepted(&mut c, &format!("{}: new secret", p.id()), &answer);
        c.eq(p.id(), stored(&app, &org, &integration).await.len(), 2);
    }
    c.verify();
}

#[tokio::test]
async fn a_second_rotation_keeps_only_the_secret_it_replaced() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Rotation").await;
    let mut c = Checks::default();
    for p in P::ALL {
        let (first, second, third) = (p.new_secret(), p.new_secret(), p.new_secret());
        let integration = connect_hook(&app, &org, p, &first).await;
        connect_hook(&app, &org, p, &second).await;
        connect_hook(&app, &org, p, &third).await;
        for (label, secret) in [("third (current)", &third), ("second (previous)", &second)] {
            let delivery = Hook::new(p, secret).build(&org.id, &integration);
            let answer = http.post(&delivery).await;
            accepted(&mut c, &format!("{}: {label}", p.id()), &answer);
        }
        let delivery = Hook::new(p, &first).build(&org.id, &integration);
        let answer = http.post(&delivery).await;
        let what = format!("{}: first, replaced twice", p.id());
        refused(&mut c, &what, &answer, 401, &delivery);
    }
    c.verify();
}

#[tokio::test]
async fn a_leaked_secret_replaced_with_revocation_stops_verifying_at_once() {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Leak").await;
    let mut c = Checks::default();
    for p in P::ALL {
        let (leaked, older, fresh) = (p.new_secret(), p.new_secret(), p.new_secret());
        let integration = connect_hook(&app, &org, p, &older).await;
        // A rotation under way: `older` is the previous secret of `leaked`.
        connect_hook(&app, &org, p, &leaked).await;
        replace_leaked_hook_secret(&app, &org, p, &fresh).await;
        for (label, secret) in [("leaked", &leaked), ("older", &older)] {
            let delivery = Hook::new(p, secret).build(&org.id, &integration);
            let what = format!("{}: {label} after a revoking re-paste", p.id());
            refused(&mut c, &what, &http.post(&delivery).await, 401, &delivery);
        }
        let delivery = Hook::new(p, &fresh).build(&org.id, &integration);
        accepted(
            &mut c,
            &format!("{}: fresh", p.id()),
            &http.post(&delivery).await,
        );
    }
    c.verify();
}

#[tokio::test]
async fn several_signatures_in_one_header_are_accepted_when_any_one_matches() {
    let (app, org, hooks) = app_with_every_provider().await;
    let http = Http::new(&app);
    let mut c = Checks::default();
    for (p, secret, integration) in hooks.iter().filter(|h| h.0.multi_signature()) {
        let (x, y) = (p.new_secret(), p.new_secret());
        for (label, secrets) in [
            ("unknown then right", [x.as_str(), secret.as_str()]),
            ("right then unknown", [secret.as_str(), y.as_str()]),
        ] {
            let delivery = Hook::new(*p, secret)
                .signed_by(&secrets)
                .build(&org.id, integration);
            let sig = delivery.header(p.signature_header()).unwrap_or_default();
            let what = format!("{}: {label} ({sig})", p.id());
            accepted(&mut c, &what, &http.post(&delivery).await);
        }
        let delivery = Hook::new(*p, secret)
            .signed_by(&[&x, &y])
            .build(&org.id, integration);
        let answer = http.post(&delivery).await;
        let what = format!("{}: two unknown signatures", p.id());
        refused(&mut c, &what, &answer, 401, &delivery);
        c.eq(p.id(), stored(&app, &org, integration).await.len(), 2);
    }
    c.verify();
}
