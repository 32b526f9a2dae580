//! Membership changes are serialised per org: two owners demoting each
//! other at the same moment cannot leave the org without an owner.

use std::time::Duration;

use ochre_tests::prelude::*;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};

#[tokio::test]
async fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let app = spawn_app().await;
    let a = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &a, "Race").await;
    let b = add_member(&app, &a, &org, Role::Admin).await;
    let promote = ochre_sdk::v1::UpdateMemberRoleRequest {
        user_id: b.user_id.clone(),
        role: Role::Owner as i32,
    };
    app.client::<MemberClient>()
        .update_member_role(with_auth(promote, &a.access_token, Some(&org)))
        .await
        .unwrap();

    // T1: A demotes B and holds the org's membership lock (not committed).
    let db1 = app.app_db().await;
    let t1 = begin_as(&db1, &a, &org).await;
    t1.execute_unprepared(&format!("SELECT set_member_role('{}', 'admin')", b.user_id))
        .await
        .unwrap();

    // T2: B demotes A at the same moment; it must wait for T1.
    let db2 = app.app_db().await;
    let (org2, b2, a_id) = (org.clone(), b.clone(), a.user_id.clone());
    let t2 = tokio::spawn(async move {
        let t2 = begin_as(&db2, &b2, &org2).await;
        let r = t2
            .execute_unprepared(&format!("SELECT set_member_role('{a_id}', 'admin')"))
            .await;
        (
            r.map(|_| ()).map_err(|e| e.to_string()),
            t2.commit().await.is_ok(),
        )
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!t2.is_finished(), "T2 waits for the lock T1 holds");
    t1.commit().await.unwrap();
    let (result, _) = t2.await.unwrap();
    let err = result.expect_err("B is no longer an owner once T1 committed");
    assert!(err.contains("owner"), "{err}");

    let su = app.superuser_db().await;
    let owners = su
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT count(*) AS n FROM memberships WHERE org_id = '{org}' AND role = 'owner'"
            ),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(owners, 1);
}
