//! Login (with its second step for TOTP accounts) and refresh: the
//! credential exchanges of `AuthService`.

use std::time::Duration;

use ochre_sdk::v1::{
    CompleteLoginRequest, CompleteLoginResponse, LoginRequest, LoginResponse, RefreshRequest,
    RefreshResponse, SessionTokens, User,
};
use secrecy::SecretString;
use tonic::Request;

use super::reauth::{check_code, reauth_failed, reauth_open};
use crate::ids::{SessionId, UserId};
use crate::{
    clock::unix_now,
    crypto::{
        password::needs_rehash,
        tokens::{
            SessionProof, TokenKind, hash_opaque, new_login_ticket, new_refresh_token, parse_prefix,
        },
    },
    db::Proof,
    db::service::RefreshOutcome,
    db::store::users,
    error::{ApiError, Reason},
    rpc::convert::{ts, user_message},
    rpc::{state::AppState, validate::normalize_email},
};

/// Failed logins of one account from one client address before that pair
/// locks (15 minutes); the account stays open from other addresses.
pub const PAIR_LOCK_THRESHOLD: i32 = 5;
/// Failed logins of one account from any addresses before account-wide
/// backoff starts: 1 s, then doubling with each further failure, at most 15
/// minutes. Failures from many addresses slow an account down; they cannot
/// shut its owner out for long.
pub const ACCOUNT_BACKOFF_THRESHOLD: i32 = 20;
/// Failed logins per client address before it locks (15 minutes).
pub const ADDRESS_LOCK_THRESHOLD: i32 = 50;
/// A second-factor sign-in ticket lives this long (seconds).
pub const LOGIN_TICKET_SECS: i32 = 300;
/// Refresh tokens (and so sessions) live this long.
pub const SESSION_DAYS: i32 = 30;

fn bad_credentials() -> ApiError {
    ApiError::Unauthenticated(Reason::LoginFailed, "invalid email or password".into())
}

/// A password sign-in, counted in `ochre_logins_total{outcome}`.
pub async fn login(
    state: &AppState,
    request: Request<LoginRequest>,
) -> Result<LoginResponse, ApiError> {
    let result = attempt_login(state, request).await;
    crate::telemetry::metrics::login(match &result {
        Ok(r) if r.tokens.is_some() => "success",
        Ok(_) => "second_factor_required",
        Err(e) if e.reason() == Reason::LoginLocked => "locked",
        Err(e) if e.reason() == Reason::LoginFailed => "bad_credentials",
        Err(ApiError::InvalidArgument { .. }) => "invalid",
        Err(_) => "error",
    });
    result
}

async fn attempt_login(
    state: &AppState,
    request: Request<LoginRequest>,
) -> Result<LoginResponse, ApiError> {
    let (ip, user_agent) = client_of(&request);
    let request_id = request
        .extensions()
        .get::<crate::telemetry::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let req = request.into_inner();
    if req.email.trim().is_empty() {
        return Err(ApiError::required("email"));
    }
    if req.password.is_empty() {
        return Err(ApiError::required("password"));
    }
    // A malformed address cannot exist: it gets the unknown-account answer.
    let email = normalize_email(&req.email).unwrap_or_else(|| req.email.trim().to_lowercase());
    let email: String = email.chars().take(254).collect();
    let address = ip.map_or_else(|| "ip:unknown".to_owned(), crate::limits::address_key);
    let account_key = format!("email:{email}");
    let pair_key = format!("pair:{email}|{address}");
    let keys = [account_key.clone(), pair_key.clone(), address.clone()];
    let retry_after = state.db.throttle_locked(&keys).await?;
    if !retry_after.is_zero() {
        return Err(ApiError::Throttled {
            reason: Reason::LoginLocked,
            message: "too many failed sign-in attempts: try again later".into(),
            retry_after,
        });
    }
    // One password check per client address at a time, in a fair queue.
    let _slot = state.hasher.admit(&address)?;

    let password = SecretString::from(req.password);
    let account = state.db.login_lookup(&email).await?;
    let verified = match &account {
        Some(row) => {
            state
                .hasher
                .verify(password.clone(), &row.password_hash)
                .await?
        }
        None => {
            // Spend the same time as a real verification.
            state.hasher.verify_dummy(password.clone()).await?;
            false
        }
    };
    let known = account.as_ref().map(|row| row.id);
    let Some(account) = account.filter(|_| verified) else {
        let db = &state.db;
        let failures = db
            .throttle_fail(&pair_key, PAIR_LOCK_THRESHOLD, false)
            .await?;
        let account_failures = db
            .throttle_fail(&account_key, ACCOUNT_BACKOFF_THRESHOLD, true)
            .await?;
        if let Some(user) = known {
            // In the audit chain of every org of the account: a failure,
            // or the lock it set off.
            let locked =
                failures >= PAIR_LOCK_THRESHOLD || account_failures >= ACCOUNT_BACKOFF_THRESHOLD;
            db.record_login_failure(user, locked, ip, &request_id)
                .await?;
        }
        let address_failures = match ip {
            Some(_) => {
                db.throttle_fail(&address, ADDRESS_LOCK_THRESHOLD, false)
                    .await?
            }
            None => 0,
        };
        // A lock set off by this failure (each counter crosses once).
        if failures == PAIR_LOCK_THRESHOLD
            || account_failures == ACCOUNT_BACKOFF_THRESHOLD
            || address_failures == ADDRESS_LOCK_THRESHOLD
        {
            crate::telemetry::metrics::lockout();
        }
        // Slow down repeated failures before the lock takes over.
        let pause = 100 * u64::try_from(failures.clamp(0, 5)).unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        return Err(bad_credentials());
    };

    state.db.throttle_clear(&[pair_key, account_key]).await?;
    // A hash made with older parameters is replaced once the session is open.
    let rehash = if needs_rehash(&account.password_hash) {
        Some(state.hasher.hash(password).await?)
    } else {
        None
    };
    if account.totp_enabled {
        // The password is right; the session waits for the second factor.
        let (ticket, hash) = new_login_ticket();
        state
            .db
            .create_login_ticket(account.id, &hash, LOGIN_TICKET_SECS)
            .await?;
        let expires = chrono::Utc::now() + chrono::Duration::seconds(i64::from(LOGIN_TICKET_SECS));
        return Ok(LoginResponse {
            user: None,
            tokens: None,
            second_factor_ticket: ticket,
            second_factor_expires_at: Some(ts(expires)),
        });
    }
    let (user, tokens) = open_session(state, account.id, ip, user_agent, rehash).await?;
    Ok(LoginResponse {
        user: Some(user),
        tokens: Some(tokens),
        ..Default::default()
    })
}

/// The second step of a sign-in with TOTP: the ticket is spent, then a
/// current code (counted toward the re-authentication lock) opens the
/// session.
pub async fn complete_login(
    state: &AppState,
    request: Request<CompleteLoginRequest>,
) -> Result<CompleteLoginResponse, ApiError> {
    let (ip, user_agent) = client_of(&request);
    let req = request.into_inner();
    let ticket = req.second_factor_ticket.trim();
    if ticket.is_empty() {
        return Err(ApiError::required("second_factor_ticket"));
    }
    if req.code.trim().is_empty() {
        return Err(ApiError::required("code"));
    }
    let spent = match parse_prefix(ticket) {
        Some(TokenKind::LoginTicket) => state.db.verify_login_ticket(ticket).await?,
        _ => None,
    };
    let (user, tx) = spent.ok_or_else(|| {
        ApiError::Unauthenticated(
            Reason::LoginTicketInvalid,
            "the sign-in ticket is not valid: sign in again".into(),
        )
    })?;
    // The ticket is spent whatever happens next: a refusal commits too.
    if let Err(locked) = reauth_open(state, user).await {
        tx.commit().await?;
        return Err(locked);
    }
    let me = users::me(&tx).await?.ok_or_else(bad_credentials)?;
    let step = match check_code(state, &me, &req.code) {
        Ok(step) => step,
        Err(_) => {
            tx.commit().await?;
            return Err(reauth_failed(state, user).await);
        }
    };
    users::set_totp_last_step(&tx, step).await?;
    tx.commit().await?;
    let (user, tokens) = open_session(state, me.id, ip, user_agent, None).await?;
    Ok(CompleteLoginResponse {
        user: Some(user),
        tokens: Some(tokens),
    })
}

/// The caller's address and user agent (at most 512 characters), recorded
/// with the session.
fn client_of<T>(request: &Request<T>) -> (Option<std::net::IpAddr>, Option<String>) {
    let ip = crate::edge::ClientAddr::from_extensions(request.extensions());
    let user_agent = request
        .metadata()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect::<String>());
    (ip, user_agent)
}

/// Opens a session for an account that has proved itself, then reads the
/// account in a transaction verified with the new session's proof (and
/// stores `rehash`, a fresh hash of the password, there).
async fn open_session(
    state: &AppState,
    user: UserId,
    ip: Option<std::net::IpAddr>,
    user_agent: Option<String>,
    rehash: Option<String>,
) -> Result<(User, SessionTokens), ApiError> {
    let (refresh_token, refresh_hash) = new_refresh_token();
    let (proof, proof_hash) = SessionProof::generate();
    let (session_id, expires_at) = state
        .db
        .open_session(
            user,
            &refresh_hash,
            &proof_hash,
            SESSION_DAYS,
            ip.map(|i| i.to_string()),
            user_agent,
        )
        .await?;
    let credential = Proof::Session {
        session_id,
        proof: &proof,
    };
    let (_, tx) = state.db.verify(credential, None, ip, false).await?;
    let tx = tx.ok_or_else(bad_credentials)?;
    let me = users::me(&tx).await?.ok_or_else(bad_credentials)?;
    if let Some(phc) = rehash {
        users::set_password_hash(&tx, &phc).await?;
    }
    tx.commit().await?;
    tracing::info!(user_id = %user, %session_id, "signed in");
    Ok((
        user_message(&me),
        tokens(state, user, session_id, proof, refresh_token, expires_at),
    ))
}

pub async fn refresh(state: &AppState, req: RefreshRequest) -> Result<RefreshResponse, ApiError> {
    let presented = req.refresh_token.trim();
    if presented.is_empty() {
        return Err(ApiError::required("refresh_token"));
    }
    if parse_prefix(presented) != Some(TokenKind::Refresh) {
        return Err(ApiError::Unauthenticated(
            Reason::RefreshTokenInvalid,
            "invalid or expired refresh token".into(),
        ));
    }
    let (next, next_hash) = new_refresh_token();
    let (proof, proof_hash) = SessionProof::generate();
    match state
        .db
        .rotate_refresh(&hash_opaque(presented), &next_hash, &proof_hash)
        .await?
    {
        RefreshOutcome::Rotated {
            session_id,
            user_id,
            expires_at,
        } => Ok(RefreshResponse {
            tokens: Some(tokens(state, user_id, session_id, proof, next, expires_at)),
        }),
        RefreshOutcome::Reused => Err(ApiError::Unauthenticated(
            Reason::RefreshTokenReused,
            "this refresh token was already used: the session has been revoked, sign in again"
                .into(),
        )),
        RefreshOutcome::Invalid => Err(ApiError::Unauthenticated(
            Reason::RefreshTokenInvalid,
            "invalid or expired refresh token".into(),
        )),
    }
}

/// Builds the token pair of a session.
fn tokens(
    state: &AppState,
    user_id: UserId,
    session_id: SessionId,
    proof: SessionProof,
    refresh_token: String,
    refresh_expires_at: chrono::DateTime<chrono::Utc>,
) -> SessionTokens {
    let now = unix_now();
    let claims = crate::crypto::tokens::Claims::new(user_id, session_id, proof, now);
    let access_expires = chrono::DateTime::from_timestamp(claims.exp as i64, 0).unwrap_or_default();
    SessionTokens {
        access_token: state.signer.sign(&claims),
        access_token_expires_at: Some(ts(access_expires)),
        refresh_token,
        refresh_token_expires_at: Some(ts(refresh_expires_at)),
    }
}
