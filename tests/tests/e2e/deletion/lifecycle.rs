//! Scheduling and restoring: who may, what a workspace pending deletion
//! answers to every caller and every RPC of the contract, and that a
//! restored workspace reads exactly as before.

use ochre_sdk::{
    access::{ACCESS_RULES, Rule},
    v1::{
        AcceptInvitationRequest, GetConversationRequest, GetIpAllowlistRequest, GetOrgRequest,
        ListApiKeysRequest, ListAuditEventsRequest, ListCustomersRequest, ListIntegrationsRequest,
        ListInvitationsRequest, ListMembersRequest, ListMessagesRequest, ListMyOrgsRequest,
        ListWebhookEventsRequest, MessageKind, audit_service_client::AuditServiceClient,
    },
};
use ochre_tests::{
    identity::{enable_totp, invite, totp_code},
    matrix::call_raw,
    prelude::*,
};
use prost::Message as _;
use tonic_types::StatusExt as _;

use super::{restore, rfc3339, schedule};
use crate::webhooks::{
    http::{Http, accepted},
    providers::P,
    rpc::{connect_hook, new_org, stored},
    signing::Hook,
};

#[tokio::test]
async fn only_an_owner_who_proves_their_password_and_code_can_schedule_deletion() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Doomed").await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let key = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap()
        .secret;
    let mut c = Checks::default();
    let r = schedule(&app, &admin.access_token, &org, &admin.password, "").await;
    c.code("an admin", &r, Code::PermissionDenied);
    let r = schedule(&app, &key, &org, "x", "").await;
    c.code("an admin API key", &r, Code::PermissionDenied);
    let r = schedule(&app, &owner.access_token, &org, "", "").await;
    c.code("no password", &r, Code::InvalidArgument);
    let r = schedule(&app, &owner.access_token, &org, "wrong password", "").await;
    c.code("a wrong password", &r, Code::Unauthenticated);
    let totp = enable_totp(&app, &owner).await;
    let r = schedule(&app, &owner.access_token, &org, &owner.password, "").await;
    c.code(
        "an enrolled owner without a code",
        &r,
        Code::Unauthenticated,
    );
    let r = schedule(&app, &owner.access_token, &org, &owner.password, "000000").await;
    c.code("a wrong code", &r, Code::Unauthenticated);
    let live = ochre_tests::identity::get_org(&app, &owner.access_token, Some(&org))
        .await
        .unwrap();
    c.that(
        live.org.unwrap().purge_after.is_none(),
        "nothing was scheduled by the refusals",
    );
    // The next step's code (the one that confirmed enrolment is spent).
    let code = totp_code(&totp.secret_base32, unix_now() + 30);
    let scheduled = schedule(&app, &owner.access_token, &org, &owner.password, &code)
        .await
        .expect("the owner with password and code")
        .org
        .unwrap();
    let (at, after) = (
        scheduled.deletion_scheduled_at.unwrap(),
        scheduled.purge_after.unwrap(),
    );
    c.that(
        after.seconds - at.seconds == 30 * 86_400,
        "the purge date is 30 days after scheduling by default",
    );
    let again = totp_code(&totp.secret_base32, unix_now() + 60);
    let r = schedule(&app, &owner.access_token, &org, &owner.password, &again).await;
    c.code("scheduling twice", &r, Code::FailedPrecondition);
    // Restored, the spent code cannot schedule it again.
    restore(&app, &owner.access_token, &org)
        .await
        .expect("restore");
    let r = schedule(&app, &owner.access_token, &org, &owner.password, &code).await;
    c.code("a replayed code", &r, Code::Unauthenticated);
    c.verify();
}

#[tokio::test]
async fn restoring_a_workspace_that_is_not_pending_deletion_is_a_failed_precondition() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Alive").await;
    let r = restore(&app, &owner.access_token, &org).await;
    assert_eq!(code_of(&r), Code::FailedPrecondition, "{r:?}");
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let r = restore(&app, &admin.access_token, &org).await;
    assert_eq!(code_of(&r), Code::PermissionDenied, "{r:?}");
}

/// What the owner reads of the org, each answer encoded: equal bytes mean
/// an identical workspace.
async fn reads(app: &TestApp, owner: &Session, org: &str, conversation: &str) -> Vec<Vec<u8>> {
    let (t, o) = (&owner.access_token, Some(org));
    let conversation = conversation.to_owned();
    let (mut orgs, mut customers) = (app.client::<OrgClient>(), app.client::<CustomerClient>());
    let (mut convs, mut members) = (
        app.client::<ConversationClient>(),
        app.client::<MemberClient>(),
    );
    let list = ListMessagesRequest {
        conversation_id: conversation.clone(),
        ..Default::default()
    };
    let get = GetConversationRequest {
        conversation_id: conversation,
    };
    vec![
        orgs.get_org(with_auth(GetOrgRequest {}, t, o))
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
        orgs.get_ip_allowlist(with_auth(GetIpAllowlistRequest {}, t, o))
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
        customers
            .list_customers(with_auth(ListCustomersRequest::default(), t, o))
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
        convs
            .get_conversation(with_auth(get, t, o))
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
        convs
            .list_messages(with_auth(list, t, o))
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
        app.client::<IntegrationClient>()
            .list_integrations(with_auth(ListIntegrationsRequest::default(), t, o))
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
        members
            .list_members(with_auth(ListMembersRequest::default(), t, o))
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
        members
            .list_invitations(with_auth(ListInvitationsRequest::default(), t, o))
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
        app.client::<ApiKeyClient>()
            .list_api_keys(with_auth(ListApiKeysRequest::default(), t, o))
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
        app.client::<WebhookClient>()
            .list_webhook_events(with_auth(ListWebhookEventsRequest::default(), t, o))
            .await
            .unwrap()
            .into_inner()
            .encode_to_vec(),
    ]
}

#[tokio::test]
async fn a_workspace_pending_deletion_refuses_every_call_with_its_purge_date_until_restored_as_it_was()
 {
    let app = spawn_app().await;
    let http = Http::new(&app);
    let org = new_org(&app, "Doomed").await;
    let (owner, id) = (&org.owner, org.id.as_str());
    let admin = add_member(&app, owner, id, Role::Admin).await;
    let key = create_api_key(&app, owner, id, Role::Agent)
        .await
        .unwrap()
        .secret;
    let api = Caller::user(&app, owner, id);
    let customer = api.customer("doomed@example.com").await;
    let conversation = api.conversation(&customer.id, "Hello").await;
    api.message(&conversation.id, MessageKind::InboundEmail, "Hi there")
        .await;
    let secret = P::GitHub.new_secret();
    let integration = connect_hook(&app, &org, P::GitHub, &secret).await;
    let delivery = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
    accepted(
        &mut Checks::default(),
        "before",
        &http.post(&delivery).await,
    );
    let invitee = signup_and_login(&app, &unique_email()).await;
    let invitation = invite(&app, owner, id, &invitee.email, Role::Agent)
        .await
        .unwrap()
        .token;
    let before = reads(&app, owner, id, &conversation.id).await;

    let pending = schedule(&app, &owner.access_token, id, &owner.password, "")
        .await
        .expect("schedule")
        .org
        .unwrap();
    let date = rfc3339(pending.purge_after.as_ref().unwrap());
    let mut c = Checks::default();
    // Every RPC acting on the org, for every kind of caller.
    for m in ACCESS_RULES
        .iter()
        .filter(|m| matches!(m.rule, Rule::Roles(_)))
    {
        for (who, token) in [
            ("owner", owner.access_token.as_str()),
            ("admin", admin.access_token.as_str()),
            ("agent key", key.as_str()),
        ] {
            if who == "owner" && m.owners_while_pending_deletion {
                continue;
            }
            let (code, message, _) = call_raw(&app, m.method, Vec::new(), token, id).await;
            c.that(
                code == Code::FailedPrecondition && message.contains(&date),
                &format!("{} as {who}: {code:?} {message}", m.method),
            );
        }
    }
    let refused = app
        .client::<CustomerClient>()
        .list_customers(with_auth(
            ListCustomersRequest::default(),
            &admin.access_token,
            Some(id),
        ))
        .await
        .unwrap_err();
    let info = refused
        .get_details_error_info()
        .expect("an ErrorInfo detail");
    c.that(
        info.reason == "WORKSPACE_PENDING_DELETION"
            && info.metadata.get("purge_after") == Some(&date),
        "the refusal carries reason and date",
    );
    // The owner still reads the org, and finds it among theirs, with its date.
    let shown = ochre_tests::identity::get_org(&app, &owner.access_token, Some(id))
        .await
        .unwrap();
    c.that(
        shown.org.unwrap().purge_after == pending.purge_after,
        "GetOrg shows the owner the purge date",
    );
    let mine = app
        .client::<OrgClient>()
        .list_my_orgs(with_auth(
            ListMyOrgsRequest::default(),
            &owner.access_token,
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    c.that(
        mine.memberships.iter().any(|m| {
            m.org
                .as_ref()
                .is_some_and(|o| o.id == id && o.purge_after.is_some())
        }),
        "ListMyOrgs shows it pending",
    );
    // Deliveries are refused with 410 and nothing is stored.
    let late = Hook::new(P::GitHub, &secret).build(&org.id, &integration);
    let answer = http.post(&late).await;
    c.that(
        answer.status == 410,
        &format!("a delivery is 410: {}", answer.show()),
    );
    // An invitation into it cannot be accepted.
    let r = app
        .client::<MemberClient>()
        .accept_invitation(with_auth(
            AcceptInvitationRequest { token: invitation },
            &invitee.access_token,
            None,
        ))
        .await;
    c.code("accepting an invitation", &r, Code::FailedPrecondition);

    let restored = restore(&app, &owner.access_token, id)
        .await
        .expect("restore");
    c.that(
        restored
            .org
            .is_some_and(|o| o.purge_after.is_none() && o.deletion_scheduled_at.is_none()),
        "restored: no dates",
    );
    let after = reads(&app, owner, id, &conversation.id).await;
    c.that(
        before == after,
        "every read is byte-identical after the restore",
    );
    c.that(
        stored(&app, &org, &integration).await.len() == 1,
        "the refused delivery was never stored",
    );
    accepted(&mut c, "after the restore", &http.post(&late).await);
    let events = AuditServiceClient::new(app.channel.clone())
        .list_audit_events(with_auth(
            ListAuditEventsRequest::default(),
            &owner.access_token,
            Some(id),
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    for action in ["org.deletion_scheduled", "org.restored"] {
        c.that(
            events
                .iter()
                .filter(|e| e.action == action && e.actor_user_id == owner.user_id)
                .count()
                == 1,
            &format!("one {action} event by the owner"),
        );
    }
    c.verify();
}

#[tokio::test]
async fn an_owner_can_still_export_a_workspace_pending_deletion_and_nobody_once_its_purge_began() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Leaving").await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    Caller::user(&app, &owner, &org)
        .customer("kept@example.com")
        .await;
    schedule(&app, &owner.access_token, &org, &owner.password, "")
        .await
        .expect("schedule");
    let bytes = crate::exports::export(&app, &owner.access_token, &org, "")
        .await
        .expect("the owner exports before leaving");
    let archive = crate::exports::unzip(&bytes);
    archive.assert_consistent(&org);
    assert_eq!(archive.rows("customers").len(), 1);
    let r = crate::exports::export(&app, &admin.access_token, &org, "").await;
    assert_eq!(code_of(&r), Code::FailedPrecondition, "an admin: {r:?}");
    ochre_tests::identity::superuser_execute(
        &app,
        &format!("UPDATE orgs SET purge_started_at = now() WHERE id = '{org}'"),
    )
    .await;
    let r = crate::exports::export(&app, &owner.access_token, &org, "").await;
    assert_eq!(
        code_of(&r),
        Code::FailedPrecondition,
        "once the purge began: {r:?}"
    );
}
