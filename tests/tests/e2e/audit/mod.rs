//! The audit log: who may write it, the events every privileged action
//! appends, and the hash chain (gapless under concurrency, verified in Rust
//! and by `ochre audit verify`, tampering named at its sequence number).

mod chain;
mod checkpoints;
mod events;
mod listing;
mod writers;

use ochre_server::{db::audit_chain, ids::OrgId};
use ochre_tests::{ochre_against, prelude::*};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};

/// The org's events in sequence order: (seq, action, detail text,
/// request id), read as the superuser.
pub async fn events(app: &TestApp, org: &str) -> Vec<(i64, String, String, String)> {
    let sql = format!(
        "SELECT seq, action, detail::text AS detail, request_id FROM audit_log \
          WHERE org_id = '{org}' ORDER BY seq"
    );
    app.superuser_db()
        .await
        .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.try_get("", "seq").unwrap(),
                r.try_get("", "action").unwrap(),
                r.try_get("", "detail").unwrap(),
                r.try_get("", "request_id").unwrap(),
            )
        })
        .collect()
}

/// The chain's verdict recomputed in this process from the rows: the last
/// sequence number, or the first that does not verify (as `Err`).
pub async fn verify_here(app: &TestApp, org: &str) -> Result<i64, i64> {
    let org = OrgId::from_uuid(uuid::Uuid::parse_str(org).unwrap());
    let su = app.superuser_db().await;
    match audit_chain::verify_on(&su, org, &public_key(app))
        .await
        .unwrap()
    {
        Ok(verified) => Ok(verified.head.seq),
        Err(broken) => Err(broken.seq()),
    }
}

/// The public key of the test server's checkpoint signer.
pub fn public_key(app: &TestApp) -> [u8; 32] {
    use base64::Engine as _;
    let secret = base64::engine::general_purpose::STANDARD
        .decode(&app.audit_key)
        .unwrap();
    ochre_server::crypto::audit_checkpoint::CheckpointSigner::new(&secret.try_into().unwrap())
        .public_key()
}

/// `ochre audit verify --org <org>` against the test database: success and
/// its one line of output.
pub async fn verify_cli(app: &TestApp, org: &str) -> (bool, String) {
    verify_cli_args(app, org, &[]).await
}

/// `ochre audit verify --org <org> <extra>`.
pub async fn verify_cli_args(app: &TestApp, org: &str, extra: &[&str]) -> (bool, String) {
    let output = ochre_against(app)
        .args(["audit", "verify", "--org", org])
        .args(extra)
        .output()
        .await
        .expect("run ochre audit verify");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    )
}
