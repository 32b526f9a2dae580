//! Reading an org's audit chain back for verification (`ochre audit
//! verify`): the rows alone, in sequence order, in pages, connecting as the
//! owner role (an operator's command, outside any tenant transaction).

use sea_orm::{ConnectionTrait, Database, DbErr, FromQueryResult};
use secrecy::{ExposeSecret as _, SecretString};

use super::stmt;
use crate::crypto::audit_chain::{self, ChainBreak, ChainEvent, ChainHead};
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

/// Verifies the whole chain of `org` page by page on `conn`.
pub async fn verify_on(
    conn: &impl ConnectionTrait,
    org: OrgId,
) -> Result<Result<ChainHead, ChainBreak>, DbErr> {
    let mut head = ChainHead {
        seq: 0,
        hash: audit_chain::GENESIS,
    };
    loop {
        let page = events_after(conn, org, head.seq).await?;
        if page.is_empty() {
            return Ok(Ok(head));
        }
        match audit_chain::verify_from(org.uuid(), &head, page) {
            Ok(next) => head = next,
            Err(broken) => return Ok(Err(broken)),
        }
    }
}

/// Verifies the chain of `org`, connecting as the owner role.
pub async fn verify(
    owner_url: &SecretString,
    org: OrgId,
) -> Result<Result<ChainHead, ChainBreak>, DbErr> {
    let db = Database::connect(owner_url.expose_secret().to_owned()).await?;
    let result = verify_on(&db, org).await;
    let _ = db.close().await;
    result
}
