//! Identity rules as the database enforces them, checked with real
//! connections: own-row visibility, membership visibility, the TOTP secret
//! at rest, and the rehash of an outdated password hash on login.

use ochre_tests::{
    identity::{enable_totp, login},
    prelude::*,
};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement, TransactionTrait as _};

/// Rows `sql` returns to `ochre_app` after `who` presented their session for
/// `org` ('' for none); a refused credential leaves the caller nobody.
async fn count_as(
    db: &sea_orm::DatabaseConnection,
    org: &str,
    who: Option<&Session>,
    sql: &str,
) -> usize {
    let tx = db.begin().await.unwrap();
    if let Some(who) = who {
        verify(
            &tx,
            &Credential::of_access_token(&who.access_token),
            org_of(org),
            "",
        )
        .await;
    }
    let n = tx
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .len();
    tx.commit().await.unwrap();
    n
}

#[tokio::test]
async fn a_user_sees_only_their_own_user_row_and_sessions() {
    let app = spawn_app().await;
    let alice = signup_and_login(&app, &unique_email()).await;
    let _bob = signup_and_login(&app, &unique_email()).await;
    let db = app.app_db().await;
    assert_eq!(
        count_as(&db, "", Some(&alice), "SELECT id FROM users").await,
        1
    );
    assert_eq!(
        count_as(&db, "", Some(&alice), "SELECT id FROM sessions").await,
        1
    );
    assert_eq!(count_as(&db, "", None, "SELECT id FROM users").await, 0);
    // Refresh tokens are not readable by the app role at all.
    let tx = db.begin().await.unwrap();
    let err = tx
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT * FROM refresh_tokens",
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn memberships_are_visible_to_members_of_the_org_only() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Visible").await;
    let agent = add_member(&app, &owner, &org, Role::Agent).await;
    let outsider = signup_and_login(&app, &unique_email()).await;
    let db = app.app_db().await;
    let all = "SELECT user_id FROM memberships WHERE org_id = app_org()";
    assert_eq!(count_as(&db, &org, Some(&agent), all).await, 2);
    // An outsider who names the org anyway is refused and sees nothing of it.
    assert_eq!(count_as(&db, &org, Some(&outsider), all).await, 0);
    assert_eq!(
        count_as(&db, &org, Some(&outsider), "SELECT * FROM org_members()").await,
        0
    );
}

#[tokio::test]
async fn the_totp_secret_is_stored_only_as_vault_ciphertext() {
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let totp = enable_totp(&app, &user).await;
    let secret = data_encoding::BASE32_NOPAD
        .decode(totp.secret_base32.as_bytes())
        .unwrap();
    let su = app.superuser_db().await;
    let row = su
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT totp_secret, totp_pending_secret FROM users WHERE id = '{}'",
                user.user_id
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let stored: Vec<u8> = row.try_get("", "totp_secret").unwrap();
    let pending: Option<Vec<u8>> = row.try_get("", "totp_pending_secret").unwrap();
    assert!(
        pending.is_none(),
        "the pending secret is cleared on confirmation"
    );
    assert_eq!(stored[0], 1, "format version 1");
    assert!(
        stored.len() >= 1 + 4 + 24 + secret.len() + 16,
        "version, key id, nonce, tag"
    );
    assert!(
        !stored.windows(secret.len()).any(|w| w == secret.as_slice()),
        "no clear secret"
    );
    let b32 = totp.secret_base32.as_bytes();
    assert!(
        !stored.windows(b32.len()).any(|w| w == b32),
        "no base32 secret"
    );
}

#[tokio::test]
async fn login_rehashes_a_password_hashed_with_outdated_parameters() {
    use argon2::{
        Algorithm, Argon2, Params, Version,
        password_hash::{PasswordHasher as _, SaltString},
    };
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8192, 1, 1, None).unwrap(),
    );
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    let old = weak
        .hash_password(user.password.as_bytes(), &salt)
        .unwrap()
        .to_string();
    let su = app.superuser_db().await;
    su.execute_unprepared(&format!(
        "UPDATE users SET password_hash = '{old}' WHERE id = '{}'",
        user.user_id
    ))
    .await
    .unwrap();
    login(&app, &user.email, &user.password)
        .await
        .expect("the old hash still verifies");
    let row = su
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT password_hash FROM users WHERE id = '{}'",
                user.user_id
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let now: String = row.try_get("", "password_hash").unwrap();
    assert_ne!(now, old);
    assert!(now.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{now}");
    login(&app, &user.email, &user.password)
        .await
        .expect("the new hash verifies");
}
