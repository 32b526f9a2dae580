//! The account functions (create_org, accept_invitation,
//! delete_my_account) act for a signed-in user only: an API key and forged
//! settings are refused and write nothing; the owner's own session is
//! admitted (the control).

use sea_orm::{ConnectionTrait as _, TransactionTrait as _};

use ochre_tests::prelude::*;

use super::definers::footprint;

#[tokio::test]
async fn the_account_functions_refuse_api_keys_and_forged_settings_and_admit_a_signed_in_user() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Accounts").await;
    let key = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap()
        .secret;
    let db = app.app_db().await;
    let su = app.superuser_db().await;
    let calls = [
        format!("SELECT create_org('{}', 'by a key')", uuid::Uuid::now_v7()),
        "SELECT accept_invitation(gen_random_uuid(), sha256('no such token'), '', '')".to_owned(),
        "SELECT delete_my_account()".to_owned(),
    ];
    let owner_id = uuid::Uuid::parse_str(&owner.user_id).unwrap();
    for sql in &calls {
        for how in ["admin key", "forged owner"] {
            let before = footprint(&su, &org).await;
            let tx = db.begin().await.unwrap();
            match how {
                "admin key" => {
                    become_caller(&tx, &Credential::ApiKey(key.clone()), org_of(&org)).await
                }
                _ => forge_settings(&tx, org_of(&org), Some(owner_id), None).await,
            }
            let err = tx
                .execute_unprepared(sql)
                .await
                .expect_err("refused")
                .to_string();
            let _ = tx.commit().await;
            assert!(err.contains("signed-in user"), "{how}: {sql}: {err}");
            assert_eq!(footprint(&su, &org).await, before, "{how}: {sql} wrote");
        }
    }
    // The control: the owner's own session creates an org.
    let tx = begin_as(&db, &owner, "").await;
    tx.execute_unprepared(&calls[0])
        .await
        .expect("a signed-in user creates an org");
    tx.rollback().await.unwrap();
}
