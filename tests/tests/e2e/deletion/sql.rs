//! The database's own part, attacked as `ochre_app`: an org pending
//! deletion pins only its owner's session, and only when the identity call
//! asks for it; API keys, other members and forged settings get nothing
//! and can neither restore it nor read it.

use ochre_tests::prelude::*;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement, TransactionTrait as _, Value};

use super::schedule;

/// The identity call with the pending-deletion flag; the verdict.
async fn verify_pending(
    tx: &impl sea_orm::ConnectionTrait,
    session: &Session,
    org: &str,
    pending_ok: bool,
) -> String {
    let Credential::Session { session, proof } = Credential::of_access_token(&session.access_token)
    else {
        unreachable!("an access token names a session")
    };
    let values: Vec<Value> = vec![
        session.into(),
        proof.into(),
        org_of(org).into(),
        "".into(),
        pending_ok.into(),
    ];
    let row = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT verdict FROM verify_session($1, $2, $3, $4, $5)",
            values,
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by("verdict").unwrap()
}

#[tokio::test]
async fn an_org_pending_deletion_pins_only_its_owner_and_only_when_asked() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Pending").await;
    let admin = add_member(&app, &owner, &org, Role::Admin).await;
    let key = create_api_key(&app, &owner, &org, Role::Admin)
        .await
        .unwrap()
        .secret;
    schedule(&app, &owner.access_token, &org, &owner.password, "")
        .await
        .expect("schedule");
    let db = app.app_db().await;
    let mut c = Checks::default();
    for (who, session, pending_ok, want) in [
        ("the owner, not asking", &owner, false, "pending_deletion"),
        ("the owner, asking", &owner, true, "ok"),
        ("an admin, asking", &admin, true, "pending_deletion"),
    ] {
        let tx = db.begin().await.unwrap();
        let verdict = verify_pending(&tx, session, &org, pending_ok).await;
        c.eq(who, verdict.as_str(), want);
        let visible = tx
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT count(*) AS n FROM orgs WHERE id = '{org}'"),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by::<i64, _>("n")
            .unwrap();
        c.eq(
            &format!("{who}: the org row is visible"),
            visible,
            i64::from(want == "ok"),
        );
        let restored = tx.execute_unprepared("SELECT restore_org('', 'sql')").await;
        c.eq(&format!("{who}: restores"), restored.is_ok(), want == "ok");
        tx.rollback().await.unwrap();
    }
    let tx = db.begin().await.unwrap();
    let verdict = verify(&tx, &Credential::ApiKey(key), org_of(&org), "").await;
    c.eq("an admin key", verdict.as_str(), "pending_deletion");
    tx.rollback().await.unwrap();
    let tx = db.begin().await.unwrap();
    let uid = uuid::Uuid::parse_str(&owner.user_id).unwrap();
    forge_settings(&tx, org_of(&org), Some(uid), None).await;
    let forged = tx.execute_unprepared("SELECT restore_org('', 'sql')").await;
    c.that(forged.is_err(), "forged settings restore nothing");
    tx.rollback().await.unwrap();
    let still = ochre_tests::identity::get_org(&app, &owner.access_token, Some(&org))
        .await
        .unwrap();
    c.that(
        still.org.unwrap().purge_after.is_some(),
        "still pending deletion",
    );
    c.verify();
}
