//! Conversions between rows and contract messages, and request parsing
//! helpers shared by the handlers.

use chrono::{DateTime, Utc};
use ochre_sdk::v1::{Org, OrgMembership, Role};
use uuid::Uuid;

use crate::{auth::role_from_db, error::ApiError, store::users::MembershipRow};

pub fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn ts_opt(t: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    t.map(ts)
}

/// A role name from the database as the contract enum (i32).
pub fn role_i32(name: &str) -> i32 {
    role_from_db(name).unwrap_or(Role::Unspecified) as i32
}

/// Parses an id field, naming it in the error.
pub fn parse_id(field: &str, value: &str) -> Result<Uuid, ApiError> {
    if value.is_empty() {
        return Err(ApiError::InvalidArgument(format!("{field} is required")));
    }
    Uuid::parse_str(value).map_err(|_| ApiError::InvalidArgument(format!("{field} must be a UUID")))
}

/// A role field: known, not UNSPECIFIED.
pub fn parse_role(field: &str, value: i32) -> Result<Role, ApiError> {
    match Role::try_from(value) {
        Ok(Role::Unspecified) => Err(ApiError::InvalidArgument(format!("{field} is required"))),
        Ok(role) => Ok(role),
        Err(_) => Err(ApiError::InvalidArgument(format!(
            "{field} is not a known role"
        ))),
    }
}

pub fn membership(row: &MembershipRow) -> OrgMembership {
    OrgMembership {
        org: Some(Org {
            id: row.org_id.to_string(),
            name: row.org_name.clone(),
            created_at: Some(ts(row.org_created_at)),
        }),
        role: role_i32(&row.role),
    }
}

pub use crate::identity::unix_now;
