//! The audit log's hash chain, recomputed from the rows alone.
//!
//! Event `seq` of an org carries the hash of event `seq - 1` (32 zero bytes
//! for the first) and its own hash: SHA-256 of
//!
//! ```text
//! "ochre.audit.v1" ‖ org (16 bytes) ‖ seq (i64, big-endian) ‖ prev_hash (32)
//!   ‖ time (i64 microseconds since the Unix epoch, big-endian)
//!   ‖ field(actor user id) ‖ field(actor API key id) ‖ field(action)
//!   ‖ field(target type) ‖ field(target id) ‖ field(client address)
//!   ‖ field(request id) ‖ field(details, jsonb's text form)
//! field(x) = len(x) as u32 big-endian ‖ x (UTF-8; absent = empty)
//! ```
//!
//! exactly as `audit_hash()` computes it in Postgres (0004_integrations).
//! [`verify`] walks a chain in sequence order and names the first event
//! that is missing, out of place, altered, or not linked to its
//! predecessor.

use sha2::{Digest as _, Sha256};
use uuid::Uuid;

const DOMAIN: &[u8] = b"ochre.audit.v1";

/// The hash of the event before the first.
pub const GENESIS: [u8; 32] = [0; 32];

/// One stored event, as read back (ids and the address as text, `None`
/// when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent {
    pub org: Uuid,
    pub seq: i64,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub occurred_at_micros: i64,
    pub actor_user: Option<String>,
    pub actor_api_key: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: String,
    pub detail: String,
}

fn field(h: &mut Sha256, value: Option<&str>) {
    let bytes = value.unwrap_or("").as_bytes();
    h.update(u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    h.update(bytes);
}

/// The hash an event must carry, given the previous event's hash.
pub fn event_hash(e: &ChainEvent, prev_hash: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(e.org.as_bytes());
    h.update(e.seq.to_be_bytes());
    h.update(prev_hash);
    h.update(e.occurred_at_micros.to_be_bytes());
    field(&mut h, e.actor_user.as_deref());
    field(&mut h, e.actor_api_key.as_deref());
    field(&mut h, Some(&e.action));
    field(&mut h, Some(&e.target_type));
    field(&mut h, e.target_id.as_deref());
    field(&mut h, e.client_ip.as_deref());
    field(&mut h, Some(&e.request_id));
    field(&mut h, Some(&e.detail));
    h.finalize().into()
}

/// Why a chain does not verify, at which sequence number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// Event `seq` is missing (the next stored one has a later number).
    #[error("event {seq} is missing")]
    Missing { seq: i64 },
    /// Event `seq` names another org or a number out of order.
    #[error("event {seq} is out of place")]
    OutOfPlace { seq: i64 },
    /// Event `seq` does not carry the hash of the event before it.
    #[error("event {seq} is not linked to the event before it")]
    Unlinked { seq: i64 },
    /// Event `seq`'s content does not match its hash.
    #[error("event {seq} was altered")]
    Altered { seq: i64 },
    /// The checkpoint at `seq` is not signed by the key, or does not
    /// follow the checkpoint before it.
    #[error("the checkpoint at event {seq} does not verify")]
    BadCheckpoint { seq: i64 },
    /// The chain up to `seq` is not the one its signed checkpoint states
    /// (rewritten and re-hashed).
    #[error("the chain up to event {seq} differs from its signed checkpoint")]
    Rewritten { seq: i64 },
}

impl ChainBreak {
    /// The first sequence number that does not verify.
    pub fn seq(&self) -> i64 {
        match *self {
            ChainBreak::Missing { seq }
            | ChainBreak::OutOfPlace { seq }
            | ChainBreak::Unlinked { seq }
            | ChainBreak::Altered { seq }
            | ChainBreak::BadCheckpoint { seq }
            | ChainBreak::Rewritten { seq } => seq,
        }
    }
}

/// What a chain that verifies ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// The last sequence number (0: no event).
    pub seq: i64,
    pub hash: [u8; 32],
}

/// Verifies `events` of `org`, in ascending sequence order, from seq 1.
pub fn verify(
    org: Uuid,
    events: impl IntoIterator<Item = ChainEvent>,
) -> Result<ChainHead, ChainBreak> {
    let genesis = ChainHead {
        seq: 0,
        hash: GENESIS,
    };
    verify_from(org, &genesis, events)
}

/// Verifies `events` of `org` that continue the verified chain ending at
/// `from` (the next page of a long chain).
pub fn verify_from(
    org: Uuid,
    from: &ChainHead,
    events: impl IntoIterator<Item = ChainEvent>,
) -> Result<ChainHead, ChainBreak> {
    let mut head = from.clone();
    for e in events {
        let expected = head.seq + 1;
        if e.seq > expected {
            return Err(ChainBreak::Missing { seq: expected });
        }
        if e.seq != expected || e.org != org {
            return Err(ChainBreak::OutOfPlace { seq: expected });
        }
        if e.prev_hash != head.hash {
            return Err(ChainBreak::Unlinked { seq: e.seq });
        }
        let hash = event_hash(&e, &head.hash);
        if e.hash != hash {
            return Err(ChainBreak::Altered { seq: e.seq });
        }
        head = ChainHead { seq: e.seq, hash };
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn chain(org: Uuid, n: i64) -> Vec<ChainEvent> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let mut e = ChainEvent {
                    org,
                    seq,
                    prev_hash: prev.to_vec(),
                    hash: Vec::new(),
                    occurred_at_micros: 1_700_000_000_000_000 + seq,
                    actor_user: Some(Uuid::nil().to_string()),
                    actor_api_key: None,
                    action: "member.removed".into(),
                    target_type: "user".into(),
                    target_id: Some(Uuid::max().to_string()),
                    client_ip: Some("127.0.0.1".into()),
                    request_id: format!("req-{seq}"),
                    detail: "{}".into(),
                };
                let h = event_hash(&e, &prev);
                e.hash = h.to_vec();
                prev = h;
                e
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies_to_its_head() {
        let org = Uuid::now_v7();
        let events = chain(org, 5);
        let head = verify(org, events.clone()).unwrap();
        assert_eq!(head.seq, 5);
        assert_eq!(head.hash.to_vec(), events[4].hash);
        assert_eq!(verify(org, Vec::new()).unwrap().seq, 0);
    }

    #[test]
    fn each_kind_of_tampering_is_named_at_its_sequence_number() {
        let org = Uuid::now_v7();
        let mut altered = chain(org, 5);
        altered[2].detail = r#"{"role": "owner"}"#.into();
        assert_eq!(verify(org, altered), Err(ChainBreak::Altered { seq: 3 }));
        let mut deleted = chain(org, 5);
        deleted.remove(1);
        assert_eq!(verify(org, deleted), Err(ChainBreak::Missing { seq: 2 }));
        let mut swapped = chain(org, 5);
        swapped.swap(1, 3);
        (swapped[1].seq, swapped[3].seq) = (2, 4);
        assert_eq!(verify(org, swapped).unwrap_err().seq(), 2);
        let other = chain(Uuid::now_v7(), 5);
        assert_eq!(verify(org, other), Err(ChainBreak::OutOfPlace { seq: 1 }));
    }

    #[test]
    fn a_recomputed_hash_does_not_hide_a_change_from_the_next_event() {
        let org = Uuid::now_v7();
        let mut events = chain(org, 4);
        events[1].action = "member.invited".into();
        events[1].hash = event_hash(&events[1], &events[0].hash).to_vec();
        assert_eq!(verify(org, events), Err(ChainBreak::Unlinked { seq: 3 }));
    }

    #[test]
    fn fields_are_length_prefixed_so_shifting_bytes_between_them_changes_the_hash() {
        let org = Uuid::now_v7();
        let a = chain(org, 1).remove(0);
        let mut b = a.clone();
        (b.action, b.target_type) = ("member.remove".into(), "duser".into());
        assert_ne!(event_hash(&a, &GENESIS), event_hash(&b, &GENESIS));
    }
}
