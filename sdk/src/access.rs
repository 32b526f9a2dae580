//! The access table generated from the contract: one rule per RPC.

use crate::v1::{RateClass, Role};

/// Who may call an RPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Callable without credentials.
    Public,
    /// Any signed-in caller; the call acts on no org.
    Authenticated,
    /// A member of the org named by the request holding one of these roles.
    Roles(&'static [Role]),
}

impl Rule {
    /// Whether a member holding `role` satisfies this rule.
    pub fn allows_role(&self, role: Role) -> bool {
        match self {
            Rule::Public | Rule::Authenticated => true,
            Rule::Roles(roles) => roles.contains(&role),
        }
    }

    /// The rule as the `AccessRule` message of the contract.
    pub fn to_message(&self) -> crate::v1::AccessRule {
        match self {
            Rule::Public => crate::v1::AccessRule {
                public: true,
                ..Default::default()
            },
            Rule::Authenticated => crate::v1::AccessRule {
                authenticated: true,
                ..Default::default()
            },
            Rule::Roles(roles) => crate::v1::AccessRule {
                roles: roles.iter().map(|r| *r as i32).collect(),
                ..Default::default()
            },
        }
    }
}

/// One RPC of the contract and its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodAccess {
    /// The gRPC path, `/ochre.v1.Service/Method`.
    pub method: &'static str,
    /// Its declared rule.
    pub rule: Rule,
    /// Owners may also call it while the org is pending deletion.
    pub owners_while_pending_deletion: bool,
    /// How it is rate limited.
    pub rate: RateClass,
}

impl MethodAccess {
    /// The rule as the `AccessRule` message of the contract.
    pub fn to_message(&self) -> crate::v1::AccessRule {
        crate::v1::AccessRule {
            owners_while_pending_deletion: self.owners_while_pending_deletion,
            rate: self.rate as i32,
            ..self.rule.to_message()
        }
    }
}

include!(concat!(env!("OUT_DIR"), "/access_table.rs"));

/// The rule of the RPC at `path`, or `None` when the path is not an RPC of
/// the contract (the server refuses such calls).
pub fn rule_for(path: &str) -> Option<Rule> {
    ACCESS_RULES
        .binary_search_by(|m| m.method.cmp(path))
        .ok()
        .map(|i| ACCESS_RULES[i].rule)
}

/// The access entry of the RPC at `path` (rule and pending-deletion flag).
pub fn access_for(path: &str) -> Option<&'static MethodAccess> {
    ACCESS_RULES
        .binary_search_by(|m| m.method.cmp(path))
        .ok()
        .map(|i| &ACCESS_RULES[i])
}
