//! Becoming a caller in SQL the only way `ochre_app` can: presenting a live
//! credential to the database's identity call (`verify_session()` or
//! `verify_api_key()`), which pins the verified caller for the rest of the
//! transaction. Settings set by hand (`app.*`, or a made-up pinned caller
//! in a custom setting) mean nothing; see [`forge_settings`].

use base64::Engine as _;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, TransactionTrait as _,
    Value,
};
use uuid::Uuid;

use crate::identity::Session;

/// A credential as the SQL identity calls take it.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A session and its per-session proof (from an access token's claims).
    Session { session: Uuid, proof: Vec<u8> },
    /// An API key, whole.
    ApiKey(String),
}

impl Credential {
    /// The session and proof an access token carries (its payload is
    /// base64url JSON with `sid` and `prf`).
    pub fn of_access_token(token: &str) -> Credential {
        let payload = token.split('.').nth(1).expect("token payload");
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url payload");
        let claims: serde_json::Value = serde_json::from_slice(&json).expect("json claims");
        let text = |k: &str| claims[k].as_str().expect("claim").to_owned();
        Credential::Session {
            session: Uuid::parse_str(&text("sid")).expect("sid"),
            proof: base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text("prf"))
                .expect("prf"),
        }
    }

    /// The session the SQL matrix seeds for user `u` (id `u`, proof = the
    /// 16 bytes of `u`; see `sqlmatrix::seed_org`).
    pub fn seeded_user(u: Uuid) -> Credential {
        Credential::Session {
            session: u,
            proof: u.as_bytes().to_vec(),
        }
    }

    /// The secret the SQL matrix seeds for API key `k`.
    pub fn seeded_key(k: Uuid) -> Credential {
        Credential::ApiKey(seeded_key_secret(k))
    }
}

/// SQL (run as a superuser) that gives user `u` the session
/// [`Credential::seeded_user`] presents: id `u`, live for a day.
pub fn seed_session_sql(u: Uuid) -> String {
    format!(
        "INSERT INTO sessions (id, user_id, expires_at, proof_hash) \
           VALUES ('{u}', '{u}', now() + interval '1 day', sha256(uuid_send('{u}'::uuid)));"
    )
}

/// The secret of a seeded API key (its SHA-256 is the stored hash).
pub fn seeded_key_secret(k: Uuid) -> String {
    format!("ochre_sk_seed_{k}")
}

fn stmt(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, values)
}

/// Presents `cred` (acting in `org`, from `client_ip`) and returns the
/// database's verdict ('ok', 'no_credential', 'not_member',
/// 'address_refused'); on 'ok' the caller is pinned in this transaction.
pub async fn verify(
    tx: &impl ConnectionTrait,
    cred: &Credential,
    org: Option<Uuid>,
    client_ip: &str,
) -> String {
    let (sql, values): (&str, Vec<Value>) = match cred {
        Credential::Session { session, proof } => (
            "SELECT verdict FROM verify_session($1, $2, $3, $4)",
            vec![
                (*session).into(),
                proof.clone().into(),
                org.into(),
                client_ip.into(),
            ],
        ),
        Credential::ApiKey(key) => (
            "SELECT verdict FROM verify_api_key($1, $2, $3)",
            vec![key.clone().into(), org.into(), client_ip.into()],
        ),
    };
    let row = tx
        .query_one_raw(stmt(sql, values))
        .await
        .expect("the identity call")
        .expect("a verdict row");
    row.try_get("", "verdict").expect("verdict")
}

/// [`verify`], which must say 'ok'.
pub async fn become_caller(tx: &impl ConnectionTrait, cred: &Credential, org: Option<Uuid>) {
    let verdict = verify(tx, cred, org, "").await;
    assert_eq!(
        verdict, "ok",
        "the identity call refused {cred:?} in {org:?}"
    );
}

/// The org id an RPC test holds as text ('' for none).
pub fn org_of(org: &str) -> Option<Uuid> {
    (!org.is_empty()).then(|| Uuid::parse_str(org).expect("an org id"))
}

/// A transaction on `db` in which the signed-in `who` acts in `org` ('' for
/// none), as the database verified from `who`'s access token; panics when the
/// database refuses.
pub async fn begin_as(db: &DatabaseConnection, who: &Session, org: &str) -> DatabaseTransaction {
    let tx = db.begin().await.expect("begin");
    become_caller(
        &tx,
        &Credential::of_access_token(&who.access_token),
        org_of(org),
    )
    .await;
    tx
}

/// What an attacker holding only the `ochre_app` password can set: the
/// old `app.*` caller settings, and a made-up pinned caller (owner of `org`)
/// in custom settings (`ochre.identity`, the old design's, and
/// `ochre.caller`). The parameter that does hold the pinned caller refuses
/// them (`isolation::pinned`).
pub async fn forge_settings(
    tx: &impl ConnectionTrait,
    org: Option<Uuid>,
    user: Option<Uuid>,
    api_key: Option<Uuid>,
) {
    let text = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    tx.execute_raw(stmt(
        "SELECT set_config('app.org_id', $1, true), set_config('app.user_id', $2, true), \
                set_config('app.api_key_id', $3, true), \
                set_config('ochre.identity', v, true), set_config('ochre.caller', v, true) \
           FROM (SELECT 'ochre_v1,' || replace($1, '-', '') || ',' || replace($2, '-', '') \
                        || ',' || replace($3, '-', '') || ',,owner' AS v) made_up",
        vec![text(org).into(), text(user).into(), text(api_key).into()],
    ))
    .await
    .expect("set the forged settings");
}
