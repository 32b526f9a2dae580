//! Grants do not outlive the authority of the member who made them, API
//! keys cannot manage membership, and a revoked session stays revoked.

use ochre_sdk::v1::{
    CreateApiKeyRequest, DeleteAccountRequest, GetIpAllowlistRequest, GetOrgRequest,
    RemoveMemberRequest, UpdateMemberRoleRequest,
};
use ochre_tests::{
    identity::{accept, invite},
    prelude::*,
};
use sea_orm::{ConnectionTrait as _, TransactionTrait as _};

#[tokio::test]
async fn a_removed_members_invitations_and_keys_die_with_their_membership() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Authority").await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let alt = unique_email();
    let pending = invite(&app, &admin, &org, &alt, Role::Admin)
        .await
        .unwrap()
        .token;
    let key = create_api_key(&app, &admin, &org, Role::Admin)
        .await
        .unwrap()
        .secret;
    let remove = RemoveMemberRequest {
        user_id: admin.user_id.clone(),
    };
    app.client::<MemberClient>()
        .remove_member(with_auth(remove, &owner.access_token, Some(&org)))
        .await
        .unwrap();

    let alt_session = signup_and_login(&app, &alt).await;
    assert_eq!(
        code_of(&accept(&app, &alt_session, &pending).await),
        Code::NotFound
    );
    let with_key = app
        .client::<OrgClient>()
        .get_org(with_auth(GetOrgRequest {}, &key, None))
        .await;
    assert_eq!(
        code_of(&with_key),
        Code::Unauthenticated,
        "the removed admin's key is revoked"
    );
}

#[tokio::test]
async fn a_demoted_members_grants_above_their_new_role_are_revoked() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Demotion").await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let (high, low) = (unique_email(), unique_email());
    let high_token = invite(&app, &admin, &org, &high, Role::Admin)
        .await
        .unwrap()
        .token;
    let low_token = invite(&app, &admin, &org, &low, Role::Agent)
        .await
        .unwrap()
        .token;
    let admin_key = create_api_key(&app, &admin, &org, Role::Admin)
        .await
        .unwrap()
        .secret;
    let agent_key = create_api_key(&app, &admin, &org, Role::Agent)
        .await
        .unwrap()
        .secret;
    let demote = UpdateMemberRoleRequest {
        user_id: admin.user_id.clone(),
        role: Role::Agent as i32,
    };
    app.client::<MemberClient>()
        .update_member_role(with_auth(demote, &owner.access_token, Some(&org)))
        .await
        .unwrap();

    let high_session = signup_and_login(&app, &high).await;
    assert_eq!(
        code_of(&accept(&app, &high_session, &high_token).await),
        Code::NotFound
    );
    let low_session = signup_and_login(&app, &low).await;
    assert_eq!(
        code_of(&accept(&app, &low_session, &low_token).await),
        Code::Ok,
        "within the new role"
    );
    let mut orgs = app.client::<OrgClient>();
    let r = orgs
        .get_org(with_auth(GetOrgRequest {}, &admin_key, None))
        .await;
    assert_eq!(code_of(&r), Code::Unauthenticated);
    let r = orgs
        .get_org(with_auth(GetOrgRequest {}, &agent_key, None))
        .await;
    assert_eq!(code_of(&r), Code::Ok);
}

#[tokio::test]
async fn an_api_key_cannot_mint_keys_or_manage_members() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Keys").await;
    let key = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap()
        .secret;
    let mint = CreateApiKeyRequest {
        name: "child".into(),
        role: Role::Agent as i32,
        ..Default::default()
    };
    let r = app
        .client::<ApiKeyClient>()
        .create_api_key(with_auth(mint, &key, None))
        .await;
    assert_eq!(code_of(&r), Code::PermissionDenied);
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let remove = RemoveMemberRequest {
        user_id: agent.user_id.clone(),
    };
    let r = app
        .client::<MemberClient>()
        .remove_member(with_auth(remove, &key, None))
        .await;
    assert_eq!(code_of(&r), Code::PermissionDenied);
    let promote = UpdateMemberRoleRequest {
        user_id: agent.user_id.clone(),
        role: Role::Admin as i32,
    };
    let r = app
        .client::<MemberClient>()
        .update_member_role(with_auth(promote, &key, None))
        .await;
    assert_eq!(code_of(&r), Code::PermissionDenied);
    let email = unique_email();
    let r = app
        .client::<MemberClient>()
        .create_invitation(with_auth(
            ochre_sdk::v1::CreateInvitationRequest {
                email,
                role: Role::Agent as i32,
                ..Default::default()
            },
            &key,
            None,
        ))
        .await;
    assert_eq!(code_of(&r), Code::PermissionDenied);
}

#[tokio::test]
async fn a_revoked_session_cannot_be_revived_even_through_sql() {
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let su = app.superuser_db().await;
    su.execute_unprepared(&format!(
        "UPDATE sessions SET revoked_at = now() WHERE user_id = '{}'",
        user.user_id
    ))
    .await
    .unwrap();
    let db = app.app_db().await;
    let tx = db.begin().await.unwrap();
    // The session can no longer be presented; forged settings are nobody.
    let cred = Credential::of_access_token(&user.access_token);
    assert_eq!(verify(&tx, &cred, None, "").await, "no_credential");
    let uid = uuid::Uuid::parse_str(&user.user_id).unwrap();
    forge_settings(&tx, None, Some(uid), None).await;
    let revived = tx
        .execute_unprepared("UPDATE sessions SET revoked_at = NULL")
        .await;
    assert!(matches!(&revived, Ok(r) if r.rows_affected() == 0) || revived.is_err());
}

#[tokio::test]
async fn an_org_pending_deletion_opens_only_to_its_owners_calls_and_a_purged_one_to_nobody() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Deleted").await;
    let other = create_org(&app, &owner, "Alive").await;
    let su = app.superuser_db().await;
    su.execute_unprepared(&format!(
        "UPDATE orgs SET deleted_at = now(), purge_after = now() + interval '30 days' WHERE id = '{org}'"
    ))
    .await
    .unwrap();
    let mut orgs = app.client::<OrgClient>();
    let r = orgs
        .get_org(with_auth(GetOrgRequest {}, &owner.access_token, Some(&org)))
        .await;
    let shown = r
        .expect("an owner reads an org pending deletion")
        .into_inner();
    assert!(shown.org.and_then(|o| o.purge_after).is_some());
    let r = orgs
        .get_ip_allowlist(with_auth(
            GetIpAllowlistRequest {},
            &owner.access_token,
            Some(&org),
        ))
        .await;
    assert_eq!(code_of(&r), Code::FailedPrecondition);
    // Once its purge has begun, not even GetOrg.
    su.execute_unprepared(&format!(
        "UPDATE orgs SET purge_started_at = now() WHERE id = '{org}'"
    ))
    .await
    .unwrap();
    let r = orgs
        .get_org(with_auth(GetOrgRequest {}, &owner.access_token, Some(&org)))
        .await;
    assert_eq!(code_of(&r), Code::FailedPrecondition);
    let r = orgs
        .get_org(with_auth(
            GetOrgRequest {},
            &owner.access_token,
            Some(&other),
        ))
        .await;
    assert_eq!(code_of(&r), Code::Ok);
}

#[tokio::test]
async fn an_admin_cannot_write_a_key_in_another_members_name() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Forgery").await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let db = app.app_db().await;
    let insert = |created_by: &str| {
        format!(
            "INSERT INTO api_keys (org_id, id, name, role, key_hash, prefix, created_by) \
             VALUES ('{org}', gen_random_uuid(), 'k', 'agent', \
                     decode(md5(random()::text) || md5(random()::text), 'hex'), 'ochre_sk_x', '{created_by}')"
        )
    };
    for (created_by, allowed) in [
        (owner.user_id.as_str(), false),
        (admin.user_id.as_str(), true),
    ] {
        let tx = db.begin().await.unwrap();
        let org_id = uuid::Uuid::parse_str(&org).unwrap();
        become_caller(
            &tx,
            &Credential::of_access_token(&admin.access_token),
            Some(org_id),
        )
        .await;
        let r = tx.execute_unprepared(&insert(created_by)).await;
        if allowed {
            assert_eq!(r.unwrap().rows_affected(), 1, "in their own name");
        } else {
            let err = r.unwrap_err().to_string();
            assert!(
                err.contains("row-level security"),
                "in the owner's name: {err}"
            );
        }
    }
}

#[tokio::test]
async fn deleting_an_account_revokes_its_keys_and_invitations_in_every_org() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let (first, second) = (
        create_org(&app, &owner, "First").await,
        create_org(&app, &owner, "Second").await,
    );
    let admin = add_member(&app, &owner, &first, Role::Admin).await;
    let invitation = invite(&app, &owner, &second, &admin.email, Role::Admin)
        .await
        .unwrap();
    accept(&app, &admin, &invitation.token).await.unwrap();
    let mut keys = Vec::new();
    let mut pending = Vec::new();
    for org in [&first, &second] {
        let key = create_api_key(&app, &admin, org, Role::Agent)
            .await
            .unwrap();
        keys.push((org.clone(), key.secret));
        let email = unique_email();
        let token = invite(&app, &admin, org, &email, Role::Agent)
            .await
            .unwrap()
            .token;
        pending.push((email, token));
    }
    for (org, key) in &keys {
        let get = with_auth(GetOrgRequest {}, key, Some(org));
        assert!(app.client::<OrgClient>().get_org(get).await.is_ok());
    }
    let delete = DeleteAccountRequest {
        password: admin.password.clone(),
        totp_code: String::new(),
    };
    app.client::<AuthClient>()
        .delete_account(with_auth(delete, &admin.access_token, None))
        .await
        .unwrap();
    for (org, key) in &keys {
        let get = with_auth(GetOrgRequest {}, key, Some(org));
        let answer = app.client::<OrgClient>().get_org(get).await;
        assert_eq!(code_of(&answer), Code::Unauthenticated, "key in {org}");
    }
    for (email, token) in &pending {
        let invitee = signup_and_login(&app, email).await;
        assert_eq!(
            code_of(&accept(&app, &invitee, token).await),
            Code::NotFound
        );
    }
}

#[tokio::test]
async fn in_sql_a_key_needs_a_person_as_its_creator() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Keys").await;
    let key = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap();
    let db = app.app_db().await;
    let insert = |creator: &str| {
        format!(
            "INSERT INTO api_keys (org_id, id, name, role, key_hash, prefix, created_by) \
             VALUES ('{org}', gen_random_uuid(), 'k', 'agent', sha256(gen_random_uuid()::text::bytea), \
                     'ochre_sk_x', {creator})"
        )
    };
    let user = format!("'{}'", owner.user_id);
    let person = Credential::of_access_token(&owner.access_token);
    let api_key = Credential::ApiKey(key.secret.clone());
    let org_id = uuid::Uuid::parse_str(&org).unwrap();
    for (caller, creator, allowed) in [
        // The owner naming itself: the one legitimate shape.
        (&person, user.as_str(), true),
        // A person's scope with no creator named.
        (&person, "NULL", false),
        // An admin API key's scope, whoever it names as creator.
        (&api_key, user.as_str(), false),
        (&api_key, "NULL", false),
    ] {
        let tx = db.begin().await.unwrap();
        become_caller(&tx, caller, Some(org_id)).await;
        let result = tx.execute_unprepared(&insert(creator)).await;
        assert_eq!(result.is_ok(), allowed, "{caller:?} {creator}: {result:?}");
        tx.rollback().await.unwrap();
    }
}
