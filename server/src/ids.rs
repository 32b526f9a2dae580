//! Typed ids: one newtype per kind of row, so an org id cannot be passed
//! where a user id is expected. They cross every module boundary (the gate,
//! the tenant scope, storage, handlers); the raw `Uuid` stays inside.
//! Each maps to a Postgres `uuid` (sea-orm `DeriveValueType`).

use std::fmt;

use sea_orm::DeriveValueType;
use uuid::Uuid;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(
            Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id (UUIDv7: time-ordered, so `org_id`-first indexes
            /// stay append-mostly).
            pub fn generate() -> Self {
                $name(Uuid::now_v7())
            }

            /// The id of this kind that `uuid` is.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                $name(uuid)
            }

            /// The raw UUID (for storage layers and crypto contexts).
            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                $name(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    )*};
}

ids! {
    /// A workspace.
    OrgId;
    /// An account.
    UserId;
    /// A sign-in session (refresh-token family).
    SessionId;
    /// An org API key.
    ApiKeyId;
    /// An invitation to an org.
    InvitationId;
    /// An end user of a workspace.
    CustomerId;
    /// A conversation with a customer.
    ConversationId;
    /// A message of a conversation.
    MessageId;
    /// A connected integration.
    IntegrationId;
    /// A pending OAuth connect flow (its `state` row).
    OAuthStateId;
    /// A stored webhook delivery.
    WebhookEventId;
    /// An audit-log entry.
    AuditId;
    /// A CSAT survey sent for a conversation's customer.
    SurveyId;
    /// The receipt of one customer erasure.
    CustomerErasureId;
    /// A hold on an org's consumption budget.
    BudgetReservationId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_their_uuid_and_debug_names_their_kind() {
        let uuid = Uuid::now_v7();
        let org = OrgId::from_uuid(uuid);
        assert_eq!(org.to_string(), uuid.to_string());
        assert_eq!(format!("{org:?}"), format!("OrgId({uuid})"));
        assert_eq!(org.uuid(), uuid);
        assert_ne!(OrgId::generate(), OrgId::generate());
    }
}
