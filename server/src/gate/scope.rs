//! Who a tenant transaction acts as. Fields are private and the gate is the
//! only maker ([`super::Principal::scope`], from a caller it verified); the
//! one other constructor, [`Scope::signed_in`], is for an account that has
//! just proved itself (sign-up creating it, login after its password check).

use crate::ids::{ApiKeyId, OrgId, UserId};

/// See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    org_id: Option<OrgId>,
    user_id: Option<UserId>,
    api_key_id: Option<ApiKeyId>,
}

impl Scope {
    /// Made by the gate after verifying the caller.
    pub(super) fn verified(
        org_id: Option<OrgId>,
        user_id: Option<UserId>,
        api_key_id: Option<ApiKeyId>,
    ) -> Self {
        Scope {
            org_id,
            user_id,
            api_key_id,
        }
    }

    /// The scope of an account that has just proved itself: its own rows
    /// only, in no org.
    pub(crate) fn signed_in(user_id: UserId) -> Self {
        Scope {
            org_id: None,
            user_id: Some(user_id),
            api_key_id: None,
        }
    }

    /// The org the scope is limited to.
    pub fn org_id(&self) -> Option<OrgId> {
        self.org_id
    }

    /// The signed-in user, if the caller is one.
    pub fn user_id(&self) -> Option<UserId> {
        self.user_id
    }

    /// The API key, if the caller is one.
    pub fn api_key_id(&self) -> Option<ApiKeyId> {
        self.api_key_id
    }
}
