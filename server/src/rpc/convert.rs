//! Conversions between rows and contract messages, and request parsing
//! helpers shared by the handlers.

use chrono::{DateTime, Utc};
use ochre_sdk::v1::{
    Integration, IntegrationStatus, Org, OrgMembership, Role, SecretFieldInfo, User,
};
use uuid::Uuid;

use crate::{
    db::store::{
        integrations::IntegrationRow,
        orgs::OrgRow,
        users::{MembershipRow, UserRow},
    },
    error::ApiError,
    gate::role_from_db,
};

pub fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn ts_opt(t: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    t.map(ts)
}

/// An optional timestamp field (seconds and nanos in the range of
/// `google.protobuf.Timestamp`), naming the field when it is not.
pub fn time(
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|t| {
            // google.protobuf.Timestamp's range, 0001-01-01 to 9999-12-31:
            // beyond it the database would refuse it with no field named.
            u32::try_from(t.nanos)
                .ok()
                .filter(|_| (-62_135_596_800..=253_402_300_799).contains(&t.seconds))
                .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        field.to_owned(),
                        format!("{field} is not a valid timestamp"),
                    )
                })
        })
        .transpose()
}

/// A role name from the database as the contract enum (i32).
pub fn role_i32(name: &str) -> i32 {
    role_from_db(name).unwrap_or(Role::Unspecified) as i32
}

/// Parses an id field into its typed id, naming the field in the error.
pub fn parse_id<I: From<Uuid>>(field: &str, value: &str) -> Result<I, ApiError> {
    if value.is_empty() {
        return Err(ApiError::required(field.to_owned()));
    }
    Uuid::parse_str(value)
        .map(I::from)
        .map_err(|_| ApiError::invalid_field(field.to_owned(), format!("{field} must be a UUID")))
}

/// A role field: known, not UNSPECIFIED.
pub fn parse_role(field: &str, value: i32) -> Result<Role, ApiError> {
    match Role::try_from(value) {
        Ok(Role::Unspecified) => Err(ApiError::required(field.to_owned())),
        Ok(role) => Ok(role),
        Err(_) => Err(ApiError::invalid_field(
            field.to_owned(),
            format!("{field} is not a known role"),
        )),
    }
}

pub fn membership(row: &MembershipRow) -> OrgMembership {
    OrgMembership {
        org: Some(Org {
            id: row.org_id.to_string(),
            name: row.org_name.clone(),
            created_at: Some(ts(row.org_created_at)),
            deletion_scheduled_at: row.deletion_scheduled_at.map(ts),
            purge_after: row.purge_after.map(ts),
        }),
        role: role_i32(&row.role),
    }
}

/// An org as the contract shows it.
pub fn org_message(row: &OrgRow) -> Org {
    Org {
        id: row.id.to_string(),
        name: row.name.clone(),
        created_at: Some(ts(row.created_at)),
        deletion_scheduled_at: row.deletion_scheduled_at.map(ts),
        purge_after: row.purge_after.map(ts),
    }
}

pub fn user_message(row: &UserRow) -> User {
    User {
        id: row.id.to_string(),
        email: row.email.clone(),
        display_name: row.display_name.clone(),
        totp_enabled: row.totp_enabled,
        created_at: Some(ts(row.created_at)),
    }
}

/// An integration as the contract shows it (metadata only).
pub fn integration_message(i: &IntegrationRow) -> Integration {
    Integration {
        id: i.id.to_string(),
        provider: i.provider.clone(),
        external_account: i.external_account.clone(),
        scopes: i.scopes.clone(),
        connected_by_user_id: i.connected_by.map(|u| u.to_string()).unwrap_or_default(),
        connected_at: Some(ts(i.connected_at)),
        updated_at: Some(ts(i.updated_at)),
        secret_fields: i
            .secret_fields
            .iter()
            .map(|(field, at)| SecretFieldInfo {
                field: field.clone(),
                updated_at: Some(ts(*at)),
            })
            .collect(),
        status: if i.token_expires_at.is_some_and(|t| t <= chrono::Utc::now()) {
            IntegrationStatus::TokenExpired
        } else {
            IntegrationStatus::Connected
        } as i32,
        token_expires_at: i.token_expires_at.map(ts),
    }
}
