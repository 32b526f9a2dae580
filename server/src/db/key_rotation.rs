//! `ochre keys rotate`: re-encrypts every vault ciphertext under the current
//! key (`OCHRE_BYOK_ENC_KEY`), reading old ones with the previous key
//! (`OCHRE_BYOK_ENC_KEY_PREVIOUS`). Rows are scanned in primary-key order in
//! batches, each batch in its own transaction, so an interrupted rotation
//! is simply run again: rows already under the current key are skipped.

use sea_orm::{ConnectionTrait as _, Database, DbErr, FromQueryResult, TransactionTrait as _};
use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use crate::ids::{IntegrationId, OAuthStateId, OrgId, UserId};

use crate::{
    crypto::contexts::{
        TotpField, request_context, secret_context, totp_context, verifier_context,
    },
    crypto::vault::Vault,
    db::stmt,
};

/// What a rotation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RotationReport {
    /// Ciphertexts looked at.
    pub scanned: u64,
    /// Re-encrypted under the current key.
    pub reencrypted: u64,
    /// Already under the current key.
    pub current: u64,
    /// Under a key this server does not have (left untouched).
    pub failed: u64,
}

impl std::fmt::Display for RotationReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "scanned {}, re-encrypted {}, already current {}, failed {}",
            self.scanned, self.reencrypted, self.current, self.failed
        )
    }
}

/// An integration secret's key and ciphertext.
#[derive(Debug, Clone, FromQueryResult)]
struct SecretCipher {
    org_id: OrgId,
    integration_id: IntegrationId,
    field: String,
    ciphertext: Vec<u8>,
}

/// A user's TOTP secrets (at least one of them set).
#[derive(Debug, Clone, FromQueryResult)]
struct TotpCiphers {
    id: UserId,
    totp_secret: Option<Vec<u8>>,
    totp_pending_secret: Option<Vec<u8>>,
}

/// An OAuth state's key and PKCE verifier.
#[derive(Debug, Clone, FromQueryResult)]
struct VerifierCipher {
    org_id: OrgId,
    id: OAuthStateId,
    pkce_verifier: Vec<u8>,
}

/// The kept answer of an idempotent create.
#[derive(Debug, Clone, FromQueryResult)]
struct AnswerCipher {
    org_id: Uuid,
    caller_id: Uuid,
    method: String,
    request_id: String,
    response: Vec<u8>,
}

/// Rotates every ciphertext, connecting as the owner role.
pub async fn rotate(
    owner_url: &SecretString,
    vault: &Vault,
    batch: u64,
) -> Result<RotationReport, DbErr> {
    let db = Database::connect(owner_url.expose_secret().to_owned()).await?;
    let mut report = RotationReport::default();
    let batch = batch.clamp(1, 10_000) as i64;

    // Integration secrets, keyed by (org_id, integration_id, field).
    let mut last: Option<(OrgId, IntegrationId, String)> = None;
    loop {
        let tx = db.begin().await?;
        let (o, i, f) =
            last.clone()
                .unwrap_or((Uuid::nil().into(), Uuid::nil().into(), String::new()));
        let rows = SecretCipher::find_by_statement(stmt(
            "SELECT org_id, integration_id, field, ciphertext FROM integration_secrets \
              WHERE (org_id, integration_id, field) > ($1, $2, $3) \
              ORDER BY org_id, integration_id, field LIMIT $4 FOR UPDATE",
            [o.into(), i.into(), f.into(), batch.into()],
        ))
        .all(&tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        let mut rotated: std::collections::BTreeMap<OrgId, u64> = Default::default();
        for row in rows {
            let SecretCipher {
                org_id: org,
                integration_id: integration,
                field,
                ciphertext: blob,
            } = row;
            report.scanned += 1;
            if !vault.needs_reencrypt(&blob) {
                report.current += 1;
            } else {
                match vault.reencrypt(&secret_context(org, integration, &field), &blob) {
                    Ok(new) => {
                        tx.execute_raw(stmt(
                            "UPDATE integration_secrets SET ciphertext = $4 \
                              WHERE org_id = $1 AND integration_id = $2 AND field = $3",
                            [
                                org.into(),
                                integration.into(),
                                field.clone().into(),
                                new.into(),
                            ],
                        ))
                        .await?;
                        report.reencrypted += 1;
                        *rotated.entry(org).or_default() += 1;
                    }
                    Err(e) => {
                        tracing::error!(%org, %integration, field, error = %e, "cannot re-encrypt");
                        report.failed += 1;
                    }
                }
            }
            last = Some((org, integration, field));
        }
        // Each org's audit chain records the rotation of its secrets, in the
        // transaction that rotated them (no actor: the operator's command).
        for (org, n) in rotated {
            tx.execute_raw(stmt(
                "SELECT audit_append($1, NULL, NULL, 'integration.secrets_rotated', 'org', NULL, \
                                     jsonb_build_object('secrets', $2::bigint), '', 'ochre keys rotate')",
                [org.into(), (n as i64).into()],
            ))
            .await?;
        }
        tx.commit().await?;
    }

    // TOTP secrets (active and pending), keyed by user id.
    let mut last_user = UserId::from_uuid(Uuid::nil());
    loop {
        let tx = db.begin().await?;
        let rows = TotpCiphers::find_by_statement(stmt(
            "SELECT id, totp_secret, totp_pending_secret FROM users \
              WHERE id > $1 AND (totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL) \
              ORDER BY id LIMIT $2 FOR UPDATE",
            [last_user.into(), batch.into()],
        ))
        .all(&tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let user = row.id;
            for (column, field, blob) in [
                ("totp_secret", TotpField::Secret, row.totp_secret),
                (
                    "totp_pending_secret",
                    TotpField::Pending,
                    row.totp_pending_secret,
                ),
            ] {
                let Some(blob) = blob else {
                    continue;
                };
                report.scanned += 1;
                if !vault.needs_reencrypt(&blob) {
                    report.current += 1;
                    continue;
                }
                match vault.reencrypt(&totp_context(user, field), &blob) {
                    Ok(new) => {
                        tx.execute_raw(stmt(
                            &format!("UPDATE users SET {column} = $2 WHERE id = $1"),
                            [user.into(), new.into()],
                        ))
                        .await?;
                        report.reencrypted += 1;
                    }
                    Err(e) => {
                        tracing::error!(%user, column, error = %e, "cannot re-encrypt");
                        report.failed += 1;
                    }
                }
            }
            last_user = user;
        }
        tx.commit().await?;
    }
    // PKCE verifiers of OAuth connects in flight, keyed by (org_id, id).
    let mut last_state = (
        OrgId::from_uuid(Uuid::nil()),
        OAuthStateId::from_uuid(Uuid::nil()),
    );
    loop {
        let tx = db.begin().await?;
        let rows = VerifierCipher::find_by_statement(stmt(
            "SELECT org_id, id, pkce_verifier FROM oauth_states WHERE (org_id, id) > ($1, $2) \
              ORDER BY org_id, id LIMIT $3 FOR UPDATE",
            [last_state.0.into(), last_state.1.into(), batch.into()],
        ))
        .all(&tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let VerifierCipher {
                org_id: org,
                id,
                pkce_verifier: blob,
            } = row;
            report.scanned += 1;
            if !vault.needs_reencrypt(&blob) {
                report.current += 1;
            } else {
                match vault.reencrypt(&verifier_context(org, id), &blob) {
                    Ok(new) => {
                        tx.execute_raw(stmt(
                            "UPDATE oauth_states SET pkce_verifier = $3 WHERE org_id = $1 AND id = $2",
                            [org.into(), id.into(), new.into()],
                        ))
                        .await?;
                        report.reencrypted += 1;
                    }
                    Err(e) => {
                        tracing::error!(%org, state = %id, error = %e, "cannot re-encrypt");
                        report.failed += 1;
                    }
                }
            }
            last_state = (org, id);
        }
        tx.commit().await?;
    }
    rotate_answers(&db, vault, batch, &mut report).await?;
    db.close().await?;
    Ok(report)
}

/// The kept answers of idempotent creates, keyed by (org_id, caller_id,
/// method, request_id).
async fn rotate_answers(
    db: &sea_orm::DatabaseConnection,
    vault: &Vault,
    batch: i64,
    report: &mut RotationReport,
) -> Result<(), DbErr> {
    let mut last = (Uuid::nil(), Uuid::nil(), String::new(), String::new());
    loop {
        let tx = db.begin().await?;
        let rows = AnswerCipher::find_by_statement(stmt(
            "SELECT org_id, caller_id, method, request_id, response FROM request_ids \
              WHERE (org_id, caller_id, method, request_id) > ($1, $2, $3, $4) \
                AND response IS NOT NULL \
              ORDER BY org_id, caller_id, method, request_id LIMIT $5 FOR UPDATE",
            [
                last.0.into(),
                last.1.into(),
                last.2.clone().into(),
                last.3.clone().into(),
                batch.into(),
            ],
        ))
        .all(&tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            report.scanned += 1;
            if !vault.needs_reencrypt(&row.response) {
                report.current += 1;
            } else {
                let ctx = request_context(row.org_id, row.caller_id, &row.method);
                match vault.reencrypt(&ctx, &row.response) {
                    Ok(new) => {
                        tx.execute_raw(stmt(
                            "UPDATE request_ids SET response = $5 WHERE org_id = $1 \
                               AND caller_id = $2 AND method = $3 AND request_id = $4",
                            [
                                row.org_id.into(),
                                row.caller_id.into(),
                                row.method.clone().into(),
                                row.request_id.clone().into(),
                                new.into(),
                            ],
                        ))
                        .await?;
                        report.reencrypted += 1;
                    }
                    Err(e) => {
                        tracing::error!(method = row.method, error = %e, "cannot re-encrypt");
                        report.failed += 1;
                    }
                }
            }
            last = (row.org_id, row.caller_id, row.method, row.request_id);
        }
        tx.commit().await?;
    }
    Ok(())
}
