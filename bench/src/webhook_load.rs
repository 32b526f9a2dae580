//! The load side of `ochre-bench webhook-ingest`: signed GitHub
//! deliveries, workers that send them over HTTP/1.1, and what came back.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, ensure};
use hdrhistogram::Histogram;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use tokio::task::JoinHandle;

use crate::webhook_ingest::{BODY_SIZE, PHASE_LIMIT, SAMPLES};

/// One delivery, signed, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) id: String,
    pub(crate) body: Vec<u8>,
    pub(crate) signature: String,
}

/// A GitHub `issues` payload of exactly [`BODY_SIZE`] bytes.
///
/// Every body is distinct (it names its delivery, as real events differ):
/// the ingress treats an identical signed GitHub body as a replay.
pub(crate) fn issue_body(n: usize, id: &str) -> anyhow::Result<Vec<u8>> {
    let head = format!(
        r#"{{"action":"opened","issue":{{"number":{n},"title":"Bench issue {n} ({id})","state":"open","user":{{"login":"octocat","id":1}},"labels":[{{"name":"bug"}}],"body":""#
    );
    let tail = r#""},"repository":{"id":1296269,"full_name":"acme/widgets","private":false},"sender":{"login":"octocat","id":1}}"#;
    let pad = BODY_SIZE
        .checked_sub(head.len() + tail.len())
        .context("the payload's fields exceed the body size")?;
    let mut body = head.into_bytes();
    body.extend(std::iter::repeat_n(b'x', pad));
    body.extend_from_slice(tail.as_bytes());
    ensure!(body.len() == BODY_SIZE);
    Ok(body)
}

pub(crate) fn delivery(secret: &str, id: String, n: usize) -> anyhow::Result<Delivery> {
    let body = issue_body(n, &id)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).context("an HMAC key")?;
    mac.update(&body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    Ok(Delivery {
        id,
        body,
        signature,
    })
}

/// `count` distinct deliveries whose ids start with `prefix`.
pub(crate) fn deliveries(
    secret: &str,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<Delivery>> {
    (0..count)
        .map(|n| {
            let id = format!("{prefix}-{n:07}-{}", uuid::Uuid::new_v4());
            delivery(secret, id, n)
        })
        .collect()
}

/// What one phase's requests got back.
#[derive(Debug, Clone)]
pub(crate) struct Outcomes {
    /// Every request, microseconds.
    pub(crate) all: Histogram<u64>,
    /// "200 accepted", "200 duplicate", "500", "transport error", ...
    pub(crate) answers: BTreeMap<String, u64>,
    /// A few non-200 answers verbatim.
    pub(crate) samples: Vec<String>,
}

impl Outcomes {
    pub(crate) fn new() -> Self {
        Outcomes {
            all: Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds"),
            answers: BTreeMap::new(),
            samples: Vec::new(),
        }
    }

    pub(crate) fn merge(&mut self, other: &Outcomes) {
        self.all.add(&other.all).expect("same bounds");
        for (answer, n) in &other.answers {
            *self.answers.entry(answer.clone()).or_default() += n;
        }
        for sample in &other.samples {
            if self.samples.len() < SAMPLES {
                self.samples.push(sample.clone());
            }
        }
    }

    pub(crate) fn count(&self, answer: &str) -> u64 {
        self.answers.get(answer).copied().unwrap_or(0)
    }

    /// Answers that were not HTTP 200.
    pub(crate) fn non_200(&self) -> u64 {
        self.answers
            .iter()
            .filter(|(answer, _)| !answer.starts_with("200 "))
            .map(|(_, n)| n)
            .sum()
    }

    pub(crate) fn record(&mut self, elapsed: Duration, answer: String, sample: Option<String>) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.all.saturating_record(micros);
        *self.answers.entry(answer).or_default() += 1;
        if let Some(sample) = sample
            && self.samples.len() < SAMPLES
        {
            self.samples.push(sample);
        }
    }
}

/// One measured phase.
#[derive(Debug)]
pub(crate) struct Phase {
    pub(crate) secs: f64,
    pub(crate) out: Outcomes,
}

impl Phase {
    pub(crate) fn rate(&self) -> f64 {
        self.out.all.len() as f64 / self.secs
    }
}

/// Sends one delivery; the answer's label and, for a non-200, a sample.
pub(crate) async fn send(
    client: &reqwest::Client,
    url: &str,
    d: &Delivery,
) -> (String, Option<String>) {
    let result = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-github-event", "issues")
        .header("x-github-delivery", &d.id)
        .header("x-hub-signature-256", &d.signature)
        .body(d.body.clone())
        .send()
        .await;
    let response = match result {
        Ok(response) => response,
        Err(e) => return ("transport error".to_owned(), Some(format!("{e}"))),
    };
    let code = response.status();
    let text = match response.text().await {
        Ok(text) => text,
        Err(e) => return (format!("{code} unread body"), Some(format!("{e}"))),
    };
    if code != reqwest::StatusCode::OK {
        let head: String = text.chars().take(300).collect();
        return (code.as_u16().to_string(), Some(format!("{code}: {head}")));
    }
    let status = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_owned));
    match status {
        Some(status) => (format!("200 {status}"), None),
        None => {
            let head: String = text.chars().take(300).collect();
            ("200 unreadable".to_owned(), Some(format!("200: {head}")))
        }
    }
}

pub(crate) async fn worker(
    client: reqwest::Client,
    url: Arc<str>,
    work: Arc<Vec<Delivery>>,
    next: Arc<AtomicUsize>,
) -> Outcomes {
    let mut out = Outcomes::new();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(d) = work.get(i) else {
            break;
        };
        let start = Instant::now();
        let (answer, sample) = send(&client, &url, d).await;
        out.record(start.elapsed(), answer, sample);
    }
    out
}

/// Sends every delivery of `work` once, `workers` at a time.
pub(crate) async fn phase(
    workers: usize,
    client: &reqwest::Client,
    url: &str,
    work: Vec<Delivery>,
) -> anyhow::Result<Phase> {
    let url: Arc<str> = Arc::from(url);
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<JoinHandle<Outcomes>> = (0..workers)
        .map(|_| {
            tokio::spawn(worker(
                client.clone(),
                url.clone(),
                work.clone(),
                next.clone(),
            ))
        })
        .collect();
    let mut out = Outcomes::new();
    let joined = tokio::time::timeout(PHASE_LIMIT, async {
        for task in tasks {
            out.merge(&task.await.context("load worker")?);
        }
        anyhow::Ok(())
    })
    .await;
    joined.with_context(|| format!("a phase took more than {} s", PHASE_LIMIT.as_secs()))??;
    Ok(Phase {
        secs: start.elapsed().as_secs_f64(),
        out,
    })
}
