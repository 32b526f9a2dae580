//! Canary secrets seeded everywhere secrets live, through the real RPCs:
//! none of them occurs in the export, raw, hex or base64; the manifest
//! matches the files and the registry; the org's data is there and
//! another org's is not.

use base64::{
    Engine as _,
    engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD},
};
use ochre_sdk::v1::{MessageKind, SendSurveyRequest};
use ochre_tests::{
    identity::{enable_totp, invite, sleep_until_next_totp_step, totp_code},
    prelude::*,
};

use super::{export, unzip};
use crate::vault::connect;

/// Every encoding of `secret` the archive must not hold.
fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = vec![
        secret.to_vec(),
        hex::encode(secret).into_bytes(),
        hex::encode_upper(secret).into_bytes(),
    ];
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        forms.push(engine.encode(secret).into_bytes());
    }
    forms
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn an_export_holds_the_orgs_data_and_no_secret_in_any_encoding() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme Export").await;
    let mut canaries: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut canary = |what: &'static str| {
        let s = format!("canary{}", random_secret(24));
        canaries.push((what, s.clone().into_bytes()));
        s
    };

    // The vault: a pasted BYOK key, OAuth tokens, webhook signing secrets.
    let byok = canary("pasted api key");
    connect(&app, &owner, &org, "openai", &[("api_key", &byok)]).await;
    let (access, refresh, signing) = (
        canary("oauth access token"),
        canary("oauth refresh token"),
        canary("stripe webhook signing secret"),
    );
    let oauth = [
        ("access_token", access.as_str()),
        ("refresh_token", refresh.as_str()),
        ("webhook_signing_secret", signing.as_str()),
    ];
    connect(&app, &owner, &org, "stripe", &oauth).await;
    let github = canary("github webhook signing secret");
    connect(
        &app,
        &owner,
        &org,
        "github",
        &[("webhook_signing_secret", &github)],
    )
    .await;

    // Identity: an API key, an invitation, a survey link, the TOTP secret.
    let key = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap()
        .secret;
    let invitation = invite(&app, &owner, &org, &unique_email(), Role::Agent)
        .await
        .unwrap()
        .token;
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("export-marker-a@example.com").await;
    let conversation = api.conversation(&customer.id, "Marker subject A").await;
    api.message(
        &conversation.id,
        MessageKind::InboundEmail,
        "MARKER-BODY-ACME",
    )
    .await;
    let survey = api
        .send_survey(SendSurveyRequest {
            conversation_id: conversation.id.clone(),
            ttl_days: 0,
            ..Default::default()
        })
        .await
        .unwrap()
        .token;
    let totp = enable_totp(&app, &owner).await;
    let totp_raw = data_encoding::BASE32_NOPAD
        .decode(totp.secret_base32.trim_end_matches('=').as_bytes())
        .unwrap();
    canaries.extend([
        ("api key", key.into_bytes()),
        ("invitation token", invitation.into_bytes()),
        ("survey token", survey.into_bytes()),
        ("password", owner.password.clone().into_bytes()),
        ("refresh token", owner.refresh_token.clone().into_bytes()),
        ("access token", owner.access_token.clone().into_bytes()),
        (
            "totp secret (base32)",
            totp.secret_base32.clone().into_bytes(),
        ),
        ("totp secret (raw)", totp_raw),
    ]);

    // Another org with its own markers.
    let other = signup_and_login(&app, &unique_email()).await;
    let other_org = create_org(&app, &other, "Elsewhere").await;
    let other_api = Caller::user(&app, &other, &other_org);
    let c = other_api.customer("other-org-marker@example.com").await;
    let conv = other_api.conversation(&c.id, "Other subject").await;
    other_api
        .message(&conv.id, MessageKind::InboundEmail, "MARKER-BODY-OTHER")
        .await;

    sleep_until_next_totp_step().await;
    let code = totp_code(&totp.secret_base32, unix_now());
    let bytes = export(&app, &owner.access_token, &org, &code)
        .await
        .unwrap();
    let archive = unzip(&bytes);
    archive.assert_consistent(&org);

    let everything = [archive.all_bytes(), bytes.clone()].concat();
    for (what, secret) in &canaries {
        for form in encodings(secret) {
            assert!(
                !contains(&everything, &form),
                "the export holds the {what} (as {:?})",
                String::from_utf8_lossy(&form)
            );
        }
    }

    let text = String::from_utf8(archive.all_bytes()).unwrap();
    for marker in [
        "export-marker-a@example.com",
        "Marker subject A",
        "MARKER-BODY-ACME",
    ] {
        assert!(text.contains(marker), "{marker} is exported");
    }
    for foreign in [
        "other-org-marker@example.com",
        "MARKER-BODY-OTHER",
        other_org.as_str(),
    ] {
        assert!(!text.contains(foreign), "another org's {foreign} leaked");
    }
    assert_eq!(archive.rows("customers").len(), 1);
    assert_eq!(archive.rows("messages").len(), 1);
    assert_eq!(archive.rows("integrations").len(), 3);
    assert_eq!(archive.rows("orgs")[0]["name"], "Acme Export");
    let audit = archive.rows("audit_log");
    assert!(audit.len() >= 5, "the audit chain is exported");
    assert!(
        audit
            .iter()
            .all(|e| e["hash"].as_str().is_some_and(|h| h.len() == 44))
    );
}
