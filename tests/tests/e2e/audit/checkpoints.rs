//! Signed checkpoints: made by `POST /cron/audit-checkpoint` (and by the
//! server on its own), chained to each other, checked against the chain by
//! the database before they are stored, and verified with the public key
//! alone by `VerifyAuditChain` and `ochre audit verify`, which then notice
//! events cut from the end before the last checkpoint.

use ochre_sdk::v1::{
    GetAuditPublicKeyRequest, VerifyAuditChainRequest, VerifyAuditChainResponse,
    audit_service_client::AuditServiceClient,
};
use ochre_tests::prelude::*;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use tonic::transport::Channel;

use super::{public_key, verify_cli};

async fn checkpoint(app: &TestApp) -> u64 {
    let answer = reqwest::Client::new()
        .post(format!("http://{}/cron/audit-checkpoint", app.addr))
        .bearer_auth(&app.cron_secret)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    body["checkpoints"].as_u64().unwrap()
}

fn client(app: &TestApp) -> AuditServiceClient<Channel> {
    AuditServiceClient::new(app.channel.clone())
}

pub async fn verify_rpc(app: &TestApp, owner: &Session, org: &str) -> VerifyAuditChainResponse {
    let request = with_auth(VerifyAuditChainRequest {}, &owner.access_token, Some(org));
    client(app)
        .verify_audit_chain(request)
        .await
        .unwrap()
        .into_inner()
}

async fn keys(app: &TestApp, owner: &Session, org: &str, n: usize) {
    for _ in 0..n {
        create_api_key(app, owner, org, Role::Agent).await.unwrap();
    }
}

#[tokio::test]
async fn signed_checkpoints_chain_and_expose_events_cut_before_the_last_one() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Checkpointed").await;
    keys(&app, &owner, &org, 6).await;
    assert_eq!(checkpoint(&app).await, 1);
    assert_eq!(checkpoint(&app).await, 0, "nothing new");
    keys(&app, &owner, &org, 3).await;
    assert_eq!(checkpoint(&app).await, 1);
    keys(&app, &owner, &org, 2).await;

    let su = app.superuser_db().await;
    let rows = su
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT seq, key_id, prev_signature = '' AS first, \
                        prev_signature = lag(signature) OVER (ORDER BY seq) AS linked \
                   FROM audit_checkpoints WHERE org_id = '{org}' ORDER BY seq"
            ),
        ))
        .await
        .unwrap();
    let seqs: Vec<i64> = rows.iter().map(|r| r.try_get("", "seq").unwrap()).collect();
    assert_eq!(seqs, [6, 9]);
    assert!(rows[0].try_get::<bool>("", "first").unwrap());
    assert!(rows[1].try_get::<bool>("", "linked").unwrap());
    let served = client(&app)
        .get_audit_public_key(GetAuditPublicKeyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(served.public_key, public_key(&app).to_vec());
    let key_id: String = rows[0].try_get("", "key_id").unwrap();
    assert_eq!(served.key_id, key_id);

    let ok = verify_rpc(&app, &owner, &org).await;
    assert!(ok.ok, "{ok:?}");
    assert_eq!((ok.last_seq, ok.checkpointed_seq), (11, 9));
    let (fine, line) = verify_cli(&app, &org).await;
    assert!(
        fine && line.contains("ok, 11 events, checkpointed to 9"),
        "{line}"
    );

    // Another key does not verify the first checkpoint.
    let (fine, line) = verify_cli_with_key(&app, &org, &random_key()).await;
    assert!(!fine && line.contains("broken at seq 6"), "{line}");

    // The database refuses a checkpoint that misstates the chain.
    let last = su
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT encode(signature, 'hex') AS sig FROM audit_checkpoints \
                  WHERE org_id = '{org}' AND seq = 9"
            ),
        ))
        .await
        .unwrap()
        .unwrap();
    let last: String = last.try_get("", "sig").unwrap();
    let forged = format!(
        "SELECT record_audit_checkpoint('{org}', 10, decode(repeat('00', 32), 'hex'), \
           decode('{last}', 'hex'), 'k', decode(repeat('11', 64), 'hex')) AS recorded"
    );
    let recorded = app
        .service_db()
        .await
        .query_one_raw(Statement::from_string(DbBackend::Postgres, forged))
        .await
        .unwrap()
        .unwrap();
    assert!(!recorded.try_get::<bool>("", "recorded").unwrap());

    // Cut the tail from event 8 on (before the checkpoint at 9), around
    // the trigger: both verifiers name event 8.
    su.execute_unprepared(&format!(
        "SET session_replication_role = replica; \
         DELETE FROM audit_log WHERE org_id = '{org}' AND seq >= 8; \
         SET session_replication_role = origin"
    ))
    .await
    .unwrap();
    let cut = verify_rpc(&app, &owner, &org).await;
    assert!(!cut.ok);
    assert_eq!(cut.first_bad_seq, 8, "{cut:?}");
    assert!(cut.problem.contains("missing"), "{cut:?}");
    let (fine, line) = verify_cli(&app, &org).await;
    assert!(!fine && line.contains("broken at seq 8"), "{line}");
}

/// `ochre audit verify --public-key <key>` with the public key of `secret`.
async fn verify_cli_with_key(app: &TestApp, org: &str, secret: &str) -> (bool, String) {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(secret)
        .unwrap();
    let public =
        ochre_server::crypto::audit_checkpoint::CheckpointSigner::new(&bytes.try_into().unwrap())
            .public_key();
    let public = base64::engine::general_purpose::STANDARD.encode(public);
    super::verify_cli_args(app, org, &["--public-key", &public]).await
}
