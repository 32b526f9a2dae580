//! What the gate charges the rate limiter (README "Rate limits"): a public
//! RPC its class's limit per client address; an authenticated call its
//! class's limit per caller (before the database, from the access token's
//! MAC-checked user or the API key's hash) and, once the database verified
//! the caller, per org. Sign-in and budget calls are charged in Postgres
//! (budget calls per caller and per org), so replicas share them.

use std::net::IpAddr;

use ochre_sdk::v1::RateClass;

use crate::{
    error::ApiError,
    ids::OrgId,
    limits::{Charge, RateLimiter, address_key, config::LIMITS, limiter::SHARED},
};

/// The configured limit `<class>.<scope>`, if the class has one.
fn limit_name(rate: RateClass, scope: &str) -> Option<&'static str> {
    let class = match rate {
        RateClass::Read => "read",
        RateClass::Write => "write",
        RateClass::Privileged => "privileged",
        RateClass::Budget => "budget",
        RateClass::Public => "public",
        RateClass::SignUp => "sign_up",
        RateClass::SignIn => "sign_in",
        RateClass::SurveySubmit => "survey_submit",
        RateClass::Unspecified => return None,
    };
    LIMITS
        .iter()
        .map(|(name, _, _)| *name)
        .find(|name| name.strip_prefix(class).and_then(|r| r.strip_prefix('.')) == Some(scope))
}

/// A public call's charge: its class per client address. Survey answers
/// are charged by their handler once the link is proven genuine, so a
/// forged link costs no database work.
pub(super) fn public_charges(rate: RateClass, ip: Option<IpAddr>) -> Vec<Charge> {
    if rate == RateClass::SurveySubmit {
        return Vec::new();
    }
    let key = ip.map_or_else(|| "ip:unknown".to_owned(), address_key);
    limit_name(rate, "address")
        .map(|name| Charge::new(name, key))
        .into_iter()
        .collect()
}

/// The per-caller charge made before the database (in memory only).
pub(super) fn principal_charges(rate: RateClass, key: &str) -> Vec<Charge> {
    limit_name(rate, "principal")
        .map(|name| Charge::new(name, key))
        .into_iter()
        .collect()
}

/// What a verified caller is charged: the org's limit of the class, and
/// for a shared class the caller's limit too (kept in Postgres, by the
/// verified user or API key id: `caller`, its `Actor::limit_key`).
pub(super) async fn charge_verified(
    limiter: &RateLimiter,
    caller: &str,
    org: Option<OrgId>,
    rate: RateClass,
) -> Result<(), ApiError> {
    let mut charges = Vec::with_capacity(2);
    if let Some(name) = limit_name(rate, "principal").filter(|n| SHARED.contains(n)) {
        charges.push(Charge::new(name, caller.to_owned()));
    }
    if let (Some(name), Some(org)) = (limit_name(rate, "org"), org) {
        charges.push(Charge::new(name, format!("org:{org}")));
    }
    limiter.charge(&charges).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rate_class_but_unspecified_names_configured_limits() {
        for rate in [RateClass::Read, RateClass::Write, RateClass::Privileged] {
            assert!(limit_name(rate, "principal").is_some(), "{rate:?}");
            assert!(limit_name(rate, "org").is_some(), "{rate:?}");
        }
        assert_eq!(
            limit_name(RateClass::Budget, "org"),
            Some("budget.org"),
            "budget calls per org"
        );
        for rate in [
            RateClass::Public,
            RateClass::SignUp,
            RateClass::SignIn,
            RateClass::SurveySubmit,
        ] {
            assert!(limit_name(rate, "address").is_some(), "{rate:?}");
            assert!(limit_name(rate, "principal").is_none(), "{rate:?}");
        }
        assert_eq!(limit_name(RateClass::Unspecified, "principal"), None);
        assert_eq!(limit_name(RateClass::Read, "address"), None);
    }
}
