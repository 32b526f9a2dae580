//! Sending the fuzzed messages: concurrently, each with a deadline, each
//! answer judged by [`super::verdict`].

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use tokio::{sync::Semaphore, task::JoinSet};
use tonic::{Code, transport::Channel};

use super::{Known, Rpc, message_for, verdict};
use crate::{errors::Reply, matrix::CallerKind, matrix::RawCodec};

/// How many calls are in flight at once.
pub const IN_FLIGHT: usize = 16;

/// How long one call may take before it counts as a hang.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// One call to make: the `index`-th message of `caller` to `rpc`.
#[derive(Debug, Clone)]
pub struct Call {
    pub rpc: Rpc,
    pub caller: CallerKind,
    pub token: Option<String>,
    /// `x-ochre-org`, sent on RPCs with a `Roles` rule.
    pub org: Option<String>,
    pub index: usize,
}

/// What a call got, and what was wrong with it.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub rpc: &'static str,
    pub caller: &'static str,
    pub index: usize,
    pub code: Code,
    pub message: String,
    /// The request's length and its first bytes in hex.
    pub request: String,
    pub problem: Option<String>,
}

async fn one(channel: Channel, seed: u64, call: Call, known: Arc<Known>) -> Outcome {
    let label = call.caller.label();
    let body = message_for(seed, &call.rpc, label, call.index, &known);
    let shown = body.len().min(48);
    let request = format!("{} bytes: {}", body.len(), hex::encode(&body[..shown]));
    let mut request_msg = tonic::Request::new(body);
    if let Some(token) = &call.token {
        let bearer = format!("Bearer {token}").parse().expect("tokens are ASCII");
        request_msg.metadata_mut().insert("authorization", bearer);
    }
    if let (Some(org), ochre_sdk::access::Rule::Roles(_)) = (&call.org, call.rpc.rule) {
        let org = org.parse().expect("org ids are ASCII");
        request_msg
            .metadata_mut()
            .insert(ochre_sdk::ORG_HEADER, org);
    }
    let path = http::uri::PathAndQuery::from_static(call.rpc.path);
    let mut grpc = tonic::client::Grpc::new(channel);
    let answer = tokio::time::timeout(DEADLINE, async {
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        grpc.unary(request_msg, path, RawCodec).await
    })
    .await;
    let (code, reply, response) = match answer {
        Err(_) => {
            let reply = Reply {
                message: format!("no answer within {DEADLINE:?}"),
                ..Reply::default()
            };
            (Code::DeadlineExceeded, reply, Vec::new())
        }
        Ok(Ok(response)) => (Code::Ok, Reply::default(), response.into_inner()),
        Ok(Err(status)) => (status.code(), Reply::of(&status), Vec::new()),
    };
    let problem = verdict(&call.rpc, call.caller, code, &reply, &response);
    Outcome {
        rpc: call.rpc.short(),
        caller: label,
        index: call.index,
        code,
        message: reply.message,
        request,
        problem,
    }
}

/// `OCHRE_FUZZ_ONLY`: the one call to make (`Service/Method as caller
/// #index`, as a report names it), to replay a failure with its seed.
pub fn only() -> Option<String> {
    std::env::var("OCHRE_FUZZ_ONLY")
        .ok()
        .filter(|o| !o.is_empty())
}

/// Makes every call (or only the one `OCHRE_FUZZ_ONLY` names), [`IN_FLIGHT`] at a time, and returns the outcomes.
pub async fn run(channel: &Channel, seed: u64, known: &Known, calls: Vec<Call>) -> Vec<Outcome> {
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let known = Arc::new(known.clone());
    let mut tasks = JoinSet::new();
    let only = only();
    for call in calls {
        let name = format!(
            "{} as {} #{}",
            call.rpc.short(),
            call.caller.label(),
            call.index
        );
        if only.as_deref().is_some_and(|o| name != o) {
            continue;
        }
        let permit = gate.clone().acquire_owned().await.expect("semaphore open");
        let (channel, known) = (channel.clone(), known.clone());
        tasks.spawn(async move {
            let outcome = one(channel, seed, call, known).await;
            drop(permit);
            outcome
        });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        outcomes.push(done.expect("a fuzz call task"));
    }
    outcomes
}

/// A compact report of a run: the seed, the counts by code, and the first
/// dozen distinct (RPC, code) pairs that failed with one example each.
pub fn report(seed: u64, outcomes: &[Outcome]) -> String {
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for o in outcomes {
        *codes.entry(format!("{:?}", o.code)).or_default() += 1;
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.problem.is_some()).collect();
    let mut out = format!(
        "{} calls, {} failed; seed {seed} (replay: OCHRE_FUZZ_SEED={seed}); codes {codes:?}\n",
        outcomes.len(),
        failed.len()
    );
    let mut seen = BTreeSet::new();
    for o in failed {
        if seen.len() >= 12 {
            break;
        }
        if seen.insert((o.rpc, o.code as i32)) {
            out.push_str(&format!(
                "- {} as {} #{}: {:?} {:?}: {}\n  request {}\n",
                o.rpc,
                o.caller,
                o.index,
                o.code,
                o.message,
                o.problem.as_deref().unwrap_or(""),
                o.request
            ));
        }
    }
    out
}
