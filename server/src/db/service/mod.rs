//! The named gates on the `ochre_service` pool: the only code that reaches
//! rows across tenants (credential resolution for the gate, login by
//! email, login throttling, sessions and refresh-token rotation). Each
//! function answers one question and returns only what its caller needs.

use crate::ids::{ApiKeyId, OrgId, SessionId, UserId};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait as _, DbErr, FromQueryResult, TransactionTrait as _};

pub mod webhooks;

use super::{Db, DbError, stmt};

/// What an active session may do in the org it asked for.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    /// The user's current role in the org (None: not a member, or no org asked).
    pub role: Option<String>,
    /// The org's IP allowlist (CIDR strings; empty allows all).
    pub allowlist: Vec<String>,
}

/// An active API key.
#[derive(Debug, Clone, FromQueryResult)]
pub struct KeyGrant {
    #[sea_orm(from_alias = "id")]
    pub key_id: ApiKeyId,
    pub org_id: OrgId,
    pub role: String,
    pub allowlist: Vec<String>,
}

/// What login needs of an account.
#[derive(Debug, Clone, FromQueryResult)]
pub struct LoginRow {
    pub id: UserId,
    pub password_hash: String,
    /// A second factor is required before a session opens.
    pub totp_enabled: bool,
}

/// The account a spent sign-in ticket was issued to.
#[derive(Debug, Clone, FromQueryResult)]
struct TicketUser {
    user_id: UserId,
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

/// An active session's role column (not yet checked against the org asked
/// for) and allowlist.
#[derive(Debug, Clone, FromQueryResult)]
struct SessionColumns {
    role: Option<String>,
    allowlist: Vec<String>,
}

/// `count(*) AS n`.
#[derive(Debug, Clone, FromQueryResult)]
struct Count {
    n: i64,
}

/// The failure count of a throttle key.
#[derive(Debug, Clone, FromQueryResult)]
struct Failures {
    failures: i32,
}

/// When a new session expires.
#[derive(Debug, Clone, FromQueryResult)]
struct Expiry {
    expires_at: DateTime<Utc>,
}

/// A presented refresh token and its session.
#[derive(Debug, Clone, FromQueryResult)]
struct Presented {
    session_id: SessionId,
    used: bool,
    user_id: UserId,
    expires_at: DateTime<Utc>,
    active: bool,
}

impl Db {
    /// Resolves an access token's session and, when `org` is given, the
    /// user's current role there. `None` when the session is not active.
    pub async fn resolve_session(
        &self,
        session_id: SessionId,
        user_id: UserId,
        org: Option<OrgId>,
    ) -> Result<Option<SessionGrant>, DbError> {
        let row = SessionColumns::find_by_statement(stmt(
            "SELECT CASE WHEN o.id IS NULL THEN NULL ELSE m.role END AS role, \
                    coalesce(o.ip_allowlist::text[], '{}') AS allowlist \
               FROM sessions s \
               LEFT JOIN memberships m ON m.user_id = s.user_id AND m.org_id = $3 \
               LEFT JOIN orgs o ON o.id = m.org_id AND o.deleted_at IS NULL \
              WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()",
            [session_id.into(), user_id.into(), org.into()],
        ))
        .one(&self.service)
        .await?;
        let Some(SessionColumns { role, allowlist }) = row else {
            return Ok(None);
        };
        // A member of a deleted org has no usable role there.
        let role = role.filter(|_| org.is_some());
        Ok(Some(SessionGrant { role, allowlist }))
    }

    /// Resolves an API key by the hash of its secret, recording its use at
    /// most once a minute, in the same round trip.
    pub async fn resolve_api_key(&self, key_hash: &[u8; 32]) -> Result<Option<KeyGrant>, DbError> {
        Ok(KeyGrant::find_by_statement(stmt(
            "WITH k AS (SELECT org_id, id, role, last_used_at FROM api_keys \
                         WHERE key_hash = $1 AND revoked_at IS NULL), \
                  used AS (UPDATE api_keys a SET last_used_at = now() FROM k \
                            WHERE a.org_id = k.org_id AND a.id = k.id \
                              AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds') \
                            RETURNING a.id) \
             SELECT k.id, k.org_id, k.role, o.ip_allowlist::text[] AS allowlist \
               FROM k JOIN orgs o ON o.id = k.org_id AND o.deleted_at IS NULL",
            [key_hash.to_vec().into()],
        ))
        .one(&self.service)
        .await?)
    }

    /// Login by email: the account's id and password hash.
    pub async fn login_lookup(&self, email: &str) -> Result<Option<LoginRow>, DbError> {
        Ok(LoginRow::find_by_statement(stmt(
            "SELECT id, password_hash, totp_enabled FROM users WHERE email = $1",
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
                "INSERT INTO login_tickets (token_hash, user_id, expires_at) \
                 VALUES ($1, $2, now() + make_interval(secs => $3))",
                [ticket_hash.to_vec().into(), user_id.into(), ttl_secs.into()],
            ))
            .await?;
        Ok(())
    }

    /// Spends a sign-in ticket: the account it was issued to when it was
    /// unused and unexpired (it is used up either way).
    pub async fn spend_login_ticket(
        &self,
        ticket_hash: &[u8; 32],
    ) -> Result<Option<UserId>, DbError> {
        let row = TicketUser::find_by_statement(stmt(
            "UPDATE login_tickets SET used_at = now() \
              WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
            [ticket_hash.to_vec().into()],
        ))
        .one(&self.service)
        .await?;
        Ok(row.map(|r| r.user_id))
    }

    /// Replaces a password hash after a successful login with old parameters.
    pub async fn rehash_password(&self, user_id: UserId, phc: &str) -> Result<(), DbError> {
        self.service
            .execute_raw(stmt(
                "UPDATE users SET password_hash = $2 WHERE id = $1",
                [user_id.into(), phc.into()],
            ))
            .await?;
        Ok(())
    }

    /// Whether any of `keys` is locked out now.
    pub async fn throttle_locked(&self, keys: &[String]) -> Result<bool, DbError> {
        let row = Count::find_by_statement(stmt(
            "SELECT count(*) AS n FROM login_throttle WHERE key = ANY($1) AND locked_until > now()",
            [keys.to_vec().into()],
        ))
        .one(&self.service)
        .await?;
        Ok(row.map_or(0, |c| c.n) > 0)
    }

    /// Counts a failed login for `key` in a 15-minute window; at `threshold`
    /// failures the key is locked for 15 minutes. Returns the failure count.
    pub async fn throttle_fail(&self, key: &str, threshold: i32) -> Result<i32, DbError> {
        let row = Failures::find_by_statement(stmt(
            "INSERT INTO login_throttle AS t (key, failures, window_start) VALUES ($1, 1, now()) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN t.window_start < now() - interval '15 minutes' THEN 1 ELSE t.failures + 1 END, \
               window_start = CASE WHEN t.window_start < now() - interval '15 minutes' THEN now() ELSE t.window_start END \
             RETURNING failures",
            [key.into()],
        ))
        .one(&self.service)
        .await?;
        let failures = row.map_or(1, |r| r.failures);
        if failures >= threshold {
            self.service
                .execute_raw(stmt(
                    "UPDATE login_throttle SET locked_until = now() + interval '15 minutes' WHERE key = $1",
                    [key.into()],
                ))
                .await?;
        }
        Ok(failures)
    }

    /// Forgets the failures of `key` (after a successful login).
    pub async fn throttle_clear(&self, key: &str) -> Result<(), DbError> {
        self.service
            .execute_raw(stmt("DELETE FROM login_throttle WHERE key = $1 AND (locked_until IS NULL OR locked_until <= now())", [key.into()]))
            .await?;
        Ok(())
    }

    /// Opens a session with its first refresh token (stored as a hash).
    pub async fn create_session(
        &self,
        user_id: UserId,
        refresh_hash: &[u8; 32],
        ttl_days: i32,
        client_ip: Option<String>,
        user_agent: Option<String>,
    ) -> Result<(SessionId, DateTime<Utc>), DbError> {
        let session_id = SessionId::generate();
        let tx = self.service.begin().await?;
        let row = Expiry::find_by_statement(stmt(
            "INSERT INTO sessions (id, user_id, expires_at, client_ip, user_agent) \
             VALUES ($1, $2, now() + make_interval(days => $3), $4::inet, $5) RETURNING expires_at",
            [
                session_id.into(),
                user_id.into(),
                ttl_days.into(),
                client_ip.into(),
                user_agent.into(),
            ],
        ))
        .one(&tx)
        .await?
        .ok_or_else(|| DbErr::RecordNotInserted)?;
        tx.execute_raw(stmt(
            "INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)",
            [refresh_hash.to_vec().into(), session_id.into()],
        ))
        .await?;
        tx.commit().await?;
        Ok((session_id, row.expires_at))
    }

    /// Presents a refresh token: rotates it, or detects its reuse and
    /// revokes the whole session.
    pub async fn rotate_refresh(
        &self,
        old: &[u8; 32],
        new: &[u8; 32],
    ) -> Result<RefreshOutcome, DbError> {
        let tx = self.service.begin().await?;
        let row = Presented::find_by_statement(stmt(
            "SELECT rt.session_id, rt.used_at IS NOT NULL AS used, s.user_id, s.expires_at, \
                    (s.revoked_at IS NULL AND s.expires_at > now()) AS active \
               FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id \
              WHERE rt.token_hash = $1 FOR UPDATE OF rt, s",
            [old.to_vec().into()],
        ))
        .one(&tx)
        .await?;
        let Some(row) = row else {
            return Ok(RefreshOutcome::Invalid);
        };
        let session_id = row.session_id;
        if row.used {
            tx.execute_raw(stmt(
                "UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh token reuse' \
                  WHERE id = $1 AND revoked_at IS NULL",
                [session_id.into()],
            ))
            .await?;
            tx.commit().await?;
            tracing::warn!(%session_id, "refresh token reuse: session revoked");
            return Ok(RefreshOutcome::Reused);
        }
        if !row.active {
            return Ok(RefreshOutcome::Invalid);
        }
        tx.execute_raw(stmt(
            "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1",
            [old.to_vec().into()],
        ))
        .await?;
        tx.execute_raw(stmt(
            "INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)",
            [new.to_vec().into(), session_id.into()],
        ))
        .await?;
        tx.commit().await?;
        Ok(RefreshOutcome::Rotated {
            session_id,
            user_id: row.user_id,
            expires_at: row.expires_at,
        })
    }
}
