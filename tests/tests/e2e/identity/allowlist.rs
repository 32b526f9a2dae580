//! The org's IP allowlist end to end: ranges validated, a list that would
//! exclude the caller refused, an excluding list refusing that org only, and
//! only owners changing it (admins and API keys refused, in SQL too).

use ochre_sdk::v1::{GetIpAllowlistRequest, SetIpAllowlistRequest};
use ochre_tests::{
    identity::{get_org, superuser_execute, who_am_i},
    prelude::*,
};

use super::app_with_org;

async fn set_allowlist(app: &TestApp, caller: &Session, org: &str, cidrs: &[&str]) -> Code {
    let request = SetIpAllowlistRequest {
        cidrs: cidrs.iter().map(|c| (*c).to_owned()).collect(),
    };
    let request = with_auth(request, &caller.access_token, Some(org));
    code_of(&app.client::<OrgClient>().set_ip_allowlist(request).await)
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

#[tokio::test]
async fn only_owners_change_the_ip_allowlist_and_admins_and_api_keys_are_refused() {
    use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
    let (app, owner, org) = app_with_org().await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let key = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap();
    let lockout = ["127.0.0.0/8"];
    assert_eq!(
        set_allowlist(&app, &admin, &org, &lockout).await,
        Code::PermissionDenied
    );
    let request = SetIpAllowlistRequest {
        cidrs: lockout.iter().map(|c| (*c).to_owned()).collect(),
    };
    let by_key = app
        .client::<OrgClient>()
        .set_ip_allowlist(with_auth(request, &key.secret, Some(&org)))
        .await;
    assert_eq!(code_of(&by_key), Code::PermissionDenied);
    let stored = app
        .client::<OrgClient>()
        .get_ip_allowlist(with_auth(
            GetIpAllowlistRequest {},
            &owner.access_token,
            Some(&org),
        ))
        .await
        .unwrap()
        .into_inner()
        .cidrs;
    assert!(stored.is_empty(), "a refused change stores nothing");
    assert_eq!(set_allowlist(&app, &owner, &org, &lockout).await, Code::Ok);

    // The database holds the same line: an admin's transaction updates no org
    // row, an owner's does.
    let db = app.app_db().await;
    for (who, expected) in [(&admin, 0), (&owner, 1)] {
        let tx = db.begin().await.unwrap();
        let cred = Credential::of_access_token(&who.access_token);
        let verdict = verify(&tx, &cred, org_of(&org), "127.0.0.1").await;
        assert_eq!(verdict, "ok", "loopback is on the list");
        let updated = tx
            .execute_unprepared(&format!(
                "UPDATE orgs SET ip_allowlist = '{{10.0.0.0/8}}' WHERE id = '{org}'"
            ))
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(updated, expected, "user {}", who.user_id);
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn the_org_allowlist_also_holds_for_accepting_an_invitation_into_it() {
    use ochre_tests::identity::{accept, invite};
    let (app, owner, org) = app_with_org().await;
    let email = unique_email();
    let invitee = signup_and_login(&app, &email).await;
    let invitation = invite(&app, &owner, &org, &email, Role::Agent)
        .await
        .unwrap();
    // A list that excludes the invitee's address (loopback): set in SQL, as
    // no RPC stores a list that excludes its own caller.
    let lock = format!("UPDATE orgs SET ip_allowlist = '{{10.0.0.0/8}}' WHERE id = '{org}'");
    superuser_execute(&app, &lock).await;
    let refused = accept(&app, &invitee, &invitation.token).await;
    assert_eq!(code_of(&refused), Code::PermissionDenied);
    let joined = who_am_i(&app, &invitee.access_token).await.unwrap();
    assert!(
        joined.memberships.is_empty(),
        "a refused accept joins nothing"
    );
    // From an allowed address the same invitation still works.
    let open = format!("UPDATE orgs SET ip_allowlist = '{{127.0.0.0/8}}' WHERE id = '{org}'");
    superuser_execute(&app, &open).await;
    assert!(accept(&app, &invitee, &invitation.token).await.is_ok());
}
