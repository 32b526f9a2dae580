//! Reading an org's audit chain back for verification: the events in
//! sequence order, in pages, and the signed checkpoints, checked with the
//! public key alone (`ochre audit verify` as the owner role;
//! `VerifyAuditChain` in a tenant transaction).

use sea_orm::{ConnectionTrait, Database, DbErr, FromQueryResult};
use secrecy::{ExposeSecret as _, SecretString};

use super::stmt;
use std::collections::{BTreeSet, HashMap};

use crate::crypto::audit_chain::{self, ChainBreak, ChainEvent, ChainHead};
use crate::crypto::audit_checkpoint::{self, Checkpoint};
use crate::ids::OrgId;

/// Events read per query.
const PAGE: i64 = 1000;

#[derive(Debug, Clone, FromQueryResult)]
struct Row {
    seq: i64,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    micros: i64,
    actor_user: Option<String>,
    actor_api_key: Option<String>,
    action: String,
    target_type: String,
    target_id: Option<String>,
    client_ip: Option<String>,
    request_id: String,
    detail: String,
}

/// The events of `org` with sequence numbers above `after`, at most `PAGE`.
pub async fn events_after(
    conn: &impl ConnectionTrait,
    org: OrgId,
    after: i64,
) -> Result<Vec<ChainEvent>, DbErr> {
    let rows = Row::find_by_statement(stmt(
        "SELECT seq, prev_hash, hash, (extract(epoch FROM occurred_at) * 1000000)::bigint AS micros, \
                actor_user_id::text AS actor_user, actor_api_key_id::text AS actor_api_key, \
                action, target_type, target_id::text AS target_id, host(client_ip) AS client_ip, \
                request_id, detail::text AS detail \
           FROM audit_log WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        [org.into(), after.into(), PAGE.into()],
    ))
    .all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ChainEvent {
            org: org.uuid(),
            seq: r.seq,
            prev_hash: r.prev_hash,
            hash: r.hash,
            occurred_at_micros: r.micros,
            actor_user: r.actor_user,
            actor_api_key: r.actor_api_key,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            client_ip: r.client_ip,
            request_id: r.request_id,
            detail: r.detail,
        })
        .collect())
}

/// A chain that verified: its head and the last checkpointed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub head: ChainHead,
    /// The last sequence number a signed checkpoint covers (0: none yet).
    pub checkpointed: i64,
}

#[derive(Debug, Clone, FromQueryResult)]
struct CheckpointRow {
    seq: i64,
    head_hash: Vec<u8>,
    prev_signature: Vec<u8>,
    key_id: String,
    signature: Vec<u8>,
}

/// The checkpoints of `org`, ascending.
pub async fn checkpoints(
    conn: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Vec<Checkpoint>, DbErr> {
    let rows = CheckpointRow::find_by_statement(stmt(
        "SELECT seq, head_hash, prev_signature, key_id, signature FROM audit_checkpoints \
          WHERE org_id = $1 ORDER BY seq",
        [org.into()],
    ))
    .all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Checkpoint {
            org: org.uuid(),
            seq: r.seq,
            head_hash: r.head_hash,
            prev_signature: r.prev_signature,
            key_id: r.key_id,
            signature: r.signature,
        })
        .collect())
}

/// Verifies the whole chain of `org` page by page on `conn`, then its
/// checkpoints under `public_key`.
pub async fn verify_on(
    conn: &impl ConnectionTrait,
    org: OrgId,
    public_key: &[u8; 32],
) -> Result<Result<Verified, ChainBreak>, DbErr> {
    let checkpoints = checkpoints(conn, org).await?;
    let wanted: BTreeSet<i64> = checkpoints.iter().map(|c| c.seq).collect();
    let mut hashes: HashMap<i64, [u8; 32]> = HashMap::new();
    let mut head = ChainHead {
        seq: 0,
        hash: audit_chain::GENESIS,
    };
    loop {
        let page = events_after(conn, org, head.seq).await?;
        if page.is_empty() {
            break;
        }
        let seqs: Vec<i64> = page.iter().map(|e| e.seq).collect();
        let hashes_of_page: Vec<Vec<u8>> = page.iter().map(|e| e.hash.clone()).collect();
        match audit_chain::verify_from(org.uuid(), &head, page) {
            Ok(next) => head = next,
            Err(broken) => return Ok(Err(broken)),
        }
        for (seq, hash) in seqs.into_iter().zip(hashes_of_page) {
            if let (true, Ok(hash)) = (wanted.contains(&seq), <[u8; 32]>::try_from(hash)) {
                hashes.insert(seq, hash);
            }
        }
    }
    let hash_at = |seq: i64| hashes.get(&seq).copied();
    Ok(
        audit_checkpoint::check(public_key, &head, hash_at, &checkpoints)
            .map(|checkpointed| Verified { head, checkpointed }),
    )
}

/// Verifies the chain of `org`, connecting as the owner role.
pub async fn verify(
    owner_url: &SecretString,
    org: OrgId,
    public_key: &[u8; 32],
) -> Result<Result<Verified, ChainBreak>, DbErr> {
    let db = Database::connect(owner_url.expose_secret().to_owned()).await?;
    let result = verify_on(&db, org, public_key).await;
    let _ = db.close().await;
    result
}
