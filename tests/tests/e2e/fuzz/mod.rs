//! RPC input fuzzing, generated from the contract's descriptors (see
//! `ochre_tests::fuzz`): every RPC is called with random, mutated and
//! garbage messages, at least `OCHRE_FUZZ_MESSAGES` (10,000) per caller:
//! anonymously for the public RPCs, and as each member role and each API
//! key role of an org for the others (a refused RPC gets a few messages,
//! the admitted ones share the rest). No answer may be INTERNAL,
//! UNAVAILABLE, UNKNOWN or a hang; every refusal carries a reason of the
//! list; no thread panics; the server serves normally afterwards.
//!
//! RPCs that end the caller's session or account (Logout, DeleteAccount,
//! RevokeSession, ChangePassword) get a fresh account per message. An RPC
//! that changed the cast (a member removed, a role changed, a key revoked,
//! the allowlist or the workspace's deletion) is noticed after its batch
//! and the cast is assembled again. Replay a failure with the seed its
//! report prints: `OCHRE_FUZZ_SEED=<seed>`.

mod cast;

use std::collections::BTreeSet;

use ochre_sdk::access::{ACCESS_RULES, Rule};
use ochre_sdk::v1::{GetServerInfoRequest, WhoAmIRequest};
use ochre_tests::{
    fuzz::{self, Call, Outcome, Rpc, Shape, budget, message_for, panics, rpcs, seed},
    matrix::{CallerKind, Expect, expectation},
    prelude::*,
};
use tonic_health::pb::HealthCheckRequest;

use self::cast::Cast;

/// RPCs that end the caller's session or account: one fresh account each
/// message.
const THROWAWAY: &[&str] = &[
    "/ochre.v1.AuthService/Logout",
    "/ochre.v1.AuthService/DeleteAccount",
    "/ochre.v1.AuthService/RevokeSession",
    "/ochre.v1.AuthService/ChangePassword",
];

/// Messages per caller for an RPC the gate refuses it, and per user for a
/// throwaway RPC.
const REFUSED_EACH: usize = 10;
const THROWAWAY_EACH: usize = 3;

/// How many messages `caller` sends each RPC of `rpcs` (0: not called), so
/// that the total is at least the budget.
fn plan(rpcs: &[Rpc], caller: CallerKind) -> Vec<usize> {
    let admitted = |r: &Rpc| expectation(r.rule, caller) != Expect::Unchecked;
    let throwaway = |r: &Rpc| THROWAWAY.contains(&r.path) && !caller.is_api_key();
    let refused = |r: &Rpc| matches!(expectation(r.rule, caller), Expect::Refused(_));
    let fixed: usize = rpcs
        .iter()
        .map(|r| match () {
            _ if throwaway(r) => THROWAWAY_EACH,
            _ if refused(r) => REFUSED_EACH,
            _ => 0,
        })
        .sum();
    let open = rpcs
        .iter()
        .filter(|r| admitted(r) && !refused(r) && !throwaway(r))
        .count();
    let share = budget().saturating_sub(fixed).div_ceil(open.max(1));
    rpcs.iter()
        .map(|r| match () {
            _ if !admitted(r) => 0,
            _ if throwaway(r) => THROWAWAY_EACH,
            _ if refused(r) => REFUSED_EACH,
            _ => share,
        })
        .collect()
}

fn failures(outcomes: &[Outcome]) -> usize {
    outcomes.iter().filter(|o| o.problem.is_some()).count()
}

/// The server still serves: health says SERVING, no thread panicked, and
/// a normal RPC answers.
async fn still_serving(app: &TestApp) {
    let health = app
        .client::<HealthClient>()
        .check(HealthCheckRequest::default())
        .await
        .expect("health check");
    assert_eq!(health.into_inner().status, 1, "health is not SERVING");
    app.client::<SystemClient>()
        .get_server_info(GetServerInfoRequest::default())
        .await
        .expect("GetServerInfo after the fuzz");
    let panics = panics();
    assert!(
        panics.is_empty(),
        "{} panics:\n{}",
        panics.len(),
        panics.join("\n")
    );
}

/// Fuzzes `rpcs` as the cast's `callers` (member or key callers), one RPC
/// at a time, re-assembling the cast when an RPC changed it.
async fn fuzz_as(app: &TestApp, keys: bool, roles: &[Role]) -> Vec<Outcome> {
    fuzz::watch_panics();
    let seed = seed();
    let mut cast = Cast::assemble(app).await;
    let rpcs = rpcs();
    let kinds: Vec<CallerKind> = cast
        .callers(keys)
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| matches!(k, CallerKind::Member(r) | CallerKind::ApiKey(r) if roles.contains(r)))
        .collect();
    let plans: Vec<Vec<usize>> = kinds.iter().map(|k| plan(&rpcs, *k)).collect();
    let mut outcomes = Vec::new();
    let mut rebuilt = 0;
    for (i, rpc) in rpcs.iter().enumerate() {
        // One caller at a time: an RPC may change the cast (a role, a
        // member, a key), which is checked before the next caller goes.
        for (c, kind) in kinds.iter().enumerate() {
            let Some((_, token)) = cast.callers(keys).into_iter().find(|(k, _)| k == kind) else {
                continue;
            };
            let mut calls = Vec::new();
            for index in 0..plans[c][i] {
                let token = if THROWAWAY.contains(&rpc.path) && !keys && fuzz::only().is_none() {
                    signup_and_login(app, &unique_email()).await.access_token
                } else {
                    token.clone()
                };
                calls.push(Call {
                    rpc: rpc.clone(),
                    caller: *kind,
                    token: Some(token),
                    org: Some(cast.org.clone()),
                    index,
                });
            }
            outcomes.extend(fuzz::run(&app.channel, seed, &cast.known, calls).await);
            if let Some(why) = cast.broken(app).await {
                tracing::info!(rpc = rpc.short(), %why, "the fuzz changed the cast: assembling it again");
                cast = Cast::assemble(app).await;
                rebuilt += 1;
            }
        }
    }
    assert!(rebuilt <= 20, "the cast was rebuilt {rebuilt} times");
    outcomes
}

fn assert_budget(outcomes: &[Outcome], callers: &[&str]) {
    if fuzz::only().is_some() {
        return;
    }
    for caller in callers {
        let sent = outcomes.iter().filter(|o| o.caller == *caller).count();
        assert!(sent >= budget(), "{caller} sent {sent} messages");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_rpc_answers_anonymous_random_and_mutated_messages_precisely() {
    fuzz::watch_panics();
    let app = spawn_app().await;
    let seed = seed();
    let public: Vec<Rpc> = rpcs()
        .into_iter()
        .filter(|r| r.rule == Rule::Public)
        .collect();
    let each = budget().div_ceil(public.len());
    let calls: Vec<Call> = public
        .iter()
        .flat_map(|rpc| {
            (0..each).map(|index| Call {
                rpc: rpc.clone(),
                caller: CallerKind::Anonymous,
                token: None,
                org: None,
                index,
            })
        })
        .collect();
    let known = fuzz::Known {
        ids: vec![uuid::Uuid::new_v4().to_string()],
        emails: vec![unique_email()],
    };
    let outcomes = fuzz::run(&app.channel, seed, &known, calls).await;
    assert_eq!(failures(&outcomes), 0, "{}", fuzz::report(seed, &outcomes));
    assert_budget(&outcomes, &["anon"]);
    still_serving(&app).await;
}

/// Fuzzes every RPC as the `roles` of the cast's members (or API keys),
/// checks every answer and that the server still serves.
async fn fuzz_roles(keys: bool, roles: &[Role], labels: &[&str]) {
    let app = spawn_app().await;
    let outcomes = fuzz_as(&app, keys, roles).await;
    let report = fuzz::report(seed(), &outcomes);
    assert_eq!(failures(&outcomes), 0, "{report}");
    assert_budget(&outcomes, labels);
    still_serving(&app).await;
    let me = signup_and_login(&app, &unique_email()).await;
    app.client::<AuthClient>()
        .who_am_i(with_auth(WhoAmIRequest::default(), &me.access_token, None))
        .await
        .expect("WhoAmI after the fuzz");
}

// Two roles per run (one for the admin key) keep each run short and let
// nextest spread them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_owners_and_admins_random_and_mutated_messages_precisely() {
    fuzz_roles(false, &[Role::Owner, Role::Admin], &["owner", "admin"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_agents_and_light_agents_random_and_mutated_messages_precisely() {
    fuzz_roles(false, &[Role::Agent, Role::LightAgent], &["agent", "light"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_an_admin_api_keys_random_and_mutated_messages_precisely() {
    fuzz_roles(true, &[Role::Admin], &["k:admin"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_agent_and_light_agent_api_keys_random_and_mutated_messages_precisely() {
    fuzz_roles(
        true,
        &[Role::Agent, Role::LightAgent],
        &["k:agent", "k:light"],
    )
    .await;
}

#[test]
fn the_fuzz_covers_every_rpc_of_the_contract_from_the_descriptors() {
    let fuzzed: BTreeSet<&str> = rpcs().iter().map(|r| r.path).collect();
    let contract: BTreeSet<&str> = ACCESS_RULES.iter().map(|m| m.method).collect();
    assert_eq!(fuzzed, contract);
    for caller in [
        CallerKind::Member(Role::Owner),
        CallerKind::Member(Role::LightAgent),
        CallerKind::ApiKey(Role::LightAgent),
    ] {
        let plan = plan(&rpcs(), caller);
        assert!(plan.iter().sum::<usize>() >= budget(), "{}", caller.label());
        for (rpc, n) in rpcs().iter().zip(&plan) {
            if rpc.rule != Rule::Public {
                assert!(*n > 0, "{} sends nothing to {}", caller.label(), rpc.path);
            }
        }
    }
    for path in THROWAWAY {
        assert!(contract.contains(path), "{path} is not in the contract");
    }
}

#[test]
fn the_same_seed_draws_the_same_messages_of_every_shape() {
    let known = fuzz::Known {
        ids: vec![uuid::Uuid::new_v4().to_string()],
        emails: vec!["FAKE@fuzz.test".to_owned()],
    };
    let mut shapes = BTreeSet::new();
    for rpc in rpcs() {
        for index in 0..20 {
            let a = message_for(7, &rpc, "owner", index, &known);
            assert_eq!(
                a,
                message_for(7, &rpc, "owner", index, &known),
                "{}",
                rpc.path
            );
            shapes.insert(format!("{:?}", Shape::of(index)));
        }
        let differ = (0..20).any(|i| {
            message_for(7, &rpc, "owner", i, &known) != message_for(8, &rpc, "owner", i, &known)
        });
        assert!(differ, "{}: the seed changes nothing", rpc.path);
    }
    assert_eq!(shapes.len(), 3);
}
