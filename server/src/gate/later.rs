//! One round trip for a read. For the RPCs in [`ONE_ROUND_TRIP`] a signed-in
//! caller's request passes the gate on what can be checked in memory (the
//! access token's MAC, the org header, the caller's own rate) and the
//! database's identity call is left to travel with the handler's one query:
//! `BEGIN READ ONLY`, the identity call, the query and `COMMIT` leave in one
//! write ([`crate::db::Db::verify_later`]). The handler reads through
//! [`Principal::read_one`], which holds its answer back until the verdict
//! is in and checked exactly as the gate checks it ([`Later::admit`]):
//! a refused caller gets the gate's refusal whatever the handler read or
//! failed with, and what the query read is dropped. The transaction is
//! read-only, so a refused caller's query, which ran with nobody pinned
//! (and so saw no rows), cannot have changed anything either.
//!
//! Until admitted, the principal names no org or role
//! ([`Principal::org`] is `None`), so a handler that looked at the role
//! before reading would refuse every caller, which the role-matrix tests
//! would show. API keys, whose identity call writes (the key's last use),
//! are verified by the gate as before.

use std::sync::{Arc, OnceLock};

use ochre_sdk::v1::{RateClass, Role};

use super::{actor::Actor, rates::charge_verified, refusal::refusal, roles::allowed_role};
use crate::{
    db::{DbError, Verdict},
    error::{ApiError, Reason},
    ids::OrgId,
    limits::RateLimiter,
    telemetry::record_principal,
};

/// The RPCs read with one round trip (each reads with one query through
/// [`Principal::read_one`] and nothing else: see the module docs).
pub(super) const ONE_ROUND_TRIP: &[&str] = &["/ochre.v1.ConversationService/GetConversation"];

/// What a session caller's refusal says when the database no longer
/// accepts the session.
pub(super) const SESSION_ENDED: (Reason, &str) =
    (Reason::SessionEnded, "the session has ended: sign in again");

/// The gate's checks left for when the database's verdict is in.
#[derive(Debug)]
pub(crate) struct Later {
    /// The org the request names (a session is verified in exactly it).
    pub(super) org: OrgId,
    /// The roles the contract allows.
    allowed: &'static [Role],
    rate: RateClass,
    limiter: Arc<RateLimiter>,
    /// The caller's role in `org`, once admitted.
    admitted: OnceLock<Role>,
}

impl Later {
    pub(super) fn new(
        org: OrgId,
        allowed: &'static [Role],
        rate: RateClass,
        limiter: Arc<RateLimiter>,
    ) -> Arc<Later> {
        Arc::new(Later {
            org,
            allowed,
            rate,
            limiter,
            admitted: OnceLock::new(),
        })
    }

    /// The org and role, once admitted.
    pub(super) fn admitted(&self) -> Option<(OrgId, Role)> {
        self.admitted.get().map(|role| (self.org, *role))
    }

    /// Checks the verdict as the gate does (the role the contract allows,
    /// then the org's rate for the call's class) and records the caller;
    /// the refusal the gate would have answered otherwise, counted as the
    /// gate counts its refusals.
    pub(super) async fn admit(
        &self,
        verdict: Result<Verdict, DbError>,
        actor: &Actor,
    ) -> Result<Role, ApiError> {
        self.checked(verdict, actor).await.inspect_err(|refusal| {
            crate::telemetry::metrics::gate_refusal(refusal.reason().as_str());
        })
    }

    async fn checked(
        &self,
        verdict: Result<Verdict, DbError>,
        actor: &Actor,
    ) -> Result<Role, ApiError> {
        let role = verdict_role(verdict?, self.allowed)?;
        let role = *self.admitted.get_or_init(|| role);
        charge_verified(&self.limiter, &actor.limit_key(), Some(self.org), self.rate).await?;
        if let Actor::User { user_id, .. } = actor {
            record_principal("user", &user_id.uuid(), Some(self.org));
        }
        Ok(role)
    }
}

/// The caller's role from a session's verdict when the contract allows it,
/// else the gate's refusal.
fn verdict_role(verdict: Verdict, allowed: &[Role]) -> Result<Role, ApiError> {
    match verdict {
        Verdict::Ok { role, .. } => allowed_role(role.as_deref(), allowed),
        verdict => Err(refusal(verdict, SESSION_ENDED)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(role: Option<&str>) -> Verdict {
        Verdict::Ok {
            org_id: None,
            role: role.map(str::to_owned),
            api_key_id: None,
        }
    }

    fn reason(answer: Result<Role, ApiError>) -> &'static str {
        answer.expect_err("refused").reason().as_str()
    }

    #[test]
    fn a_verdict_admits_only_a_role_the_contract_allows_and_refuses_as_the_gate_does() {
        let owners: &[Role] = &[Role::Owner, Role::Admin];
        assert_eq!(
            verdict_role(ok(Some("admin")), owners).ok(),
            Some(Role::Admin)
        );
        assert_eq!(
            reason(verdict_role(ok(Some("agent")), owners)),
            "ROLE_NOT_ALLOWED"
        );
        assert_eq!(
            reason(verdict_role(ok(Some("nobody")), owners)),
            "NOT_A_MEMBER"
        );
        assert_eq!(reason(verdict_role(ok(None), owners)), "NOT_A_MEMBER");
        for (verdict, expected) in [
            (Verdict::NoCredential, "SESSION_ENDED"),
            (Verdict::NotMember, "NOT_A_MEMBER"),
            (Verdict::AddressRefused, "IP_NOT_ALLOWED"),
            (
                Verdict::PendingDeletion {
                    purge_after: chrono::Utc::now(),
                },
                "WORKSPACE_PENDING_DELETION",
            ),
        ] {
            assert_eq!(reason(verdict_role(verdict, owners)), expected);
        }
    }
}
