//! Who is calling: a signed-in user (through a session) or an org API key.

use crate::ids::{ApiKeyId, SessionId, UserId};

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

impl Actor {
    /// The key of the caller's own rate limits.
    pub(crate) fn limit_key(&self) -> String {
        match self {
            Actor::User { user_id, .. } => format!("user:{user_id}"),
            Actor::ApiKey { key_id } => format!("key:{key_id}"),
        }
    }
}
