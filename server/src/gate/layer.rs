//! The gate: an async tower layer in front of every gRPC service. It looks
//! up the rule generated from the contract's `ochre.v1.access` options,
//! checks an access token's MAC in memory, then opens the request's tenant
//! transaction whose first statement is the database's identity call: the
//! database verifies the credential (the session's proof or the API key)
//! against current rows, the caller's CURRENT role in the org named by
//! `x-ochre-org` (so removal and demotion act on the next request; an API
//! key names its own org) and the org's IP allowlist, and pins the verified
//! caller. A refusal rolls the
//! transaction back; an accepted request carries it to the handler inside
//! the [`Principal`]. Handlers never parse credentials. (For the few reads
//! listed in `super::later`, a session's identity call travels with the
//! handler's query instead, and its verdict is checked there the same way.)

use std::{
    net::IpAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use ochre_sdk::{
    access::{Rule, access_for},
    v1::RateClass,
};
use tonic::{Status, body::Body};
use tower::{Layer, Service};

use secrecy::SecretString;

use super::{
    actor::Actor,
    headers::{bearer, org_header},
    http::{buffered, client_ip, drain},
    later::{Later, ONE_ROUND_TRIP, SESSION_ENDED},
    principal::{Credential, Principal},
    rates::{charge_verified, principal_charges, public_charges},
    refusal::{API_KEY_INVALID, not_a_member, refusal, unauthenticated},
    roles::{allowed_role, role_from_db},
};
use crate::{
    crypto::tokens::{self, AccessTokenSigner, TokenKind},
    db::{Db, TenantTx, Verdict},
    error::{ApiError, Reason, wire::precise},
    ids::OrgId,
    limits::RateLimiter,
    telemetry::{RequestId, record_principal},
};

/// What the gate needs.
#[derive(Debug)]
struct Gate {
    db: Db,
    signer: AccessTokenSigner,
    limiter: Arc<RateLimiter>,
}

/// Installs the gate.
#[derive(Debug, Clone)]
pub struct GateLayer {
    gate: Arc<Gate>,
}

impl GateLayer {
    pub fn new(db: Db, signer: AccessTokenSigner, limiter: Arc<RateLimiter>) -> Self {
        GateLayer {
            gate: Arc::new(Gate {
                db,
                signer,
                limiter,
            }),
        }
    }
}

impl<S> Layer<S> for GateLayer {
    type Service = GateService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct GateService<S> {
    inner: S,
    gate: Arc<Gate>,
}

/// What the access table says about a path.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Health and reflection.
    Pass,
    /// A public RPC, limited per client address by its rate class.
    Public(RateClass),
    /// A path outside the contract.
    Unknown,
    /// A rule that needs a verified caller; `pending_ok`: the org's owners
    /// may call it while the org is pending deletion; `rate`: the class
    /// charged per caller and per org.
    Check {
        rule: Rule,
        pending_ok: bool,
        rate: RateClass,
    },
}

/// The decision for a request path, from the generated access table.
pub fn decide(path: &str) -> Decision {
    if path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.") {
        return Decision::Pass;
    }
    match access_for(path) {
        None => Decision::Unknown,
        Some(m) if m.rule == Rule::Public => Decision::Public(m.rate),
        Some(m) => Decision::Check {
            rule: m.rule,
            pending_ok: m.owners_while_pending_deletion,
            rate: m.rate,
        },
    }
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S> Service<http::Request<Body>> for GateService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        let answer = async move {
            // Past CORS: the browser tests look for this line.
            tracing::debug!("call received");
            let verdict = match decide(req.uri().path()) {
                Decision::Pass => return inner.call(req).await,
                Decision::Public(rate) => {
                    match gate
                        .limiter
                        .charge(&public_charges(rate, client_ip(&req)))
                        .await
                    {
                        Ok(()) => return inner.call(req).await,
                        Err(refusal) => Err(refusal),
                    }
                }
                Decision::Unknown => Err(ApiError::Unimplemented("unknown method".into())),
                Decision::Check {
                    rule,
                    pending_ok,
                    rate,
                } => {
                    let later = !pending_ok && ONE_ROUND_TRIP.contains(&req.uri().path());
                    let (ip, read);
                    (ip, (req, read)) = (client_ip(&req), buffered(req).await);
                    let check = Check {
                        rule,
                        pending_ok,
                        rate,
                        later,
                    };
                    let verdict = gate.authorize(req.headers(), ip, check);
                    verdict.await.and_then(|p| read.map(|()| p))
                }
            };
            match verdict {
                Ok(principal) => {
                    let principal = principal.with_request_id(req.extensions().get::<RequestId>());
                    let (kind, id) = match principal.actor() {
                        Actor::User { user_id, .. } => ("user", user_id.uuid()),
                        Actor::ApiKey { key_id } => ("api_key", key_id.uuid()),
                    };
                    // A caller left to the database's verdict is recorded
                    // once admitted.
                    if !principal.is_later() {
                        record_principal(kind, &id, principal.org().map(|(org, _)| org));
                    }
                    req.extensions_mut().insert(principal);
                    inner.call(req).await
                }
                Err(refusal) => {
                    crate::telemetry::metrics::gate_refusal(refusal.reason().as_str());
                    drain(req.into_body()).await;
                    Ok(Status::from(refusal).into_http())
                }
            }
        };
        Box::pin(async move { answer.await.map(precise) })
    }
}

/// What the access table says a call needs.
#[derive(Debug, Clone, Copy)]
struct Check {
    rule: Rule,
    pending_ok: bool,
    rate: RateClass,
    /// A session's identity call may travel with the handler's one query
    /// (`super::later`).
    later: bool,
}

impl Gate {
    #[tracing::instrument(name = "gate", level = "trace", skip_all)]
    async fn authorize(
        &self,
        headers: &http::HeaderMap,
        ip: Option<IpAddr>,
        check: Check,
    ) -> Result<Principal, ApiError> {
        let Check { rule, rate, .. } = check;
        let token = bearer(headers)?;
        let org_header = org_header(headers)?;
        let principal = match tokens::parse_prefix(token) {
            Some(TokenKind::Access) => self.user(token, check, org_header, ip).await?,
            Some(TokenKind::ApiKey) => {
                // The key's own bucket, before the database sees it.
                let key = format!(
                    "key:{}",
                    data_encoding::HEXLOWER.encode(&tokens::hash_opaque(token)[..12])
                );
                self.limiter.charge_local(&principal_charges(rate, &key))?;
                self.api_key(token, rule, org_header, ip).await?
            }
            _ => {
                return Err(unauthenticated(
                    Reason::CredentialsMalformed,
                    "invalid credentials",
                ));
            }
        };
        if !principal.is_later() {
            let (caller, org) = (principal.actor().limit_key(), principal.org());
            charge_verified(&self.limiter, &caller, org.map(|(o, _)| o), rate).await?;
        }
        Ok(principal)
    }

    async fn user(
        &self,
        token: &str,
        check: Check,
        org: Option<OrgId>,
        ip: Option<IpAddr>,
    ) -> Result<Principal, ApiError> {
        let Check {
            rule,
            pending_ok,
            rate,
            later,
        } = check;
        let claims = self
            .signer
            .verify(token, crate::clock::unix_now())
            .map_err(|e| match e {
                tokens::TokenError::Expired => unauthenticated(
                    Reason::AccessTokenExpired,
                    "invalid or expired access token",
                ),
                _ => unauthenticated(
                    Reason::AccessTokenInvalid,
                    "invalid or expired access token",
                ),
            })?;
        // The MAC proves the user id: their bucket, before the database.
        self.limiter
            .charge_local(&principal_charges(rate, &format!("user:{}", claims.sub)))?;
        let org = match rule {
            Rule::Roles(_) => Some(org.ok_or_else(|| {
                ApiError::invalid_request(
                    Reason::OrgHeaderRequired,
                    "this method acts on an org: send the x-ochre-org header",
                )
            })?),
            _ => None,
        };
        let credential = Credential::Session {
            session_id: claims.sid,
            proof: claims.prf,
        };
        let actor = Actor::User {
            user_id: claims.sub,
            session_id: claims.sid,
        };
        if later && let (Rule::Roles(allowed), Some(org)) = (rule, org) {
            let checks = Later::new(org, allowed, rate, self.limiter.clone());
            return Ok(Principal::later(actor, ip, credential, checks));
        }
        let (role, tx) = self
            .verify(&credential, org, ip, pending_ok, SESSION_ENDED)
            .await?;
        let Rule::Roles(allowed) = rule else {
            return Ok(Principal::new(actor, None, ip, credential, false, tx));
        };
        let org = org.ok_or_else(not_a_member)?;
        let role = allowed_role(role.as_deref(), allowed)?;
        Ok(Principal::new(
            actor,
            Some((org, role)),
            ip,
            credential,
            pending_ok,
            tx,
        ))
    }

    async fn api_key(
        &self,
        token: &str,
        rule: Rule,
        org: Option<OrgId>,
        ip: Option<IpAddr>,
    ) -> Result<Principal, ApiError> {
        // The key names its org; the database looks it up there only.
        let Some(named) = tokens::org_named(TokenKind::ApiKey, token) else {
            return Err(unauthenticated(API_KEY_INVALID.0, API_KEY_INVALID.1));
        };
        let credential = Credential::ApiKey(Arc::new(SecretString::from(token)));
        let Rule::Roles(allowed) = rule else {
            // An unknown key is UNAUTHENTICATED whatever it calls; a real
            // one is refused the methods that are for people only.
            self.verify(&credential, Some(named), ip, false, API_KEY_INVALID)
                .await?;
            return Err(ApiError::denied());
        };
        let (verdict, tx) = self
            .db
            .verify(credential.proof(), Some(named), ip, false)
            .await?;
        let (
            Verdict::Ok {
                org_id: Some(org_id),
                role: Some(role),
                api_key_id: Some(key_id),
            },
            Some(tx),
        ) = (verdict.clone(), tx)
        else {
            return Err(refusal(verdict, API_KEY_INVALID));
        };
        // A real key sent with another org's header acts nowhere (the
        // transaction rolls back when dropped).
        if org.is_some_and(|asked| asked != org_id) {
            return Err(not_a_member());
        }
        let role = role_from_db(&role).ok_or_else(not_a_member)?;
        if !allowed.contains(&role) {
            return Err(ApiError::PermissionDenied(
                Reason::RoleNotAllowed,
                "this API key's role cannot call this method".into(),
            ));
        }
        Ok(Principal::new(
            Actor::ApiKey { key_id },
            Some((org_id, role)),
            ip,
            credential,
            false,
            tx,
        ))
    }

    /// The identity call: the verified role and the open transaction, or
    /// the refusal the verdict means.
    async fn verify(
        &self,
        credential: &Credential,
        org: Option<OrgId>,
        ip: Option<IpAddr>,
        pending_ok: bool,
        unknown: (Reason, &'static str),
    ) -> Result<(Option<String>, TenantTx), ApiError> {
        match self
            .db
            .verify(credential.proof(), org, ip, pending_ok)
            .await?
        {
            (Verdict::Ok { role, .. }, Some(tx)) => Ok((role, tx)),
            (verdict, _) => Err(refusal(verdict, unknown)),
        }
    }
}
