//! Idempotent creates (AIP-155). A create whose request carries a
//! `request_id` first claims it for the verified caller inside the
//! create's own tenant transaction; the answer is sealed by the vault and
//! kept with the claim when the create commits. A retry with the same id
//! (by the same caller, in the same org: ids are scoped by org, and a
//! CreateOrg's org id is derived from its caller and request id, see
//! [`org_to_create`]) gets that first answer back and creates nothing; a
//! concurrent retry waits for the first call's transaction. The same id with a different request is INVALID_ARGUMENT.
//! Answers are kept 24 hours.
//!
//! ```text
//! let ticket = fresh_or_replay!(request_ids::start(&self.state, &tx, &p, req, org).await?, tx);
//! ... create ...
//! ticket.keep(&self.state, &tx, &answer, About::default()).await?;
//! tx.commit().await?;
//! ```

use prost::Message;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::state::AppState;
use crate::{
    crypto::contexts::request_context,
    db::{
        TenantTx,
        store::request_ids::{self, About},
    },
    error::{ApiError, Reason},
    gate::{Actor, Principal},
    ids::OrgId,
};

/// The longest `request_id` taken.
pub const MAX_REQUEST_ID: usize = 128;

/// A create request that can carry a `request_id`.
pub trait Idempotent: Message + Clone {
    /// The RPC's name (the method of the kept answer).
    const METHOD: &'static str;
    fn request_id(&self) -> &str;
    fn clear_request_id(&mut self);
}

macro_rules! idempotent {
    ($($request:ident => $method:literal),* $(,)?) => {$(
        impl Idempotent for ochre_sdk::v1::$request {
            const METHOD: &'static str = $method;
            fn request_id(&self) -> &str {
                &self.request_id
            }
            fn clear_request_id(&mut self) {
                self.request_id.clear();
            }
        }
    )*};
}

idempotent!(
    CreateOrgRequest => "CreateOrg",
    CreateInvitationRequest => "CreateInvitation",
    CreateApiKeyRequest => "CreateApiKey",
    UpsertCustomerRequest => "UpsertCustomer",
    CreateConversationRequest => "CreateConversation",
    AddMessageRequest => "AddMessage",
    ConnectIntegrationRequest => "ConnectIntegration",
    SendSurveyRequest => "SendSurvey",
);

/// The ticket of a fresh create; for a replayed one, commits `tx` and
/// returns the first answer from the handler.
macro_rules! fresh_or_replay {
    ($started:expr, $tx:ident) => {
        match $started {
            $crate::rpc::request_ids::Started::Fresh(ticket) => ticket,
            $crate::rpc::request_ids::Started::Replayed(answer) => {
                $tx.commit().await?;
                return Ok(tonic::Response::new(answer));
            }
        }
    };
}
pub(crate) use fresh_or_replay;

/// How a create starts.
#[derive(Debug)]
pub enum Started<R> {
    /// Go ahead, then keep the answer with the ticket.
    Fresh(Ticket),
    /// The first call's answer, to return as it is.
    Replayed(R),
}

/// A claimed request id (or none), to keep the answer with.
#[derive(Debug)]
pub struct Ticket {
    claim: Option<Claimed>,
}

#[derive(Debug)]
struct Claimed {
    org: OrgId,
    method: &'static str,
    request_id: String,
    caller: Uuid,
    digest: [u8; 32],
}

/// Checks a `request_id` (empty: the create is not idempotent).
pub fn validate(request_id: &str) -> Result<(), ApiError> {
    if request_id.chars().count() > MAX_REQUEST_ID
        || request_id
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::invalid_field(
            "request_id",
            format!(
                "request_id must be at most {MAX_REQUEST_ID} characters without spaces or control characters"
            ),
        ));
    }
    Ok(())
}

fn caller(p: &Principal) -> Uuid {
    match p.actor() {
        Actor::User { user_id, .. } => user_id.uuid(),
        Actor::ApiKey { key_id } => key_id.uuid(),
    }
}

/// The id of the org a CreateOrg creates: fresh without a `request_id`;
/// with one, derived from the user and the request id (a UUIDv8 of their
/// domain-separated SHA-256), so a retry claims its request id under the
/// same org as the first call. Another user's ids are a preimage away.
pub fn org_to_create(user: crate::ids::UserId, request_id: &str) -> OrgId {
    if request_id.is_empty() {
        return OrgId::generate();
    }
    let mut hash = Sha256::new();
    hash.update(b"ochre create-org request id v1\0");
    hash.update(user.uuid().as_bytes());
    hash.update(request_id.as_bytes());
    let digest: [u8; 32] = hash.finalize().into();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    OrgId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

fn digest<Q: Idempotent>(request: &Q) -> [u8; 32] {
    let mut bare = request.clone();
    bare.clear_request_id();
    Sha256::digest(bare.encode_to_vec()).into()
}

fn reused() -> ApiError {
    ApiError::InvalidArgument {
        field: Some("request_id".into()),
        reason: Reason::RequestIdReused,
        message: "request_id was already used for a different request".into(),
    }
}

/// Claims the request's `request_id` in `tx` (acting in `org`; for
/// CreateOrg, the id of the org about to be created), or returns the
/// answer of the first call that used it.
pub async fn start<Q: Idempotent, R: Message + Default>(
    state: &AppState,
    tx: &TenantTx,
    p: &Principal,
    request: &Q,
    org: OrgId,
) -> Result<Started<R>, ApiError> {
    let id = request.request_id();
    if id.is_empty() {
        return Ok(Started::Fresh(Ticket { claim: None }));
    }
    validate(id)?;
    let claimed = Claimed {
        org,
        method: Q::METHOD,
        request_id: id.to_owned(),
        caller: caller(p),
        digest: digest(request),
    };
    let found = request_ids::claim(tx, Q::METHOD, id, org).await?;
    if found.claimed {
        return Ok(Started::Fresh(Ticket {
            claim: Some(claimed),
        }));
    }
    let sealed = found
        .response
        .ok_or(ApiError::Corrupt("request_ids.response"))?;
    let ctx = request_context(org.uuid(), claimed.caller, Q::METHOD);
    let plain = state.vault.decrypt(&ctx, &sealed)?;
    let (kept_digest, answer) = plain
        .split_at_checked(32)
        .ok_or(ApiError::Corrupt("request_ids.response"))?;
    if kept_digest != claimed.digest {
        return Err(reused());
    }
    let answer = R::decode(answer).map_err(|_| ApiError::Corrupt("request_ids.response"))?;
    tracing::info!(
        method = Q::METHOD,
        "a retried create answered from its request id"
    );
    Ok(Started::Replayed(answer))
}

impl Ticket {
    /// Keeps `answer` with the claim (nothing without a request id).
    pub async fn keep<R: Message>(
        self,
        state: &AppState,
        tx: &TenantTx,
        answer: &R,
        about: About,
    ) -> Result<(), ApiError> {
        let Some(c) = self.claim else {
            return Ok(());
        };
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(32 + answer.encoded_len()));
        plain.extend_from_slice(&c.digest);
        answer
            .encode(&mut *plain)
            .map_err(|_| ApiError::Corrupt("answer"))?;
        let sealed = state
            .vault
            .encrypt(&request_context(c.org.uuid(), c.caller, c.method), &plain)?;
        request_ids::record(tx, c.org, c.method, &c.request_id, sealed, about).await?;
        Ok(())
    }
}
