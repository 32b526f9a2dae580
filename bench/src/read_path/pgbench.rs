//! pgbench on the same cluster and database, as the runtime role
//! `ochre_app`, running the transactions the server runs: BEGIN, the
//! identity call `Db::verify` makes (`verify_session` with the agent's
//! session and proof, in the org, from 127.0.0.1), the store statement,
//! COMMIT, each a separate round trip as in the server (sea-orm's `begin`
//! and `commit` are statements of their own). `-M prepared`: the server's
//! driver (sqlx) prepares and caches its statements too.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context as _, bail};
use ochre_server::pg;
use ochre_tests::{caller::Credential, cluster::TestCluster};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement, TransactionTrait as _};
use secrecy::ExposeSecret as _;

/// Clients and threads of every pgbench run.
pub const CLIENTS: u32 = 8;
pub const THREADS: u32 = 2;

/// What one pgbench run reported.
#[derive(Debug, Clone)]
pub struct Pgbench {
    /// `tps = … (without initial connection time)`.
    pub tps: f64,
    /// `latency average = … ms`.
    pub latency_ms: f64,
    pub transactions: u64,
    pub failed: u64,
}

impl Pgbench {
    /// Two runs of the same length as one: `self`, then `later`.
    pub fn and(self, later: Pgbench) -> Pgbench {
        Pgbench {
            tps: (self.tps + later.tps) / 2.0,
            latency_ms: (self.latency_ms + later.latency_ms) / 2.0,
            transactions: self.transactions + later.transactions,
            failed: self.failed + later.failed,
        }
    }
}

/// The newest `/usr/lib/postgresql/*/bin/pgbench`.
pub fn binary() -> anyhow::Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("/usr/lib/postgresql")?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin/pgbench");
            bin.is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .context("no /usr/lib/postgresql/*/bin/pgbench")
}

/// What the scripts embed: the agent's session, proof and user id, the org,
/// the org's conversations.
#[derive(Debug, Clone)]
pub struct Caller {
    pub session: String,
    pub proof_hex: String,
    pub user: String,
    pub org: String,
    pub ids: Vec<String>,
}

impl Caller {
    pub fn new(token: &str, user: &str, org: &str, ids: &[String]) -> anyhow::Result<Caller> {
        let Credential::Session { session, proof } = Credential::of_access_token(token) else {
            bail!("an access token carries a session");
        };
        Ok(Caller {
            session: session.to_string(),
            proof_hex: hex::encode(proof),
            user: user.to_owned(),
            org: org.to_owned(),
            ids: ids.to_vec(),
        })
    }

    /// `verify_session` exactly as `Db::verify` calls it.
    fn verify(&self) -> String {
        format!(
            "SELECT verdict, '{org}'::uuid AS org_id, role, NULL::uuid AS key_id \
             FROM verify_session('{sid}'::uuid, '\\x{proof}'::bytea, '{org}'::uuid, '127.0.0.1');",
            org = self.org,
            sid = self.session,
            proof = self.proof_hex,
        )
    }

    /// The conversation picked by pgbench variable `:i` (1-based).
    fn picked(&self) -> String {
        let list: Vec<String> = self.ids.iter().map(|id| format!("'{id}'::uuid")).collect();
        format!("(ARRAY[{}])[:i]", list.join(", "))
    }

    /// The statements of GetConversation's transaction between BEGIN and
    /// COMMIT (`store::conversations::get`).
    pub fn read(&self) -> Vec<String> {
        vec![
            self.verify(),
            format!(
                "SELECT id, customer_id, channel, subject, status, assignee_id, created_at, \
                 updated_at, last_message_at FROM conversations \
                 WHERE org_id = '{}'::uuid AND id = {};",
                self.org,
                self.picked()
            ),
        ]
    }

    /// The statements of AddMessage's transaction between BEGIN and COMMIT
    /// (`store::conversations::add_message`, no mentions, no attachments,
    /// the agent as author). The server's message id is a UUIDv7 made in
    /// Rust; here a time-ordered id of the same layout (48-bit millisecond
    /// prefix, random rest) is made in SQL, so the index sees the same
    /// append-mostly inserts.
    pub fn write(&self, body: &str) -> Vec<String> {
        let id = "(lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0') \
                  || '7' || substr(md5(random()::text), 1, 19))::uuid";
        vec![
            self.verify(),
            format!(
                "WITH touched AS (UPDATE conversations SET last_message_at = now(), \
                 updated_at = now() WHERE org_id = '{org}'::uuid AND id = {picked} RETURNING id) \
                 INSERT INTO messages (org_id, id, conversation_id, kind, body, author_user_id, \
                 author_api_key_id, mentions, attachments) \
                 SELECT '{org}'::uuid, {id}, touched.id, 'outbound_reply', '{body}', '{user}'::uuid, \
                 NULL::uuid, '{{}}'::text[]::uuid[], '[]'::jsonb FROM touched \
                 RETURNING id, conversation_id, kind, body, author_user_id, \
                 mentions::text[] AS mentions, attachments, created_at;",
                picked = self.picked(),
                body = body.replace('\'', "''"),
                user = self.user,
                org = self.org,
            ),
        ]
    }

    /// A pgbench script: a random conversation, then BEGIN, `statements`,
    /// COMMIT.
    pub fn script(&self, statements: &[String]) -> String {
        format!(
            "\\set i random(1, {})\nBEGIN;\n{}\nCOMMIT;\n",
            self.ids.len(),
            statements.join("\n")
        )
    }
}

/// Runs `statements` once as `ochre_app` on `db` (conversation 1) and rolls
/// back: the identity call must say 'ok' and every statement return a row,
/// or the pgbench figure would measure something else.
pub async fn check(cluster: &TestCluster, db: &str, statements: &[String]) -> anyhow::Result<()> {
    let conn = cluster.connect(pg::APP_ROLE, db).await;
    let result = async {
        let tx = conn.begin().await?;
        for (n, sql) in statements.iter().enumerate() {
            let sql = sql.replace("[:i]", "[1]");
            let rows = tx
                .query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
                .await?;
            let first = rows.first().context("a statement returned no row")?;
            if n == 0 {
                let verdict: String = first.try_get("", "verdict")?;
                if verdict != "ok" {
                    bail!("verify_session said {verdict}");
                }
            }
        }
        tx.rollback().await?;
        Ok(())
    }
    .await;
    conn.close().await.ok();
    result.context("the pgbench transaction, tried once")
}

/// pgbench `-n -M prepared -c 8 -j 2 -T secs -f script` as `ochre_app` on
/// `db`, over the cluster's Unix socket (or loopback TCP: `tcp`).
pub async fn run(
    cluster: &TestCluster,
    tcp: bool,
    db: &str,
    script: &str,
    duration: Duration,
) -> anyhow::Result<Pgbench> {
    let path = std::env::temp_dir().join(format!("ochre-read-path-{}.sql", uuid::Uuid::new_v4()));
    std::fs::write(&path, script).context("write the pgbench script")?;
    let output = tokio::process::Command::new(binary()?)
        .args(["-n", "-M", "prepared"])
        .args(["-c", &CLIENTS.to_string(), "-j", &THREADS.to_string()])
        .args(["-T", &duration.as_secs().max(1).to_string()])
        .arg("-f")
        .arg(&path)
        .arg("-h")
        .arg(match tcp {
            true => std::path::Path::new("127.0.0.1"),
            false => cluster.socket_dir.as_path(),
        })
        .args(["-p", &cluster.port.to_string()])
        .args(["-U", pg::APP_ROLE, db])
        .env("PGPASSWORD", cluster.creds.app.expose_secret())
        .kill_on_drop(true)
        .output()
        .await
        .context("run pgbench");
    let _ = std::fs::remove_file(&path);
    let output = output?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed ({}): {text}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&text).with_context(|| format!("pgbench's output:\n{text}"))
}

/// [`run`] for `d` after a `warmup` (not counted), and the CPU per
/// transaction of the cluster under `postmaster` and of pgbench.
pub async fn measured(
    cluster: &TestCluster,
    tcp: bool,
    db: &str,
    script: &str,
    postmaster: u32,
    warmup: Duration,
    d: Duration,
) -> anyhow::Result<(Pgbench, super::cpu::PerCall)> {
    if !warmup.is_zero() {
        run(cluster, tcp, db, script, warmup).await?;
    }
    let before = super::cpu::Snapshot::take(0, postmaster);
    let measured = run(cluster, tcp, db, script, d).await?;
    let used = before.per_call(&super::cpu::Snapshot::take(0, postmaster), measured.tps);
    Ok((measured, used))
}

/// The number after `prefix` on the line that starts with it.
fn number(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn parse(text: &str) -> anyhow::Result<Pgbench> {
    let tps = text
        .lines()
        .filter(|l| l.contains("without initial connection time"))
        .find_map(|l| number(l, "tps = "))
        .context("no `tps = … (without initial connection time)`")?;
    Ok(Pgbench {
        tps,
        latency_ms: number(text, "latency average = ").context("no latency average")?,
        transactions: number(text, "number of transactions actually processed:")
            .map_or(0, |n| n as u64),
        failed: number(text, "number of failed transactions:").map_or(0, |n| n as u64),
    })
}
