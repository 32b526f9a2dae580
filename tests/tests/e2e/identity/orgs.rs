//! Orgs, members, invitations, API keys and the IP allowlist end to end:
//! who may do what to whom, and that changes take effect on the next request.

use ochre_sdk::v1::{
    GetIpAllowlistRequest, ListApiKeysRequest, ListMembersRequest, ListMyOrgsRequest, Member,
    RemoveMemberRequest, RevokeApiKeyRequest, RevokeInvitationRequest, SetIpAllowlistRequest,
    TransferOwnershipRequest, UpdateMemberRoleRequest,
};
use ochre_tests::{
    identity::{accept, get_org, invite, superuser_execute, who_am_i},
    prelude::*,
};
use tonic::Status;

/// A fresh app with a signed-in owner of a new org.
async fn app_with_org() -> (TestApp, Session, String) {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Acme Support").await;
    (app, owner, org)
}

async fn members(app: &TestApp, caller: &Session, org: &str) -> Vec<Member> {
    let request = with_auth(ListMembersRequest {}, &caller.access_token, Some(org));
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

async fn set_allowlist(app: &TestApp, caller: &Session, org: &str, cidrs: &[&str]) -> Code {
    let request = SetIpAllowlistRequest {
        cidrs: cidrs.iter().map(|c| (*c).to_owned()).collect(),
    };
    let request = with_auth(request, &caller.access_token, Some(org));
    code_of(&app.client::<OrgClient>().set_ip_allowlist(request).await)
}

#[tokio::test]
async fn creating_an_org_makes_the_caller_its_owner() {
    let (app, owner, org) = app_with_org().await;
    let request = with_auth(ListMyOrgsRequest {}, &owner.access_token, None);
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
        let request = with_auth(ListApiKeysRequest {}, &s.access_token, Some(&org));
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
async fn an_api_key_is_shown_once_and_acts_with_its_role_in_its_own_org_only() {
    let (app, owner, org) = app_with_org().await;
    let other_org = create_org(&app, &owner, "Other").await;
    let created = create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .unwrap();
    let secret = created.secret;
    assert!(secret.starts_with("ochre_sk_"));
    let request = with_auth(ListApiKeysRequest {}, &owner.access_token, Some(&org));
    let listed = app
        .client::<ApiKeyClient>()
        .list_api_keys(request)
        .await
        .unwrap();
    let listed = listed.into_inner();
    assert!(
        !format!("{listed:?}").contains(&secret),
        "a secret was listed"
    );
    let key = &listed.api_keys[0];
    assert_eq!(listed.api_keys.len(), 1);
    assert_eq!(
        (key.role(), key.created_by_user_id.as_str()),
        (Role::Agent, owner.user_id.as_str())
    );
    assert!(!key.prefix.is_empty() && key.prefix.len() < secret.len());
    assert!(secret.starts_with(&key.prefix));
    let got = get_org(&app, &secret, None).await.unwrap();
    assert_eq!(got.role(), Role::Agent);
    assert_eq!(got.org.unwrap().id, org);
    assert_eq!(code_of(&get_org(&app, &secret, Some(&org)).await), Code::Ok);
    let elsewhere = get_org(&app, &secret, Some(&other_org)).await;
    assert_eq!(code_of(&elsewhere), Code::PermissionDenied);
    let request = with_auth(ListApiKeysRequest {}, &secret, None);
    let above_role = app.client::<ApiKeyClient>().list_api_keys(request).await;
    assert_eq!(code_of(&above_role), Code::PermissionDenied);
    assert_eq!(
        code_of(&who_am_i(&app, &secret).await),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn an_api_key_is_never_owner_nor_above_its_creator_and_needs_a_role() {
    let (app, owner, org) = app_with_org().await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    for creator in [&owner, &admin] {
        let as_owner = create_api_key(&app, creator, &org, Role::Owner).await;
        assert_eq!(code_of(&as_owner), Code::PermissionDenied);
        let unspecified = create_api_key(&app, creator, &org, Role::Unspecified).await;
        assert_eq!(code_of(&unspecified), Code::InvalidArgument);
        let as_admin = create_api_key(&app, creator, &org, Role::Admin).await;
        assert_eq!(code_of(&as_admin), Code::Ok);
    }
}

#[tokio::test]
async fn a_revoked_api_key_is_unauthenticated_and_listed_as_revoked() {
    let (app, owner, org) = app_with_org().await;
    let created = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap();
    assert_eq!(
        code_of(&get_org(&app, &created.secret, None).await),
        Code::Ok
    );
    let id = created.api_key.unwrap().id;
    let request = RevokeApiKeyRequest {
        api_key_id: id.clone(),
    };
    let request = with_auth(request, &owner.access_token, Some(&org));
    app.client::<ApiKeyClient>()
        .revoke_api_key(request)
        .await
        .unwrap();
    let after = get_org(&app, &created.secret, None).await;
    assert_eq!(code_of(&after), Code::Unauthenticated);
    let request = with_auth(ListApiKeysRequest {}, &owner.access_token, Some(&org));
    let listed = app
        .client::<ApiKeyClient>()
        .list_api_keys(request)
        .await
        .unwrap();
    let listed = listed.into_inner().api_keys;
    let key = listed.iter().find(|k| k.id == id).unwrap();
    assert!(key.revoked_at.is_some());
}

#[tokio::test]
async fn the_ip_allowlist_refuses_bad_ranges_and_lists_that_exclude_the_caller() {
    let (app, owner, org) = app_with_org().await;
    for bad in ["not-a-cidr", "10.0.0.0/33", "300.1.2.3/8", ""] {
        let code = set_allowlist(&app, &owner, &org, &[bad]).await;
        assert_eq!(code, Code::InvalidArgument, "{bad:?}");
    }
    let excluding = set_allowlist(&app, &owner, &org, &["10.0.0.0/8"]).await;
    assert_eq!(excluding, Code::FailedPrecondition);
    let get = || {
        let request = with_auth(GetIpAllowlistRequest {}, &owner.access_token, Some(&org));
        let mut client = app.client::<OrgClient>();
        async move {
            client
                .get_ip_allowlist(request)
                .await
                .unwrap()
                .into_inner()
                .cidrs
        }
    };
    assert!(get().await.is_empty(), "a refused list is not stored");
    let loopback = ["127.0.0.0/8", "2001:db8::/32"];
    assert_eq!(set_allowlist(&app, &owner, &org, &loopback).await, Code::Ok);
    assert_eq!(get().await, loopback);
    let key = create_api_key(&app, &owner, &org, Role::Agent)
        .await
        .unwrap();
    assert_eq!(code_of(&get_org(&app, &key.secret, None).await), Code::Ok);
    let single = ["127.0.0.1/32"];
    assert_eq!(set_allowlist(&app, &owner, &org, &single).await, Code::Ok);
    assert_eq!(
        code_of(&get_org(&app, &owner.access_token, Some(&org)).await),
        Code::Ok
    );
}

#[tokio::test]
async fn an_allowlist_that_excludes_the_caller_refuses_that_org_only() {
    let (app, owner, org) = app_with_org().await;
    let other_org = create_org(&app, &owner, "Unrestricted").await;
    let key = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap();
    assert_eq!(
        set_allowlist(&app, &owner, &org, &["127.0.0.0/8"]).await,
        Code::Ok
    );
    assert_eq!(code_of(&get_org(&app, &key.secret, None).await), Code::Ok);
    // No RPC can store a list that excludes the caller; the database can.
    let sql = format!("UPDATE orgs SET ip_allowlist = '{{10.0.0.0/8}}' WHERE id = '{org}'");
    superuser_execute(&app, &sql).await;
    let token = &owner.access_token;
    assert_eq!(
        code_of(&get_org(&app, token, Some(&org)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code_of(&get_org(&app, &key.secret, None).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code_of(&get_org(&app, token, Some(&other_org)).await),
        Code::Ok
    );
    assert_eq!(code_of(&who_am_i(&app, token).await), Code::Ok);
}
