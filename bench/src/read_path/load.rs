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

/// One open-loop call's outcome: code, latency from the intended start,
/// wrong answer.
type Outcome = (Code, Duration, bool);

/// Open loop: GetConversation started at `rate` per second for `duration`
/// (round-robin over `channels`), however long earlier calls take. A
/// dedicated thread keeps the schedule (`thread::sleep`, finer than the
/// tokio timer's millisecond); each call runs as a task on this runtime and
/// its latency counts from its intended start time. `secs` of the result is
/// the scheduled window, so `rate()` is the achieved start rate.
pub async fn open(
    channels: &[Channel],
    t: &Target,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let handle = tokio::runtime::Handle::current();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Outcome>();
    let (channels, target) = (channels.to_vec(), t.clone());
    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let schedule = std::thread::spawn(move || {
        let mut rng = StdRng::seed_from_u64(7);
        let start = Instant::now();
        let end = start + duration;
        for k in 0u32.. {
            let intended = start + interval * k;
            if intended >= end {
                break;
            }
            if let Some(wait) = intended.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let channel = channels[k as usize % channels.len()].clone();
            let (t, tx) = (target.clone(), tx.clone());
            let id = t.ids[rng.random_range(0..t.ids.len())].clone();
            handle.spawn(async move {
                let mut client = ConversationClient::on(channel);
                let (code, wrong) = call(&mut client, &t, Rpc::Get, &id).await;
                let _ = tx.send((code, intended.elapsed(), wrong));
            });
        }
    });
    let collect = async {
        let mut stats = Stats::new();
        while let Some((code, latency, wrong)) = rx.recv().await {
            stats.record(code, latency);
            stats.wrong += u64::from(wrong);
        }
        stats
    };
    let stats = tokio::time::timeout(duration + Duration::from_secs(60), collect)
        .await
        .context("open-loop calls still unanswered 60 s after the schedule ended")?;
    schedule
        .join()
        .map_err(|_| anyhow::anyhow!("the schedule thread panicked"))?;
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
