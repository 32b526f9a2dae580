//! Every privileged action appends one event to its org's chain, with ids
//! and never an email address or a secret.

use ochre_sdk::v1::{
    DisconnectIntegrationRequest, GetIntegrationTokenRequest, RemoveMemberRequest,
    RevokeApiKeyRequest, RevokeInvitationRequest, SendSurveyRequest, SetIpAllowlistRequest,
    TransferOwnershipRequest, UpdateMemberRoleRequest,
};
use ochre_tests::{
    identity::{enable_totp, invite, login},
    prelude::*,
};

use super::{events, verify_cli, verify_here};

#[tokio::test]
async fn every_privileged_action_appends_one_event_with_ids_and_never_an_email() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Audited").await;
    let members = || app.client::<MemberClient>();

    // Members: invited and joined, role changed, removed; an invitation
    // revoked; ownership transferred (last, the owner becomes an admin).
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let change = UpdateMemberRoleRequest {
        user_id: agent.user_id.clone(),
        role: Role::Admin.into(),
    };
    members()
        .update_member_role(with_auth(change, &owner.access_token, Some(&org)))
        .await
        .unwrap();
    let pending = invite(&app, &owner, &org, &unique_email(), Role::Agent)
        .await
        .unwrap();
    let revoke = RevokeInvitationRequest {
        invitation_id: pending.invitation.unwrap().id,
    };
    members()
        .revoke_invitation(with_auth(revoke, &owner.access_token, Some(&org)))
        .await
        .unwrap();
    let leaving = add_member(&app, &owner, &org, Role::LightAgent).await;
    let remove = RemoveMemberRequest {
        user_id: leaving.user_id.clone(),
    };
    members()
        .remove_member(with_auth(remove, &owner.access_token, Some(&org)))
        .await
        .unwrap();

    // Keys, the allowlist, an integration with its one cleartext read.
    let key = create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .unwrap();
    let revoke = RevokeApiKeyRequest {
        api_key_id: key.api_key.unwrap().id,
    };
    app.client::<ApiKeyClient>()
        .revoke_api_key(with_auth(revoke, &owner.access_token, Some(&org)))
        .await
        .unwrap();
    let allow = SetIpAllowlistRequest {
        cidrs: vec!["127.0.0.0/8".into(), "::1/128".into()],
    };
    app.client::<OrgClient>()
        .set_ip_allowlist(with_auth(allow, &owner.access_token, Some(&org)))
        .await
        .unwrap();
    let secret = format!("whsec-{}", uuid::Uuid::new_v4().simple());
    let integration = crate::vault::connect(
        &app,
        &owner,
        &org,
        "github",
        &[("webhook_signing_secret", secret.as_str())],
    )
    .await;
    let read = GetIntegrationTokenRequest {
        integration_id: integration.clone(),
        field: "webhook_signing_secret".into(),
    };
    app.client::<IntegrationClient>()
        .get_integration_token(with_auth(read, &owner.access_token, Some(&org)))
        .await
        .unwrap();
    let disconnect = DisconnectIntegrationRequest {
        integration_id: integration,
    };
    app.client::<IntegrationClient>()
        .disconnect_integration(with_auth(disconnect, &owner.access_token, Some(&org)))
        .await
        .unwrap();

    // A survey, the owner's second factor, a failed sign-in.
    let api = Caller::user(&app, &owner, &org);
    let customer = api.customer("audited@example.com").await;
    let conversation = api.conversation(&customer.id, "Audit").await.id;
    api.send_survey(SendSurveyRequest {
        conversation_id: conversation,
        ttl_days: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    enable_totp(&app, &owner).await;
    assert!(login(&app, &owner.email, "not the password").await.is_err());
    let transfer = TransferOwnershipRequest {
        user_id: agent.user_id.clone(),
    };
    members()
        .transfer_ownership(with_auth(transfer, &owner.access_token, Some(&org)))
        .await
        .unwrap();

    let log = events(&app, &org).await;
    let actions: Vec<&str> = log.iter().map(|(_, a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "member.invited",
            "member.joined",
            "member.role_changed",
            "member.invited",
            "invitation.revoked",
            "member.invited",
            "member.joined",
            "member.removed",
            "api_key.created",
            "api_key.revoked",
            "org.ip_allowlist_changed",
            "integration.connected",
            "integration.token.read",
            "integration.disconnected",
            "survey.sent",
            "totp.enabled",
            "login.failed",
            "ownership.transferred",
        ]
    );
    let seqs: Vec<i64> = log.iter().map(|(s, ..)| *s).collect();
    assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>(), "gapless");
    for (seq, action, detail, request_id) in &log {
        assert!(
            !detail.contains('@'),
            "{seq} {action}: an email in {detail}"
        );
        assert!(!detail.contains(&secret), "{seq} {action}: a secret");
        assert!(!request_id.is_empty(), "{seq} {action}: no request id");
    }
    assert_eq!(verify_here(&app, &org).await, Ok(log.len() as i64));
    let (ok, line) = verify_cli(&app, &org).await;
    assert!(ok, "{line}");
    assert!(
        line.contains(&format!("ok, {} events", log.len())),
        "{line}"
    );
}
