//! Orgs, members and invitations end to end: who may do what to whom, and
//! that changes take effect on the next request.

use ochre_sdk::v1::{
    ListApiKeysRequest, ListMembersRequest, ListMyOrgsRequest, Member, RemoveMemberRequest,
    RevokeInvitationRequest, TransferOwnershipRequest, UpdateMemberRoleRequest,
};
use ochre_tests::{
    identity::{accept, get_org, invite, who_am_i},
    prelude::*,
};
use tonic::Status;

use super::app_with_org;

async fn members(app: &TestApp, caller: &Session, org: &str) -> Vec<Member> {
    let request = with_auth(
        ListMembersRequest::default(),
        &caller.access_token,
        Some(org),
    );
    let response = app
        .client::<MemberClient>()
        .list_members(request)
        .await
        .unwrap();
    response.into_inner().members
}

async fn role_of(app: &TestApp, caller: &Session, org: &str, user: &Session) -> Role {
    let all = members(app, caller, org).await;
    let member = all.iter().find(|m| m.user_id == user.user_id).unwrap();
    member.role()
}

async fn set_role(
    app: &TestApp,
    caller: &Session,
    org: &str,
    target: &Session,
    role: Role,
) -> Result<(), Status> {
    let request = UpdateMemberRoleRequest {
        user_id: target.user_id.clone(),
        role: role.into(),
    };
    let request = with_auth(request, &caller.access_token, Some(org));
    app.client::<MemberClient>()
        .update_member_role(request)
        .await
        .map(|_| ())
}

async fn remove(app: &TestApp, caller: &Session, org: &str, target: &Session) -> Code {
    let request = RemoveMemberRequest {
        user_id: target.user_id.clone(),
    };
    let request = with_auth(request, &caller.access_token, Some(org));
    code_of(&app.client::<MemberClient>().remove_member(request).await)
}

#[tokio::test]
async fn creating_an_org_makes_the_caller_its_owner() {
    let (app, owner, org) = app_with_org().await;
    let request = with_auth(ListMyOrgsRequest::default(), &owner.access_token, None);
    let mine = app
        .client::<OrgClient>()
        .list_my_orgs(request)
        .await
        .unwrap();
    let mine = mine.into_inner().memberships;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].org.as_ref().unwrap().id, org);
    assert_eq!(mine[0].role(), Role::Owner);
    let got = get_org(&app, &owner.access_token, Some(&org))
        .await
        .unwrap();
    assert_eq!(got.role(), Role::Owner);
    assert_eq!(got.org.unwrap().name, "Acme Support");
    let me = who_am_i(&app, &owner.access_token).await.unwrap();
    assert_eq!(me.memberships.len(), 1);
    assert_eq!(me.memberships[0].role(), Role::Owner);
}

#[tokio::test]
async fn an_invited_user_joins_with_the_invited_role() {
    let (app, owner, org) = app_with_org().await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let got = get_org(&app, &agent.access_token, Some(&org))
        .await
        .unwrap();
    assert_eq!(got.role(), Role::Agent);
    assert_eq!(role_of(&app, &agent, &org, &owner).await, Role::Owner);
    assert_eq!(role_of(&app, &agent, &org, &agent).await, Role::Agent);
    assert_eq!(members(&app, &agent, &org).await.len(), 2);
}

#[tokio::test]
async fn an_invitation_is_single_use_bound_to_its_email_and_revocable() {
    let (app, owner, org) = app_with_org().await;
    let invitee_email = unique_email();
    let invitation = invite(&app, &owner, &org, &invitee_email, Role::Agent)
        .await
        .unwrap();
    let stranger = signup_and_login(&app, &unique_email()).await;
    let taken = accept(&app, &stranger, &invitation.token).await;
    assert_eq!(code_of(&taken), Code::NotFound, "another user's invitation");
    let invitee = signup_and_login(&app, &invitee_email).await;
    let joined = accept(&app, &invitee, &invitation.token).await.unwrap();
    assert_eq!(joined.membership.unwrap().role(), Role::Agent);
    let reused = accept(&app, &invitee, &invitation.token).await;
    assert_eq!(code_of(&reused), Code::NotFound, "a used invitation");
    let revoked_email = unique_email();
    let revoked = invite(&app, &owner, &org, &revoked_email, Role::Admin)
        .await
        .unwrap();
    let request = RevokeInvitationRequest {
        invitation_id: revoked.invitation.unwrap().id,
    };
    let request = with_auth(request, &owner.access_token, Some(&org));
    app.client::<MemberClient>()
        .revoke_invitation(request)
        .await
        .unwrap();
    let late = signup_and_login(&app, &revoked_email).await;
    let refused = accept(&app, &late, &revoked.token).await;
    assert_eq!(code_of(&refused), Code::NotFound, "a revoked invitation");
    let bogus = accept(&app, &late, "ochre_inv_bogus").await;
    assert_eq!(code_of(&bogus), Code::NotFound, "an unknown token");
    assert_eq!(
        code_of(&get_org(&app, &late.access_token, Some(&org)).await),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn admins_cannot_invite_promote_demote_or_remove_owners() {
    let (app, owner, org) = app_with_org().await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let owner_invite = invite(&app, &admin, &org, &unique_email(), Role::Owner).await;
    assert_eq!(code_of(&owner_invite), Code::PermissionDenied);
    let demote = set_role(&app, &admin, &org, &owner, Role::Agent).await;
    assert_eq!(code_of(&demote), Code::PermissionDenied);
    assert_eq!(
        remove(&app, &admin, &org, &owner).await,
        Code::PermissionDenied
    );
    let promote = set_role(&app, &admin, &org, &agent, Role::Owner).await;
    assert_eq!(code_of(&promote), Code::PermissionDenied);
    assert_eq!(role_of(&app, &owner, &org, &owner).await, Role::Owner);
    // What admins may do to non-owners still works.
    set_role(&app, &admin, &org, &agent, Role::LightAgent)
        .await
        .unwrap();
    assert_eq!(role_of(&app, &owner, &org, &agent).await, Role::LightAgent);
    let agent_invite = invite(&app, &admin, &org, &unique_email(), Role::Agent).await;
    assert_eq!(code_of(&agent_invite), Code::Ok);
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed_nor_delete_their_account() {
    let (app, owner, org) = app_with_org().await;
    let demote = set_role(&app, &owner, &org, &owner, Role::Admin).await;
    assert_eq!(code_of(&demote), Code::FailedPrecondition);
    assert_eq!(
        remove(&app, &owner, &org, &owner).await,
        Code::FailedPrecondition
    );
    let request = ochre_sdk::v1::DeleteAccountRequest {
        password: owner.password.clone(),
        totp_code: String::new(),
    };
    let deleted = app
        .client::<AuthClient>()
        .delete_account(with_auth(request, &owner.access_token, None))
        .await;
    assert_eq!(code_of(&deleted), Code::FailedPrecondition);
    // With a second owner, the first may step down.
    let second = add_member(&app, &owner, &org, Role::Owner).await;
    set_role(&app, &owner, &org, &owner, Role::Admin)
        .await
        .unwrap();
    assert_eq!(role_of(&app, &second, &org, &owner).await, Role::Admin);
}

#[tokio::test]
async fn transferring_ownership_makes_the_target_owner_and_the_caller_admin() {
    let (app, owner, org) = app_with_org().await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let request = TransferOwnershipRequest {
        user_id: admin.user_id.clone(),
    };
    let request = with_auth(request, &owner.access_token, Some(&org));
    app.client::<MemberClient>()
        .transfer_ownership(request)
        .await
        .unwrap();
    assert_eq!(role_of(&app, &owner, &org, &admin).await, Role::Owner);
    assert_eq!(role_of(&app, &owner, &org, &owner).await, Role::Admin);
    let back = TransferOwnershipRequest {
        user_id: owner.user_id.clone(),
    };
    let back = with_auth(back, &owner.access_token, Some(&org));
    let refused = app.client::<MemberClient>().transfer_ownership(back).await;
    assert_eq!(code_of(&refused), Code::PermissionDenied, "no longer owner");
}

#[tokio::test]
async fn a_demoted_or_removed_member_loses_access_on_the_next_request() {
    let (app, owner, org) = app_with_org().await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let list = |s: &Session| {
        let request = with_auth(ListApiKeysRequest::default(), &s.access_token, Some(&org));
        let mut client = app.client::<ApiKeyClient>();
        async move { code_of(&client.list_api_keys(request).await) }
    };
    assert_eq!(list(&admin).await, Code::Ok);
    set_role(&app, &owner, &org, &admin, Role::Agent)
        .await
        .unwrap();
    assert_eq!(list(&admin).await, Code::PermissionDenied);
    assert_eq!(remove(&app, &owner, &org, &admin).await, Code::Ok);
    let gone = get_org(&app, &admin.access_token, Some(&org)).await;
    assert_eq!(code_of(&gone), Code::PermissionDenied);
    let me = who_am_i(&app, &admin.access_token).await.unwrap();
    assert!(me.memberships.is_empty());
}

#[tokio::test]
async fn a_non_member_is_denied_alike_for_a_foreign_org_and_an_unknown_one() {
    let (app, owner, org) = app_with_org().await;
    let outsider = signup_and_login(&app, &unique_email()).await;
    let foreign = get_org(&app, &outsider.access_token, Some(&org)).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let unknown = get_org(&app, &outsider.access_token, Some(&unknown)).await;
    let (foreign, unknown) = (foreign.unwrap_err(), unknown.unwrap_err());
    assert_eq!(foreign.code(), Code::PermissionDenied);
    assert_eq!(unknown.code(), Code::PermissionDenied);
    assert_eq!(foreign.message(), unknown.message());
    let no_header = get_org(&app, &owner.access_token, None).await;
    assert_eq!(code_of(&no_header), Code::InvalidArgument);
}

#[tokio::test]
async fn names_with_bidi_overrides_or_control_characters_are_invalid_arguments() {
    use ochre_sdk::v1::{CreateOrgRequest, SignUpRequest};
    let app = spawn_app().await;
    for display_name in [
        "Ada\u{202E}nimda",
        "\u{2066}Ada\u{2069}",
        "Ada\0",
        "Ada\u{7}",
    ] {
        let request = SignUpRequest {
            email: unique_email(),
            password: ochre_tests::identity::strong_password(),
            display_name: display_name.to_owned(),
        };
        let answer = app.client::<AuthClient>().sign_up(request).await;
        assert_eq!(code_of(&answer), Code::InvalidArgument, "{display_name:?}");
    }
    let owner = signup_and_login(&app, &unique_email()).await;
    for name in ["Acme\u{202E}evil", "Acme\0", "Ac\u{1b}me"] {
        let request = with_auth(
            CreateOrgRequest {
                name: name.to_owned(),
                ..Default::default()
            },
            &owner.access_token,
            None,
        );
        let answer = app.client::<OrgClient>().create_org(request).await;
        assert_eq!(code_of(&answer), Code::InvalidArgument, "{name:?}");
    }
}
