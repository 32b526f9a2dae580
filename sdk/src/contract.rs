//! The contract audit: every RPC of an `ochre.*` service must declare exactly
//! one access rule with the `ochre.v1.access` method option.
//!
//! This file is compiled twice: by `build.rs`, which refuses to build the SDK
//! (and so the server) when a rule is missing, and by the `contract` feature,
//! so that tests can run the same audit on contracts of their own making.

use prost_reflect::{DescriptorPool, MethodDescriptor, ReflectMessage as _, Value};

/// The name of the custom method option that carries an RPC's access rule.
pub const ACCESS_OPTION: &str = "ochre.v1.access";

/// A rule as declared in the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclaredRule {
    /// `public: true`: callable without credentials.
    Public,
    /// `authenticated: true`: any signed-in caller, no org.
    Authenticated,
    /// A non-empty list of role names such as `ROLE_OWNER`, in declaration order.
    Roles(Vec<String>),
}

/// One RPC and its declared rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodRule {
    /// The gRPC path, `/package.Service/Method`.
    pub path: String,
    /// The rule it declares.
    pub rule: DeclaredRule,
    /// `owners_while_pending_deletion: true`: owners may call it while the
    /// org is pending deletion.
    pub owners_while_pending_deletion: bool,
    /// Its rate class, as the enum value's name (`RATE_CLASS_READ`).
    pub rate: String,
}

/// The rate classes an RPC without credentials may declare (limited per
/// client address); the others are for RPCs with credentials.
pub const PUBLIC_RATE_CLASSES: &[&str] = &[
    "RATE_CLASS_PUBLIC",
    "RATE_CLASS_SIGN_UP",
    "RATE_CLASS_SIGN_IN",
    "RATE_CLASS_SURVEY_SUBMIT",
];

/// Why an RPC fails the audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractViolation {
    /// The gRPC path of the offending RPC.
    pub path: String,
    /// What is wrong with its rule.
    pub problem: String,
}

impl std::fmt::Display for ContractViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// Audits every method of every `ochre.*` service in `pool`.
///
/// Returns the rules sorted by path, or every violation found (not only the first).
pub fn audit(pool: &DescriptorPool) -> Result<Vec<MethodRule>, Vec<ContractViolation>> {
    let mut rules = Vec::new();
    let mut violations = Vec::new();
    let extension = pool.get_extension_by_name(ACCESS_OPTION);
    for service in pool.services() {
        if !service.package_name().starts_with("ochre.") {
            continue;
        }
        for method in service.methods() {
            let path = format!("/{}/{}", service.full_name(), method.name());
            let rule = match &extension {
                None => Err(format!(
                    "the option ({ACCESS_OPTION}) is not defined in this contract"
                )),
                Some(ext) => rule_of(&method, ext),
            };
            match rule {
                Ok((rule, owners_while_pending_deletion, rate)) => rules.push(MethodRule {
                    path,
                    rule,
                    owners_while_pending_deletion,
                    rate,
                }),
                Err(problem) => violations.push(ContractViolation { path, problem }),
            }
        }
    }
    if violations.is_empty() {
        rules.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(rules)
    } else {
        violations.sort_by(|a, b| a.path.cmp(&b.path));
        Err(violations)
    }
}

fn rule_of(
    method: &MethodDescriptor,
    ext: &prost_reflect::ExtensionDescriptor,
) -> Result<(DeclaredRule, bool, String), String> {
    let options = method.options();
    if !options.has_extension(ext) {
        return Err(format!(
            "no access rule: add `option ({ACCESS_OPTION}) = {{ public: true }}`, \
             `{{ authenticated: true }}` or `{{ roles: [...] }}`"
        ));
    }
    let value = options.get_extension(ext);
    let Value::Message(rule) = value.as_ref() else {
        return Err("the access option is not an AccessRule message".to_owned());
    };
    let flag = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    };
    let public = flag("public");
    let authenticated = flag("authenticated");
    let roles_field = rule
        .descriptor()
        .get_field_by_name("roles")
        .ok_or_else(|| "AccessRule has no `roles` field".to_owned())?;
    let role_enum = match roles_field.kind() {
        prost_reflect::Kind::Enum(e) => e,
        _ => return Err("AccessRule.roles is not an enum list".to_owned()),
    };
    let mut roles = Vec::new();
    if let Some(list) = rule.get_field_by_name("roles") {
        for v in list.as_list().unwrap_or(&[]) {
            let number = v.as_enum_number().unwrap_or(0);
            match role_enum.get_value(number) {
                Some(value) if number != 0 => {
                    if roles.iter().any(|r| r == value.name()) {
                        return Err(format!("role {} is listed twice", value.name()));
                    }
                    roles.push(value.name().to_owned());
                }
                _ => return Err(format!("role number {number} is not a valid role")),
            }
        }
    }
    let pending = flag("owners_while_pending_deletion");
    if pending && !roles.iter().any(|r| r == "ROLE_OWNER") {
        return Err(
            "owners_while_pending_deletion needs a `roles` list that names ROLE_OWNER".to_owned(),
        );
    }
    let (declared, pending) = match (public, authenticated, roles.is_empty()) {
        (true, false, true) => (DeclaredRule::Public, false),
        (false, true, true) => (DeclaredRule::Authenticated, false),
        (false, false, false) => (DeclaredRule::Roles(roles), pending),
        (false, false, true) => return Err("the access rule is empty: it names no role".to_owned()),
        _ => {
            return Err(
                "the access rule mixes `public`, `authenticated` and `roles`: use exactly one"
                    .to_owned(),
            );
        }
    };
    let rate = rate_of(rule)?;
    if public != PUBLIC_RATE_CLASSES.contains(&rate.as_str()) {
        return Err(format!(
            "rate class {rate} does not fit the rule: public RPCs use one of {}, \
             the others RATE_CLASS_READ, _WRITE, _PRIVILEGED or _BUDGET",
            PUBLIC_RATE_CLASSES.join(", ")
        ));
    }
    Ok((declared, pending, rate))
}

/// The declared rate class's name; a rule without one fails the audit.
fn rate_of(rule: &prost_reflect::DynamicMessage) -> Result<String, String> {
    let field = rule
        .descriptor()
        .get_field_by_name("rate")
        .ok_or_else(|| "AccessRule has no `rate` field".to_owned())?;
    let prost_reflect::Kind::Enum(classes) = field.kind() else {
        return Err("AccessRule.rate is not an enum".to_owned());
    };
    let number = rule
        .get_field_by_name("rate")
        .and_then(|v| v.as_enum_number())
        .unwrap_or(0);
    match classes.get_value(number) {
        Some(value) if number != 0 => Ok(value.name().to_owned()),
        _ => Err("no rate class: add `rate: RATE_CLASS_...` to the access rule".to_owned()),
    }
}
