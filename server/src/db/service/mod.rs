//! The named functions of the `ochre_service` pool: sign-up, login by email,
//! login throttling, sessions and refresh-token rotation (and, in
//! [`webhooks`], webhook ingest and the purge job). `ochre_service` has no
//! table grant; each of these calls one SECURITY DEFINER function that
//! answers one question and returns only what its caller needs.

use crate::ids::{SessionId, UserId};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbErr, FromQueryResult};

pub mod audit;
pub mod purge;
pub mod rate;
pub mod surveys;
pub mod webhooks;

use super::{Db, DbError, ip_text, stmt};

/// What login needs of an account.
#[derive(Debug, Clone, FromQueryResult)]
pub struct LoginRow {
    pub id: UserId,
    pub password_hash: String,
    /// A second factor is required before a session opens.
    pub totp_enabled: bool,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Rotated: the session, its user and the new token's expiry.
    Rotated {
        session_id: SessionId,
        user_id: UserId,
        expires_at: DateTime<Utc>,
    },
    /// The token had been used already: its session is now revoked.
    Reused,
    /// Unknown token, or its session is revoked or expired.
    Invalid,
}

/// Seconds until a throttle lock ends.
#[derive(Debug, Clone, FromQueryResult)]
struct Seconds {
    seconds: i32,
}

/// The failure count of a throttle key.
#[derive(Debug, Clone, FromQueryResult)]
struct Failures {
    failures: i32,
}

/// A timestamp answer.
#[derive(Debug, Clone, FromQueryResult)]
struct At {
    at: DateTime<Utc>,
}

/// A row of `rotate_refresh()`.
#[derive(Debug, Clone, FromQueryResult)]
struct Rotation {
    outcome: String,
    session_id: Option<SessionId>,
    user_id: Option<UserId>,
    expires_at: Option<DateTime<Utc>>,
}

impl Db {
    /// Creates an account; its creation time.
    pub async fn sign_up(
        &self,
        id: UserId,
        email: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<DateTime<Utc>, DbError> {
        let row = At::find_by_statement(stmt(
            "SELECT sign_up($1, $2, $3, $4) AS at",
            [
                id.into(),
                email.into(),
                display_name.into(),
                password_hash.into(),
            ],
        ))
        .one(&self.service)
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
        Ok(row.at)
    }

    /// Login by email: the account's id and password hash.
    pub async fn login_lookup(&self, email: &str) -> Result<Option<LoginRow>, DbError> {
        Ok(LoginRow::find_by_statement(stmt(
            "SELECT id, password_hash, totp_enabled FROM login_lookup($1)",
            [email.into()],
        ))
        .one(&self.service)
        .await?)
    }

    /// Stores a second-factor sign-in ticket (its hash) for `user_id`, valid
    /// `ttl_secs`.
    pub async fn create_login_ticket(
        &self,
        user_id: UserId,
        ticket_hash: &[u8; 32],
        ttl_secs: i32,
    ) -> Result<(), DbError> {
        self.service
            .execute_raw(stmt(
                "SELECT create_login_ticket($1, $2, $3)",
                [user_id.into(), ticket_hash.to_vec().into(), ttl_secs.into()],
            ))
            .await?;
        Ok(())
    }

    /// How long until the last lock among `keys` ends (zero: none locked).
    pub async fn throttle_locked(&self, keys: &[String]) -> Result<Duration, DbError> {
        let row = Seconds::find_by_statement(stmt(
            "SELECT throttle_locked($1) AS seconds",
            [keys.to_vec().into()],
        ))
        .one(&self.service)
        .await?;
        let secs = row.map_or(0, |r| r.seconds.max(0));
        Ok(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
    }

    /// Counts a failure for `key` in a 15-minute window; from `threshold`
    /// failures on the key is locked for 15 minutes, or with `backoff` for
    /// 2^(failures - threshold) seconds (at most 15 minutes). Returns the
    /// failure count.
    pub async fn throttle_fail(
        &self,
        key: &str,
        threshold: i32,
        backoff: bool,
    ) -> Result<i32, DbError> {
        let row = Failures::find_by_statement(stmt(
            "SELECT throttle_fail($1, $2, $3) AS failures",
            [key.into(), threshold.into(), backoff.into()],
        ))
        .one(&self.service)
        .await?;
        Ok(row.map_or(1, |r| r.failures))
    }

    /// Records a failed sign-in of `user` (and whether it set off a lock)
    /// in the audit chain of every org the account belongs to.
    pub async fn record_login_failure(
        &self,
        user: UserId,
        locked: bool,
        ip: Option<std::net::IpAddr>,
        request_id: &str,
    ) -> Result<(), DbError> {
        self.service
            .execute_raw(stmt(
                "SELECT record_login_failure($1, $2, $3, $4)",
                [user.into(), locked.into(), ip_text(ip), request_id.into()],
            ))
            .await?;
        Ok(())
    }

    /// Forgets the failures of `keys` that are not locked (after a success).
    pub async fn throttle_clear(&self, keys: &[String]) -> Result<(), DbError> {
        self.service
            .execute_raw(stmt("SELECT throttle_clear($1)", [keys.to_vec().into()]))
            .await?;
        Ok(())
    }

    /// Opens a session with its first refresh token and its proof (both as
    /// hashes); its id and expiry.
    pub async fn open_session(
        &self,
        user_id: UserId,
        refresh_hash: &[u8; 32],
        proof_hash: &[u8; 32],
        ttl_days: i32,
        client_ip: Option<String>,
        user_agent: Option<String>,
    ) -> Result<(SessionId, DateTime<Utc>), DbError> {
        let session_id = SessionId::generate();
        let row = At::find_by_statement(stmt(
            "SELECT open_session($1, $2, $3, $4, $5, $6, $7) AS at",
            [
                session_id.into(),
                user_id.into(),
                refresh_hash.to_vec().into(),
                proof_hash.to_vec().into(),
                ttl_days.into(),
                client_ip.unwrap_or_default().into(),
                user_agent.into(),
            ],
        ))
        .one(&self.service)
        .await?
        .ok_or(DbErr::RecordNotInserted)?;
        Ok((session_id, row.at))
    }

    /// Presents a refresh token: rotates it (and the session's proof, to
    /// `proof_hash`), or detects its reuse and revokes the whole session.
    pub async fn rotate_refresh(
        &self,
        old: &[u8; 32],
        new: &[u8; 32],
        proof_hash: &[u8; 32],
    ) -> Result<RefreshOutcome, DbError> {
        let row = Rotation::find_by_statement(stmt(
            "SELECT outcome, session_id, user_id, expires_at FROM rotate_refresh($1, $2, $3)",
            [
                old.to_vec().into(),
                new.to_vec().into(),
                proof_hash.to_vec().into(),
            ],
        ))
        .one(&self.service)
        .await?;
        Ok(match row {
            Some(Rotation {
                outcome,
                session_id: Some(session_id),
                user_id: Some(user_id),
                expires_at: Some(expires_at),
            }) if outcome == "rotated" => RefreshOutcome::Rotated {
                session_id,
                user_id,
                expires_at,
            },
            Some(r) if r.outcome == "reused" => {
                if let Some(session_id) = r.session_id {
                    tracing::warn!(%session_id, "refresh token reuse: session revoked");
                }
                RefreshOutcome::Reused
            }
            _ => RefreshOutcome::Invalid,
        })
    }
}
