//! The verified caller of one request. Only the gate constructs it;
//! handlers read it and derive their database [`Scope`] from it.

use std::net::IpAddr;

use super::scope::Scope;
use crate::{
    error::ApiError,
    ids::{ApiKeyId, OrgId, SessionId, UserId},
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

/// A caller the gate verified, with its role in the org the call acts on.
#[derive(Debug, Clone)]
pub struct Principal {
    actor: Actor,
    org: Option<(OrgId, Role)>,
    client_ip: Option<IpAddr>,
}

impl Principal {
    pub(super) fn new(actor: Actor, org: Option<(OrgId, Role)>, client_ip: Option<IpAddr>) -> Self {
        Principal {
            actor,
            org,
            client_ip,
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

    /// The database scope of this caller.
    pub fn scope(&self) -> Scope {
        let (user, key) = match self.actor {
            Actor::User { user_id, .. } => (Some(user_id), None),
            Actor::ApiKey { key_id } => (None, Some(key_id)),
        };
        Scope::verified(self.org.map(|(id, _)| id), user, key)
    }

    /// The user, or PERMISSION_DENIED for an API key.
    pub fn require_user(&self) -> Result<UserId, ApiError> {
        self.user_id().ok_or(ApiError::denied())
    }

    /// The org and role, for RPCs whose rule names roles.
    pub fn require_org(&self) -> Result<(OrgId, Role), ApiError> {
        self.org.ok_or(ApiError::denied())
    }
}

/// The principal the gate put into the request (UNAUTHENTICATED without one).
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, ApiError> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(ApiError::unauthenticated())
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
