//! Roles as the database names them, and the gate's role check.

use ochre_sdk::v1::Role;

use super::refusal::not_a_member;
use crate::error::{ApiError, Reason};

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

/// The caller's role from a verified session's answer, when the contract
/// allows it; the gate's refusal otherwise.
pub(super) fn allowed_role(role: Option<&str>, allowed: &[Role]) -> Result<Role, ApiError> {
    let role = role.and_then(role_from_db).ok_or_else(not_a_member)?;
    if !allowed.contains(&role) {
        return Err(ApiError::PermissionDenied(
            Reason::RoleNotAllowed,
            "your role in this org cannot call this method".into(),
        ));
    }
    Ok(role)
}
