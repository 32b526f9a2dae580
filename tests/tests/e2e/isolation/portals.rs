//! The pinned caller against the extended protocol, spoken message by
//! message (`ochre_tests::rawpg`): a portal executed one row at a time
//! keeps the InitPlans it has evaluated while other statements run between
//! its fetches. The unnamed portal is not in `pg_cursors`, so
//! `first_identity_call()` does not see it, and a second caller can be
//! pinned while it is suspended: after a RESET ALL or a ROLLBACK TO
//! SAVEPOINT, by the portal itself in a later row, or by a protocol
//! Function Call. The attacker is an agent of the victim org who owns an
//! org of its own. If a policy read the org and the role in two
//! evaluations, the org would come from the agent's pin and the role from
//! the owner's, and the victim's admin-only API keys would come back; the
//! policies read both in one (`app_org_as`), so nothing does. The last test
//! puts the two-evaluation policy back and shows every attack here reads
//! the victim's keys with it: the attacks are live, the policy shape is
//! what stops them.

use ochre_server::pg::APP_ROLE;
use ochre_tests::{
    cluster::cluster,
    rawpg::{RawConn, Reply},
};
use sea_orm::ConnectionTrait as _;
use uuid::Uuid;

/// Plans that evaluate the policy's InitPlans row by row, as the attacks
/// need (nested loops, index scans, nothing materialised).
const PLANS: &str = "SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; \
                     SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; \
                     SET LOCAL enable_material = off";

/// The victim org, the attacker's own org and the attacker: an agent in
/// the victim org and owner of its own, signed in with the seeded session.
struct Scene {
    db: String,
    victim: Uuid,
    own: Uuid,
    session: Uuid,
    proof: String,
}

impl Scene {
    async fn new() -> Scene {
        let (db, victim, own) = super::agent_who_owns_another_org().await;
        let agent = victim.user("agent");
        // The seeded session of a user: its id is the user's, its proof
        // the user id's bytes (`Credential::seeded_user`).
        let proof: String = agent
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Scene {
            db,
            victim: victim.id,
            own,
            session: agent,
            proof: format!("\\x{proof}"),
        }
    }

    /// The attacker's connection as `ochre_app`, in a transaction with the
    /// plans the attacks need.
    async fn attacker(&self) -> RawConn {
        let mut conn = RawConn::connect(cluster().await, APP_ROLE, &self.db).await;
        conn.simple(&format!("BEGIN; {PLANS}")).await.ok();
        conn
    }

    /// The attacker's identity call in `org` (SQL text).
    fn verify(&self, org: &str) -> String {
        format!(
            "verify_session('{}', '{}'::bytea, {org}, '')",
            self.session, self.proof
        )
    }

    /// One statement that pins the attacker as agent of the victim org in
    /// its row 1 and as owner of its own org in its row 2, reading
    /// `api_keys` in each row after the pin: `(n, verdict, org of a key)`.
    fn self_pinning(&self) -> String {
        format!(
            "SELECT v.n, vs.verdict, k.org_id::text \
               FROM (VALUES (1, '{}'::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid), \
                            (2, '{}'::uuid, '00000000-0000-0000-0000-000000000000'::uuid)) v(n, org, lo) \
              CROSS JOIN LATERAL {} vs \
               LEFT JOIN LATERAL (SELECT a.org_id FROM api_keys a \
                     WHERE a.id >= CASE WHEN vs.verdict = 'ok' THEN v.lo END OFFSET 0) k ON true",
            self.victim,
            self.own,
            self.verify("v.org")
        )
    }

    /// The rows of `reply` that are keys of the victim org.
    fn victims_keys(&self, reply: &Reply) -> usize {
        let victim = self.victim.to_string();
        reply
            .rows
            .iter()
            .filter(|r| r.last().is_some_and(|k| k.as_deref() == Some(&victim)))
            .count()
    }
}

/// The statement above in the unnamed portal, one row, RESET ALL in a
/// named portal, then the rest: `(first fetch, second fetch)`.
async fn reset_all_between_fetches(scene: &Scene) -> (Reply, Reply) {
    let mut conn = scene.attacker().await;
    conn.parse("", &scene.self_pinning());
    conn.bind("", "");
    conn.execute("", 1);
    let first = conn.sync().await;
    conn.in_named_portal("RESET ALL").await.ok();
    conn.execute("", 0);
    let second = conn.sync().await;
    (first, second)
}

/// The same with a savepoint: the portal is bound before it, fetches once
/// (pinning the agent), the savepoint is rolled back (unpinning), the
/// portal resumes.
async fn rollback_to_savepoint_between_fetches(scene: &Scene) -> (Reply, Reply) {
    let mut conn = scene.attacker().await;
    conn.parse("", &scene.self_pinning());
    conn.bind("", "");
    conn.sync().await.ok();
    conn.in_named_portal("SAVEPOINT s").await.ok();
    conn.execute("", 1);
    let first = conn.sync().await;
    conn.in_named_portal("ROLLBACK TO SAVEPOINT s").await.ok();
    conn.execute("", 0);
    let second = conn.sync().await;
    (first, second)
}

/// Pinned as the victim's agent by a statement, a portal reading
/// `api_keys` fetches one row, RESET ALL unpins, a protocol Function Call
/// of `verify_session` pins the owner of the attacker's org, the portal
/// resumes: `(the Function Call's result, the second fetch)`.
async fn function_call_between_fetches(scene: &Scene) -> (Reply, Reply) {
    let mut conn = scene.attacker().await;
    let oid = conn
        .simple("SELECT 'verify_session(uuid,bytea,uuid,text,boolean)'::regprocedure::oid")
        .await
        .ok()
        .rows[0][0]
        .clone()
        .unwrap();
    let agent = conn
        .simple(&format!(
            "SELECT verdict FROM {}",
            scene.verify(&format!("'{}'", scene.victim))
        ))
        .await
        .ok();
    assert_eq!(agent.rows, [[Some("ok".to_owned())]]);
    conn.parse(
        "",
        "SELECT v.n, k.org_id::text \
           FROM (VALUES (1, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid), \
                        (2, '00000000-0000-0000-0000-000000000000'::uuid)) v(n, lo) \
           LEFT JOIN LATERAL (SELECT a.org_id FROM api_keys a WHERE a.id >= v.lo OFFSET 0) k ON true",
    );
    conn.bind("", "");
    conn.execute("", 1);
    conn.sync().await.ok();
    conn.in_named_portal("RESET ALL").await.ok();
    let (session, own) = (scene.session.to_string(), scene.own.to_string());
    let args = [
        Some(session.as_str()),
        Some(scene.proof.as_str()),
        Some(own.as_str()),
        Some(""),
        Some("false"),
    ];
    let pinned = conn.function_call(oid.parse().unwrap(), &args).await.ok();
    conn.execute("", 0);
    let second = conn.sync().await;
    (pinned, second)
}

/// Both pins of the self-pinning statement were made: row 1 as the agent,
/// row 2 as the owner (so the attack ran to its end).
fn pinned_twice(first: &Reply, second: &Reply) {
    let verdict = |reply: &Reply, n: &str| {
        reply
            .rows
            .iter()
            .find(|r| r[0].as_deref() == Some(n))
            .and_then(|r| r[1].clone())
    };
    assert!(first.suspended, "{first:?}");
    assert_eq!(verdict(first, "1").as_deref(), Some("ok"), "{first:?}");
    assert_eq!(verdict(second, "2").as_deref(), Some("ok"), "{second:?}");
}

#[tokio::test]
async fn a_portal_resumed_after_reset_all_with_a_second_caller_reads_no_admin_key_of_the_victim() {
    let scene = Scene::new().await;
    let (first, second) = reset_all_between_fetches(&scene).await;
    pinned_twice(&first, &second);
    assert!(second.errors.is_empty(), "{second:?}");
    assert_eq!(scene.victims_keys(&first) + scene.victims_keys(&second), 0);
}

#[tokio::test]
async fn a_portal_resumed_after_a_rollback_to_savepoint_with_a_second_caller_reads_no_admin_key_of_the_victim()
 {
    let scene = Scene::new().await;
    let (first, second) = rollback_to_savepoint_between_fetches(&scene).await;
    pinned_twice(&first, &second);
    assert!(second.errors.is_empty(), "{second:?}");
    assert_eq!(scene.victims_keys(&first) + scene.victims_keys(&second), 0);
}

#[tokio::test]
async fn a_portal_resumed_after_a_function_call_pinned_a_second_caller_reads_no_admin_key_of_the_victim()
 {
    let scene = Scene::new().await;
    let (pinned, second) = function_call_between_fetches(&scene).await;
    assert_eq!(pinned.results.len(), 1, "{pinned:?}");
    assert!(
        pinned.results[0]
            .as_deref()
            .is_some_and(|r| r.starts_with("(ok,owner,")),
        "{pinned:?}"
    );
    assert!(second.errors.is_empty(), "{second:?}");
    assert_eq!(scene.victims_keys(&second), 0);
}

/// The control: with `api_keys`' read policy put back in the shape that
/// reads the org and the role in two evaluations, each attack above reads
/// the victim's admin keys.
#[tokio::test]
async fn with_org_and_role_read_apart_each_of_these_attacks_reads_the_victims_admin_keys() {
    let scene = Scene::new().await;
    let su = cluster().await.connect_superuser(&scene.db).await;
    su.execute_unprepared(
        "ALTER POLICY api_keys_admin_read ON api_keys \
           USING (org_id = (SELECT app_org()) AND (SELECT app_role()) IN ('owner', 'admin'))",
    )
    .await
    .unwrap();
    let (first, second) = reset_all_between_fetches(&scene).await;
    pinned_twice(&first, &second);
    assert!(scene.victims_keys(&second) > 0, "RESET ALL: {second:?}");
    let (first, second) = rollback_to_savepoint_between_fetches(&scene).await;
    pinned_twice(&first, &second);
    assert!(scene.victims_keys(&second) > 0, "savepoint: {second:?}");
    let (_, second) = function_call_between_fetches(&scene).await;
    assert!(scene.victims_keys(&second) > 0, "Function Call: {second:?}");
}
