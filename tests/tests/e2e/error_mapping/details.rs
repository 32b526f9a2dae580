//! The `google.rpc` details of refusals (AIP-193): a field violation names
//! the request's field, rate limits, lockouts and the busy hashing pool say
//! when to retry and are told apart by their reason, and the README's table
//! lists exactly the server's reasons with their codes.

use std::{
    net::{IpAddr, Ipv4Addr},
    sync::Arc,
    time::Duration,
};

use ochre_sdk::v1::{
    Attachment, CustomFieldValue, ListAuditEventsRequest, LoginRequest, MessageKind,
    SetIpAllowlistRequest, audit_service_client::AuditServiceClient, custom_field_value::Value,
};
use ochre_server::error::Reason;
use ochre_tests::{
    errors::{Reply, code_name, readme_reasons, retry_delay},
    identity::{get_org, sign_up, strong_password},
    prelude::*,
    support::{message_request, open_request, upsert_request},
};
use tonic::Status;

/// The one field violation of an INVALID_ARGUMENT and its reason.
fn violation<T: std::fmt::Debug>(what: &str, result: Result<T, Status>) -> (String, String) {
    let status = result.expect_err(what);
    assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
    let reply = Reply::of(&status);
    assert_eq!(
        reply.fields.len(),
        1,
        "{what}: one field violation: {status:?}"
    );
    let reason = reply.reason.unwrap_or_else(|| panic!("{what}: a reason"));
    (reply.fields[0].clone(), reason)
}

fn attachment(sha256: &str) -> Attachment {
    Attachment {
        file_name: "notes.txt".into(),
        content_type: "text/plain".into(),
        size_bytes: 12,
        sha256: sha256.into(),
        storage_key: "blobs/notes".into(),
    }
}

#[tokio::test]
async fn a_field_violation_names_the_field_of_the_request() {
    let app = spawn_app().await;
    let signed_up = sign_up(&app, "not-an-address", &strong_password()).await;
    assert_eq!(
        violation("SignUp with a bad email", signed_up),
        ("email".to_owned(), "FIELD_INVALID".to_owned())
    );
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Fields").await;
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("ada@example.com").await;
    let conversation = api.conversation(&customer.id, "Subject").await;

    let empty = api
        .add(message_request(
            &conversation.id,
            MessageKind::OutboundReply,
            "",
        ))
        .await;
    assert_eq!(
        violation("AddMessage with an empty body", empty),
        ("body".to_owned(), "FIELD_REQUIRED".to_owned())
    );

    let mut request = message_request(&conversation.id, MessageKind::OutboundReply, "Hi");
    let good = "a".repeat(64);
    request.attachments = vec![attachment(&good), attachment(&good), attachment("nope")];
    let (field, _) = violation("a third attachment without a hash", api.add(request).await);
    assert_eq!(field, "attachments[2].sha256");

    let mut request = upsert_request("bob@example.com");
    let nan = CustomFieldValue {
        value: Some(Value::NumberValue(f64::NAN)),
    };
    request.custom_fields = [("nps".to_owned(), nan)].into();
    let (field, _) = violation(
        "a custom field that is not a number",
        api.upsert(request).await,
    );
    assert_eq!(field, "custom_fields[nps]");

    let opened = api.create(open_request("not-a-uuid", 1, "Hello")).await;
    let (field, _) = violation("CreateConversation with a bad customer id", opened);
    assert_eq!(field, "customer_id");

    let request = SetIpAllowlistRequest {
        cidrs: vec!["127.0.0.1/32".into(), "nonsense".into()],
    };
    let set = app
        .client::<OrgClient>()
        .set_ip_allowlist(with_auth(request, &owner.access_token, Some(&org)))
        .await;
    let (field, _) = violation("an allowlist with a bad second range", set);
    assert_eq!(field, "cidrs[1]");

    // Past 9999-12-31 the database would refuse it naming no field.
    let request = ListAuditEventsRequest {
        until: Some(prost_types::Timestamp {
            seconds: 253_402_300_800,
            nanos: 0,
        }),
        ..Default::default()
    };
    let listed = AuditServiceClient::new(app.channel.clone())
        .list_audit_events(with_auth(request, &owner.access_token, Some(&org)))
        .await;
    let (field, _) = violation("a filter in the year 10000", listed);
    assert_eq!(field, "until");
}

#[tokio::test]
async fn a_rate_limited_call_says_when_to_retry_with_the_rate_limited_reason() {
    let app = crate::limits::app_with(&[("read.principal", "2/m:2")]).await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Limited").await;
    for _ in 0..2 {
        get_org(&app, &owner.access_token, Some(&org))
            .await
            .expect("a read within the limit");
    }
    let status = get_org(&app, &owner.access_token, Some(&org))
        .await
        .expect_err("the third read is over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(Reply::of(&status).reason.as_deref(), Some("RATE_LIMITED"));
    let delay = retry_delay(&status).expect("a RetryInfo detail");
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(30),
        "{delay:?}"
    );
}

async fn login_from(
    app: &TestApp,
    from: IpAddr,
    email: &str,
    password: &str,
) -> Result<(), Status> {
    let request = LoginRequest {
        email: email.to_owned(),
        password: password.to_owned(),
    };
    let mut client = app.client_from::<AuthClient>(from).await;
    client.login(request).await.map(|_| ())
}

#[tokio::test]
async fn the_hashing_pool_being_busy_is_told_apart_from_a_lockout_and_both_say_when_to_retry() {
    let app = Arc::new(spawn_app().await);
    let user = signup_and_login(&app, &unique_email()).await;
    // Five wrong passwords from one address lock that pair.
    let attacker = IpAddr::V4(Ipv4Addr::new(127, 0, 7, 1));
    for attempt in 1..=5 {
        let refused = login_from(&app, attacker, &user.email, "Wrong-password-FAKE-1").await;
        assert_eq!(
            code_of(&refused),
            Code::Unauthenticated,
            "attempt {attempt}"
        );
    }
    let locked = login_from(&app, attacker, &user.email, &user.password)
        .await
        .expect_err("the pair is locked");
    assert_eq!(locked.code(), Code::ResourceExhausted, "{locked:?}");
    assert_eq!(Reply::of(&locked).reason.as_deref(), Some("LOGIN_LOCKED"));
    assert!(
        retry_delay(&locked).is_some(),
        "a lockout says when to retry"
    );

    // One password check per client address at a time: concurrent sign-ins
    // from one address find its place in the hashing pool taken.
    let crowd = IpAddr::V4(Ipv4Addr::new(127, 0, 7, 2));
    let mut busy = None;
    for _round in 0..8 {
        let tries: Vec<_> = (0..4)
            .map(|_| {
                let app = Arc::clone(&app);
                tokio::spawn(async move {
                    login_from(&app, crowd, &unique_email(), "Not-the-password-FAKE-2").await
                })
            })
            .collect();
        for task in tries {
            if let Err(status) = task.await.unwrap()
                && status.code() == Code::ResourceExhausted
            {
                busy = Some(status);
            }
        }
        if busy.is_some() {
            break;
        }
    }
    let busy = busy.expect("a sign-in found the address's place in the pool taken");
    assert_eq!(Reply::of(&busy).reason.as_deref(), Some("HASHING_BUSY"));
    assert!(
        retry_delay(&busy).is_some(),
        "a busy pool says when to retry"
    );
    assert_ne!(busy.message(), locked.message());
}

#[test]
fn the_readme_error_table_lists_every_reason_with_its_code() {
    let code: Vec<(String, String)> = Reason::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), code_name(r.code())))
        .collect();
    assert_eq!(
        readme_reasons(),
        code,
        "README.md's `| Reason | Code |` table"
    );
    for kept in ["WORKSPACE_PENDING_DELETION", "BUDGET_EXHAUSTED"] {
        assert!(code.iter().any(|(r, _)| r == kept), "{kept}");
    }
}
