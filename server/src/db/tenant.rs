//! The tenant transaction: one transaction on the `ochre_app` pool whose
//! FIRST statement is an identity call (`verify_session()`,
//! `verify_api_key()` or `verify_login_ticket()`, SECURITY DEFINER). The
//! database checks the presented credential against current rows and pins
//! the verified caller for the rest of the transaction in a parameter only
//! the owner role may set (`backtrace_functions`, granted at bootstrap), so
//! the app role can neither forge nor change it; every policy reads only
//! that.
//!
//! A [`TenantTx`] exists only after the database said `ok`: the gate opens
//! one per request (see `crate::gate`), and the sign-in flows open one for
//! the session or ticket they have just been given. Storage functions take
//! a `&TenantTx`.

use std::net::IpAddr;

use tracing::Instrument as _;

use chrono::{DateTime, Utc};
use sea_orm::FromQueryResult;

use super::pool::{Db, DbError, ip_text, stmt};
use super::wire::WireTx;
use crate::crypto::tokens::SessionProof;
use crate::ids::{ApiKeyId, OrgId, SessionId, UserId};

/// A transaction on the `ochre_app` pool whose caller the database verified.
#[derive(Debug)]
pub struct TenantTx {
    /// The transaction, holding its `app` pool slot.
    tx: WireTx,
    org: Option<OrgId>,
    /// Whether the identity call itself wrote (an API key's last use, a
    /// spent login ticket): such a transaction is always committed.
    verify_wrote: bool,
    /// The identity call was left for the first query to carry
    /// ([`Db::verify_later`]): its verdict is read with [`TenantTx::verdict`].
    later: bool,
    /// The `db.transaction` span: it ends when the transaction does.
    _span: tracing::Span,
}

impl TenantTx {
    /// The connection for storage functions.
    pub fn conn(&self) -> &impl sea_orm::ConnectionTrait {
        &self.tx
    }

    /// The org the identity call verified the caller in (`None` outside
    /// any org). Storage binds it as a parameter next to the policies'
    /// own `org_id = app_org()`: two independent checks of the same org,
    /// and one evaluation of the pinned caller per statement instead of two.
    pub fn org(&self) -> Option<OrgId> {
        self.org
    }

    /// For a handler that reads with one query: that query commits the
    /// transaction in the same write (one round trip less than committing
    /// after it), and any statement after it fails.
    pub fn single_read(mut self) -> TenantTx {
        self.tx.commit_with_next_query();
        self
    }

    /// For a transaction from [`Db::verify_later`]: the identity call's
    /// verdict (sending the call now if no query carried it). Asked twice,
    /// or of a transaction verified at once, it is an error.
    pub async fn verdict(&self) -> Result<Verdict, DbError> {
        match (self.later, self.tx.opening().await) {
            (true, Some(rows)) => verdict_of(&rows?),
            _ => Err(DbError(sea_orm::DbErr::Custom(
                "no identity call left to read".into(),
            ))),
        }
    }

    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbError> {
        Ok(self.tx.commit().await?)
    }

    /// Ends a transaction in which the handler only read. There is nothing
    /// to commit, so it is rolled back without waiting: the request is
    /// answered while the ROLLBACK is on its way. A transaction whose
    /// identity call wrote is committed instead.
    pub async fn finish_read(self) -> Result<(), DbError> {
        if self.verify_wrote || self.tx.committed() {
            self.commit().await
        } else {
            self.tx.finish();
            Ok(())
        }
    }
}

/// What a credential is proved with.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// A session and the per-session secret its access tokens carry.
    Session {
        session_id: SessionId,
        proof: &'a SessionProof,
    },
    /// An API key, whole (the database hashes it).
    ApiKey(&'a str),
}

/// The database's answer to an identity call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Verified: the role in the org asked for (or the key's org and role).
    Ok {
        org_id: Option<OrgId>,
        role: Option<String>,
        api_key_id: Option<ApiKeyId>,
    },
    /// Unknown, revoked or expired credential.
    NoCredential,
    /// No role in the org asked for (or a deleted org, or another org's key).
    NotMember,
    /// The org's IP allowlist refuses the caller's address.
    AddressRefused,
    /// The org is pending deletion (and this call is not one its owners
    /// may make then): it will be purged after `purge_after`.
    PendingDeletion { purge_after: DateTime<Utc> },
}

/// One row of `verify_session()` / `verify_api_key()`.
#[derive(Debug, Clone, FromQueryResult)]
struct VerdictRow {
    verdict: String,
    org_id: Option<OrgId>,
    role: Option<String>,
    key_id: Option<ApiKeyId>,
    purge_after: Option<DateTime<Utc>>,
}

/// One row of `verify_login_ticket()`.
#[derive(Debug, Clone, FromQueryResult)]
struct TicketRow {
    user_id: Option<UserId>,
}

impl Db {
    /// Opens a transaction whose first statement verifies `proof` (in `org`,
    /// from `ip`; `pending_ok`: an owner's session is admitted to an org
    /// pending deletion). The transaction is returned only with
    /// [`Verdict::Ok`]; on any other verdict it has been rolled back.
    pub async fn verify(
        &self,
        proof: Proof<'_>,
        org: Option<OrgId>,
        ip: Option<IpAddr>,
        pending_ok: bool,
    ) -> Result<(Verdict, Option<TenantTx>), DbError> {
        self.verify_at(proof, org, ip, pending_ok, false).await
    }

    /// [`Db::verify`], with `snapshot`: the transaction is REPEATABLE READ
    /// (every statement sees the instant of the identity call) and, when
    /// the identity call does not write (a session), READ ONLY. For reads
    /// that must be consistent across tables (an export).
    pub async fn verify_at(
        &self,
        proof: Proof<'_>,
        org: Option<OrgId>,
        ip: Option<IpAddr>,
        pending_ok: bool,
        snapshot: bool,
    ) -> Result<(Verdict, Option<TenantTx>), DbError> {
        let span = tracing::trace_span!("db.transaction", pool = "app");
        // BEGIN and the identity call leave in one write; the pool records
        // the time to the connection.
        let begin = match (snapshot, proof) {
            (false, _) => "BEGIN",
            (true, Proof::ApiKey(_)) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ WRITE",
            (true, Proof::Session { .. }) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let verify_wrote = matches!(proof, Proof::ApiKey(_));
        let call = identity_call(proof, org, ip, pending_ok);
        let (tx, rows) = self
            .app
            .begin_with(begin, call)
            .instrument(span.clone())
            .await?;
        let verdict = verdict_of(&rows)?;
        if let Verdict::Ok { org_id, .. } = verdict {
            Ok((
                verdict,
                Some(TenantTx {
                    tx,
                    org: org_id,
                    verify_wrote,
                    later: false,
                    _span: span,
                }),
            ))
        } else {
            // A verdict other than ok wrote nothing: roll back unawaited.
            tx.finish();
            Ok((verdict, None))
        }
    }

    /// A READ ONLY tenant transaction for a session whose `BEGIN` and
    /// identity call are not sent now but with the transaction's first
    /// query, in the same write (one round trip for a read of one query):
    /// nothing is known of the caller until [`TenantTx::verdict`] says so,
    /// and whatever that query read must be dropped unless it says `ok`.
    /// Until then the transaction's org is the one asked for (a session is
    /// pinned in exactly that org, or in none).
    pub async fn verify_later(
        &self,
        session_id: SessionId,
        proof: &SessionProof,
        org: Option<OrgId>,
        ip: Option<IpAddr>,
        pending_ok: bool,
    ) -> Result<TenantTx, DbError> {
        let span = tracing::trace_span!("db.transaction", pool = "app");
        let call = identity_call(Proof::Session { session_id, proof }, org, ip, pending_ok);
        let tx = self
            .app
            .begin_later("BEGIN READ ONLY", call)
            .instrument(span.clone())
            .await?;
        Ok(TenantTx {
            tx,
            org,
            verify_wrote: false,
            later: true,
            _span: span,
        })
    }

    /// Spends a second-factor sign-in ticket and opens a transaction as its
    /// account (in no org). `None` when the ticket is unknown, used or
    /// expired (it is used up either way).
    pub async fn verify_login_ticket(
        &self,
        ticket: &str,
    ) -> Result<Option<(UserId, TenantTx)>, DbError> {
        let span = tracing::trace_span!("db.transaction", pool = "app");
        let (tx, rows) = self
            .app
            .begin_with(
                "BEGIN",
                stmt("SELECT verify_login_ticket($1) AS user_id", [ticket.into()]),
            )
            .instrument(span.clone())
            .await?;
        let row = match rows.first() {
            Some(r) => Some(TicketRow::from_query_result(r, "")?),
            None => None,
        };
        match row.and_then(|r| r.user_id) {
            Some(user) => Ok(Some((
                user,
                TenantTx {
                    tx,
                    org: None,
                    verify_wrote: true,
                    later: false,
                    _span: span,
                },
            ))),
            None => {
                // The ticket stays spent.
                tx.commit().await?;
                Ok(None)
            }
        }
    }
}

/// The identity call for `proof` (in `org`, from `ip`).
fn identity_call(
    proof: Proof<'_>,
    org: Option<OrgId>,
    ip: Option<IpAddr>,
    pending_ok: bool,
) -> sea_orm::Statement {
    match proof {
        Proof::Session { session_id, proof } => stmt(
            "SELECT verdict, $3::uuid AS org_id, role, NULL::uuid AS key_id, purge_after \
               FROM verify_session($1, $2, $3, $4, $5)",
            [
                session_id.into(),
                proof.as_bytes().to_vec().into(),
                org.into(),
                ip_text(ip),
                pending_ok.into(),
            ],
        ),
        Proof::ApiKey(key) => stmt(
            "SELECT verdict, org_id, role, key_id, purge_after FROM verify_api_key($1, $2, $3)",
            [key.into(), org.into(), ip_text(ip)],
        ),
    }
}

/// The verdict in the identity call's rows.
fn verdict_of(rows: &[sea_orm::QueryResult]) -> Result<Verdict, DbError> {
    let row = match rows.first() {
        Some(r) => Some(VerdictRow::from_query_result(r, "")?),
        None => None,
    };
    Ok(match row {
        Some(r) if r.verdict == "ok" => Verdict::Ok {
            org_id: r.org_id,
            role: r.role,
            api_key_id: r.key_id,
        },
        Some(r) if r.verdict == "not_member" => Verdict::NotMember,
        Some(r) if r.verdict == "address_refused" => Verdict::AddressRefused,
        Some(VerdictRow {
            verdict,
            purge_after: Some(purge_after),
            ..
        }) if verdict == "pending_deletion" => Verdict::PendingDeletion { purge_after },
        _ => Verdict::NoCredential,
    })
}
