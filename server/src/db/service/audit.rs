//! Checkpointing the audit chains (a gate of `ochre_service`): which orgs
//! are due, and recording a checkpoint the server signed. The database
//! checks the stated head against the chain; the key stays in the server.

use sea_orm::FromQueryResult;

use super::{Db, DbError, stmt};
use crate::crypto::audit_checkpoint::CheckpointSigner;
use crate::ids::OrgId;

/// Every this many events an org's chain is checkpointed.
pub const CHECKPOINT_EVERY: i32 = 1000;
/// And at least this often (seconds) while it has new events.
pub const CHECKPOINT_AFTER_SECS: f64 = 300.0;

#[derive(Debug, Clone, FromQueryResult)]
struct Due {
    org_id: OrgId,
    seq: i64,
    head_hash: Vec<u8>,
    prev_signature: Vec<u8>,
}

#[derive(Debug, Clone, FromQueryResult)]
struct Recorded {
    recorded: bool,
}

impl Db {
    /// Signs and records a checkpoint for every org with at least `every`
    /// events since its last one, or with new events and `after_secs`
    /// since its last one; how many were recorded.
    pub async fn checkpoint_audit(
        &self,
        signer: &CheckpointSigner,
        every: i32,
        after_secs: f64,
    ) -> Result<u32, DbError> {
        let due = Due::find_by_statement(stmt(
            "SELECT org_id, seq, head_hash, prev_signature \
               FROM audit_checkpoints_due($1, make_interval(secs => $2))",
            [every.into(), after_secs.into()],
        ))
        .all(&self.service)
        .await?;
        let mut recorded = 0;
        for d in due {
            let c = signer.sign(d.org_id.uuid(), d.seq, &d.head_hash, &d.prev_signature);
            let row = Recorded::find_by_statement(stmt(
                "SELECT record_audit_checkpoint($1, $2, $3, $4, $5, $6) AS recorded",
                [
                    d.org_id.into(),
                    d.seq.into(),
                    c.head_hash.into(),
                    c.prev_signature.into(),
                    c.key_id.into(),
                    c.signature.into(),
                ],
            ))
            .one(&self.service)
            .await?;
            if row.is_some_and(|r| r.recorded) {
                recorded += 1;
            }
        }
        Ok(recorded)
    }
}
