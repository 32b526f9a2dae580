//! The verified caller of one request. Only the gate constructs it; it
//! carries the credential's proof (never printed) and the tenant
//! transaction the gate opened, which the handler takes with
//! [`Principal::tenant`] (or, for the RPCs read in one round trip, the
//! checks left for the database's verdict: see `super::later`).

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
};

use secrecy::{ExposeSecret as _, SecretString};

use super::{actor::Actor, later::Later, roles::role_from_db};
use crate::{
    crypto::tokens::SessionProof,
    db::{Db, Proof, TenantTx, Verdict, store::audit::AuditContext},
    error::ApiError,
    ids::{OrgId, SessionId, UserId},
    telemetry::RequestId,
};
use ochre_sdk::v1::Role;

/// What the caller proves itself with to the database.
#[derive(Clone)]
pub(crate) enum Credential {
    Session {
        session_id: SessionId,
        proof: SessionProof,
    },
    ApiKey(Arc<SecretString>),
}

impl Credential {
    pub(crate) fn proof(&self) -> Proof<'_> {
        match self {
            Credential::Session { session_id, proof } => Proof::Session {
                session_id: *session_id,
                proof,
            },
            Credential::ApiKey(key) => Proof::ApiKey(key.expose_secret()),
        }
    }
}

/// A caller the gate verified, with its role in the org the call acts on.
#[derive(Clone)]
pub struct Principal {
    actor: Actor,
    org: Option<(OrgId, Role)>,
    client_ip: Option<IpAddr>,
    credential: Credential,
    /// The call is one the org's owners may make while the org is pending
    /// deletion (a second transaction is verified the same way).
    pending_ok: bool,
    /// The request's id, recorded with the audit events it causes.
    request_id: String,
    /// The transaction the gate opened (taken by the first `tenant()`).
    opened: Arc<Mutex<Option<TenantTx>>>,
    /// For a caller the gate left to the database's verdict: the checks
    /// still to make (`org` is `None` until they pass).
    later: Option<Arc<Later>>,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("actor", &self.actor)
            .field("org", &self.org)
            .field("client_ip", &self.client_ip)
            .finish_non_exhaustive()
    }
}

impl Principal {
    pub(crate) fn new(
        actor: Actor,
        org: Option<(OrgId, Role)>,
        client_ip: Option<IpAddr>,
        credential: Credential,
        pending_ok: bool,
        opened: TenantTx,
    ) -> Self {
        Principal {
            actor,
            org,
            client_ip,
            credential,
            pending_ok,
            request_id: String::new(),
            opened: Arc::new(Mutex::new(Some(opened))),
            later: None,
        }
    }

    /// A signed-in caller whose identity call is left to travel with the
    /// handler's query (see `super::later`).
    pub(super) fn later(
        actor: Actor,
        client_ip: Option<IpAddr>,
        credential: Credential,
        later: Arc<Later>,
    ) -> Self {
        Principal {
            actor,
            org: None,
            client_ip,
            credential,
            pending_ok: false,
            request_id: String::new(),
            opened: Arc::new(Mutex::new(None)),
            later: Some(later),
        }
    }

    /// Whether the database has yet to admit this caller (`super::later`).
    pub(super) fn is_later(&self) -> bool {
        self.later.as_ref().is_some_and(|l| l.admitted().is_none())
    }

    /// The same principal, for the request with this id.
    pub(crate) fn with_request_id(mut self, id: Option<&RequestId>) -> Self {
        self.request_id = id.map(|r| r.0.clone()).unwrap_or_default();
        self
    }

    /// Who, from where, in which request: what an audit event records
    /// besides its action.
    pub fn audit(&self) -> AuditContext {
        AuditContext {
            client_ip: self.client_ip,
            request_id: self.request_id.clone(),
        }
    }

    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// The signed-in user (None for an API key).
    pub fn user_id(&self) -> Option<UserId> {
        match self.actor {
            Actor::User { user_id, .. } => Some(user_id),
            Actor::ApiKey { .. } => None,
        }
    }

    /// The session of the access token (None for an API key).
    pub fn session_id(&self) -> Option<SessionId> {
        match self.actor {
            Actor::User { session_id, .. } => Some(session_id),
            Actor::ApiKey { .. } => None,
        }
    }

    /// The org the call acts on and the caller's current role there
    /// (`None` for a caller the database has not admitted yet).
    pub fn org(&self) -> Option<(OrgId, Role)> {
        self.org
            .or_else(|| self.later.as_ref().and_then(|l| l.admitted()))
    }

    /// The caller's address as the server saw it.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    /// The tenant transaction of this request: the one the gate opened (its
    /// first statement verified the caller), or, for a handler that needs a
    /// second one, a new transaction verified the same way.
    pub async fn tenant(&self, db: &Db) -> Result<TenantTx, ApiError> {
        let opened = self.opened.lock().ok().and_then(|mut slot| slot.take());
        if let Some(tx) = opened {
            return Ok(tx);
        }
        self.verified(db, false).await
    }

    /// A REPEATABLE READ tenant transaction (READ ONLY for a session),
    /// verified the same way as [`Principal::tenant`]'s: the gate's opened
    /// transaction (default isolation, already begun) is finished first.
    pub async fn snapshot(&self, db: &Db) -> Result<TenantTx, ApiError> {
        let opened = self.opened.lock().ok().and_then(|mut slot| slot.take());
        if let Some(tx) = opened {
            tx.finish_read().await?;
        }
        self.verified(db, true).await
    }

    /// Runs `read`, a read of ONE query, in a tenant transaction that
    /// commits with that query, and returns what it returned. For a caller
    /// the gate left to the database's verdict, the transaction's `BEGIN`
    /// and identity call travel with that query (one round trip), and
    /// `read`'s answer is held back until the verdict admits the caller:
    /// otherwise the gate's refusal is the answer, whatever `read` returned.
    /// Validate inside `read`, so that a refusal still comes first.
    pub async fn read_one<T, E>(
        &self,
        db: &Db,
        read: impl AsyncFnOnce(&TenantTx) -> Result<T, E>,
    ) -> Result<T, ApiError>
    where
        ApiError: From<E>,
    {
        // Admitted already (a second read): verified like any other.
        let later = self.later.as_ref().filter(|l| l.admitted().is_none());
        let (Some(later), Credential::Session { session_id, proof }) = (later, &self.credential)
        else {
            let tx = self.tenant(db).await?.single_read();
            let out = read(&tx).await?;
            tx.finish_read().await?;
            return Ok(out);
        };
        let tx = db
            .verify_later(*session_id, proof, Some(later.org), self.client_ip, false)
            .await?
            .single_read();
        let out = read(&tx).await;
        later.admit(tx.verdict().await, &self.actor).await?;
        let out = out?;
        tx.finish_read().await?;
        Ok(out)
    }

    async fn verified(&self, db: &Db, snapshot: bool) -> Result<TenantTx, ApiError> {
        if let Some(later) = self.later.as_ref().filter(|l| l.admitted().is_none()) {
            // Not admitted yet: verified and checked as the gate would.
            let proof = self.credential.proof();
            let org = Some(later.org);
            let opened = db.verify_at(proof, org, self.client_ip, false, snapshot);
            let (verdict, tx) = match opened.await {
                Ok((verdict, tx)) => (Ok(verdict), tx),
                Err(e) => (Err(e), None),
            };
            later.admit(verdict, &self.actor).await?;
            return tx.ok_or_else(ApiError::unauthenticated);
        }
        let org = self.org().map(|(id, _)| id);
        match db
            .verify_at(
                self.credential.proof(),
                org,
                self.client_ip,
                self.pending_ok,
                snapshot,
            )
            .await?
        {
            (Verdict::Ok { role, .. }, Some(tx))
                if role.as_deref().and_then(role_from_db) == self.org().map(|(_, r)| r) =>
            {
                Ok(tx)
            }
            // The credential or the role changed since the request began.
            _ => Err(ApiError::unauthenticated()),
        }
    }

    /// The user, or PERMISSION_DENIED for an API key.
    pub fn require_user(&self) -> Result<UserId, ApiError> {
        self.user_id().ok_or(ApiError::denied())
    }

    /// The org and role, for RPCs whose rule names roles.
    pub fn require_org(&self) -> Result<(OrgId, Role), ApiError> {
        self.org().ok_or(ApiError::PermissionDenied(
            crate::error::Reason::NotAMember,
            std::borrow::Cow::Borrowed("this method acts on an org the caller is a member of"),
        ))
    }
}

/// The principal the gate put into the request (UNAUTHENTICATED without one).
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, ApiError> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(ApiError::Unauthenticated(
            crate::error::Reason::CredentialsMissing,
            std::borrow::Cow::Borrowed("invalid or missing credentials"),
        ))
}
