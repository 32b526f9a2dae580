//! The load: closed-loop workers (each waits for its answer before the next
//! call) and an open-loop fixed-rate schedule whose latencies are measured
//! from each call's intended start, so a stalled server or generator shows
//! up in the percentiles instead of silently lowering the offered rate.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use ochre_sdk::v1::{AddMessageRequest, GetConversationRequest, MessageKind};
use ochre_tests::{
    clients::{ConversationClient, GrpcClient as _},
    identity::{code_of, with_auth},
};
use rand::{Rng as _, SeedableRng as _, rngs::StdRng};
use tonic::{Code, transport::Channel};

use crate::stats::{self, Measured, Stats};

/// The agent's token, its org and the org's conversations.
#[derive(Debug, Clone)]
pub struct Target {
    pub token: String,
    pub org: String,
    pub ids: Arc<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rpc {
    /// GetConversation of a random conversation.
    Get,
    /// AddMessage: a 200-byte outbound reply to a random conversation.
    Add,
}

/// How the requests in flight are spread: HTTP/2 connections × workers on
/// each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub channels: usize,
    pub per_channel: usize,
}

impl Shape {
    pub fn in_flight(self) -> usize {
        self.channels * self.per_channel
    }

    pub fn label(self) -> String {
        format!("{} conn × {} in flight", self.channels, self.per_channel)
    }
}

/// The shapes tried for the closed-loop maximum: 32 in flight each.
pub const SHAPES: [Shape; 3] = [
    Shape {
        channels: 4,
        per_channel: 8,
    },
    Shape {
        channels: 1,
        per_channel: 32,
    },
    Shape {
        channels: 8,
        per_channel: 4,
    },
];

/// A 200-byte reply body.
pub fn body() -> String {
    let body = format!(
        "{:-<200}",
        "Thanks for your patience: your order ships today. "
    );
    debug_assert_eq!(body.len(), 200);
    body
}

/// One call of `rpc` on conversation `id`: its code, and whether a
/// successful answer was the wrong one.
async fn call(client: &mut ConversationClient, t: &Target, rpc: Rpc, id: &str) -> (Code, bool) {
    match rpc {
        Rpc::Get => {
            let request = GetConversationRequest {
                conversation_id: id.to_owned(),
            };
            let result = client
                .get_conversation(with_auth(request, &t.token, Some(&t.org)))
                .await;
            let code = code_of(&result);
            let wrong =
                result.is_ok_and(|r| r.into_inner().conversation.is_none_or(|c| c.id != id));
            (code, wrong)
        }
        Rpc::Add => {
            let request = AddMessageRequest {
                conversation_id: id.to_owned(),
                kind: MessageKind::OutboundReply.into(),
                body: body(),
                ..Default::default()
            };
            let result = client
                .add_message(with_auth(request, &t.token, Some(&t.org)))
                .await;
            let code = code_of(&result);
            let wrong = result.is_ok_and(|r| {
                r.into_inner()
                    .message
                    .is_none_or(|m| m.conversation_id != id || m.body.len() != 200)
            });
            (code, wrong)
        }
    }
}

/// One GetConversation of `id`, which must succeed with that conversation
/// (the check around the h2load run, which cannot read gRPC statuses).
pub async fn check_get(channel: Channel, t: &Target, id: &str) -> anyhow::Result<()> {
    let mut client = ConversationClient::on(channel);
    match call(&mut client, t, Rpc::Get, id).await {
        (Code::Ok, false) => Ok(()),
        (code, wrong) => anyhow::bail!("GetConversation answered {code:?} (wrong answer: {wrong})"),
    }
}

async fn worker(channel: Channel, t: Target, rpc: Rpc, seed: u64, until: Instant) -> Stats {
    let mut client = ConversationClient::on(channel);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stats = Stats::new();
    while Instant::now() < until {
        let id = t.ids[rng.random_range(0..t.ids.len())].clone();
        let start = Instant::now();
        let (code, wrong) = call(&mut client, &t, rpc, &id).await;
        stats.record(code, start.elapsed());
        stats.wrong += u64::from(wrong);
    }
    stats
}

/// Closed loop: `shape.per_channel` workers on each of `channels` for
/// `duration`.
pub async fn closed(
    channels: &[Channel],
    shape: Shape,
    t: &Target,
    rpc: Rpc,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let n = shape.channels.min(channels.len()).max(1);
    stats::run_workers(n * shape.per_channel, duration, |i, until| {
        let channel = channels[i % n].clone();
        tokio::spawn(worker(channel, t.clone(), rpc, i as u64 + 1, until))
    })
    .await
}

/// Open-loop callers: each keeps its own share of the schedule, so a slow
/// answer delays only that caller's next starts, and those count from their
/// intended start time all the same.
const OPEN_CALLERS: usize = 64;

/// Open loop: GetConversation started at `rate` per second for `duration`
/// (round-robin over `raws`, lean HTTP/2 connections: see `super::raw`),
/// however long earlier calls take. Call `k` is due at `k / rate`;
/// [`OPEN_CALLERS`] tasks on this runtime take every `OPEN_CALLERS`-th
/// call each, sleep until it is due (the tokio timer: at most a
/// millisecond late) and make it, and its latency counts from when it was
/// due, so a stalled server or generator shows in the percentiles (as in
/// wrk2) instead of lowering the offered rate. Timer-driven callers cost
/// the generator far less CPU per call than a schedule thread spawning a
/// task per call, and the generator shares the cores with what it
/// measures (run it with [`super::open::on_own_thread`]: 42–48 µs of CPU a
/// call where the bench's two-thread runtime took 56–60, h2load 29–30). `secs` of the result is the scheduled window, so
/// `rate()` is the achieved start rate.
pub async fn open(
    raws: &[super::raw::Raw],
    t: &Target,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let calls = (duration.as_secs_f64() * rate.max(1.0)).floor() as usize;
    let start = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..OPEN_CALLERS.min(calls.max(1)))
        .map(|c| {
            let (raws, t) = (raws.to_vec(), t.clone());
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(7 + c as u64);
                let mut stats = Stats::new();
                for k in (c..calls).step_by(OPEN_CALLERS) {
                    let due = start + interval * k as u32;
                    tokio::time::sleep_until(due).await;
                    let id = &t.ids[rng.random_range(0..t.ids.len())];
                    let (code, wrong) = super::raw::get(&raws[k % raws.len()], &t, id).await;
                    stats.record(code, due.elapsed());
                    stats.wrong += u64::from(wrong);
                }
                stats
            })
        })
        .collect();
    let mut stats = Stats::new();
    let all = async {
        for task in tasks {
            stats.merge(&task.await.context("an open-loop caller")?);
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(duration + Duration::from_secs(60), all)
        .await
        .context("open-loop calls still unanswered 60 s after the schedule ended")??;
    Ok(Measured {
        secs: duration.as_secs_f64(),
        stats,
    })
}

/// Successful calls per second.
pub fn ok_rate(m: &Measured) -> f64 {
    if m.secs > 0.0 {
        m.stats.ok.len() as f64 / m.secs
    } else {
        0.0
    }
}
