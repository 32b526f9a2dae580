//! The verified caller of one request. Only the gate constructs it; it
//! carries the credential's proof (never printed) and the tenant
//! transaction the gate opened, which the handler takes with
//! [`Principal::tenant`].

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
};

use secrecy::{ExposeSecret as _, SecretString};

use crate::{
    crypto::tokens::SessionProof,
    db::{Db, Proof, TenantTx, Verdict, store::audit::AuditContext},
    error::ApiError,
    ids::{ApiKeyId, OrgId, SessionId, UserId},
    telemetry::RequestId,
};
use ochre_sdk::v1::Role;

/// Who is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user, through an access token of a session.
    User {
        user_id: UserId,
        session_id: SessionId,
    },
    /// An org API key.
    ApiKey { key_id: ApiKeyId },
}

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
        }
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

    /// The org the call acts on and the caller's current role there.
    pub fn org(&self) -> Option<(OrgId, Role)> {
        self.org
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

    async fn verified(&self, db: &Db, snapshot: bool) -> Result<TenantTx, ApiError> {
        let org = self.org.map(|(id, _)| id);
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
                if role.as_deref().and_then(role_from_db) == self.org.map(|(_, r)| r) =>
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
        self.org.ok_or(ApiError::PermissionDenied(
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

/// A role as stored in the database.
pub fn role_to_db(role: Role) -> Option<&'static str> {
    match role {
        Role::Owner => Some("owner"),
        Role::Admin => Some("admin"),
        Role::Agent => Some("agent"),
        Role::LightAgent => Some("light_agent"),
        Role::Unspecified => None,
    }
}

/// A role from its database name.
pub fn role_from_db(name: &str) -> Option<Role> {
    match name {
        "owner" => Some(Role::Owner),
        "admin" => Some(Role::Admin),
        "agent" => Some(Role::Agent),
        "light_agent" => Some(Role::LightAgent),
        _ => None,
    }
}
