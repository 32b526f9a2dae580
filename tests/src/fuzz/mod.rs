//! RPC input fuzzing generated from the contract's descriptors
//! (`ochre_sdk::FILE_DESCRIPTOR_SET`): every RPC of every service, so a new
//! RPC is fuzzed without editing anything. Each message is a pure function
//! of (seed, RPC, caller, index): [`message_for`] draws it well-formed
//! ([`generate`]), as a mutation of a well-formed one ([`mutate`]), or as
//! plain random bytes. [`run`] sends them concurrently with a deadline per
//! call, and [`verdict`] is the oracle: never INTERNAL, UNAVAILABLE,
//! UNKNOWN, UNIMPLEMENTED or a deadline; every refusal carries an
//! `ErrorInfo` reason of the server's list with that reason's code (a field
//! reason naming its field); a refusal of the gate is the code the role
//! matrix declares; an OK answer decodes as the declared output type.
//!
//! The seed is `OCHRE_FUZZ_SEED` when set, else random, and every failure
//! report prints it: `OCHRE_FUZZ_SEED=<seed>` replays the same messages,
//! and `OCHRE_FUZZ_ONLY='Service/Method as caller #index'` sends only the
//! one a report names.

pub mod generate;
pub mod mutate;
pub mod pools;
mod run;

use std::{
    hash::{DefaultHasher, Hash as _, Hasher as _},
    sync::{Mutex, OnceLock},
};

use ochre_sdk::access::{ACCESS_RULES, Rule};
use ochre_server::error::Reason;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use rand::{SeedableRng as _, rngs::StdRng};
use tonic::Code;

pub use self::generate::Known;
pub use self::run::{Call, Outcome, only, report, run};
use crate::{errors::Reply, matrix::CallerKind};

/// One RPC of the contract, from the descriptors.
#[derive(Debug, Clone)]
pub struct Rpc {
    /// `/ochre.v1.Service/Method`.
    pub path: &'static str,
    pub rule: Rule,
    pub input: MessageDescriptor,
    pub output: MessageDescriptor,
}

impl Rpc {
    /// `Service/Method`.
    pub fn short(&self) -> &'static str {
        self.path.trim_start_matches("/ochre.v1.")
    }
}

/// Every RPC of every `ochre.v1` service in the descriptor set, with the
/// access rule the contract declares for it.
pub fn rpcs() -> Vec<Rpc> {
    let pool = DescriptorPool::decode(ochre_sdk::FILE_DESCRIPTOR_SET)
        .expect("the SDK's descriptor set decodes");
    let mut out = Vec::new();
    for service in pool.services().filter(|s| s.package_name() == "ochre.v1") {
        for method in service.methods() {
            let path = format!("/{}/{}", service.full_name(), method.name());
            let access = ACCESS_RULES
                .iter()
                .find(|m| m.method == path)
                .unwrap_or_else(|| panic!("{path} has no access rule"));
            out.push(Rpc {
                path: access.method,
                rule: access.rule,
                input: method.input(),
                output: method.output(),
            });
        }
    }
    out.sort_by_key(|r| r.path);
    out
}

/// The run's seed: `OCHRE_FUZZ_SEED`, else a random one.
pub fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| match std::env::var("OCHRE_FUZZ_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .expect("OCHRE_FUZZ_SEED is an unsigned integer"),
        Err(_) => rand::random(),
    })
}

/// How many messages each caller sends in all (`OCHRE_FUZZ_MESSAGES`,
/// default 10,000).
pub fn budget() -> usize {
    std::env::var("OCHRE_FUZZ_MESSAGES")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(10_000)
}

/// What kind of message an index draws: 60 % well-formed, 30 % mutated,
/// 10 % plain random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    WellFormed,
    Mutated,
    RandomBytes,
}

impl Shape {
    pub fn of(index: usize) -> Shape {
        match index % 10 {
            0..=5 => Shape::WellFormed,
            6..=8 => Shape::Mutated,
            _ => Shape::RandomBytes,
        }
    }
}

/// The `index`-th message `caller` sends to `rpc` in the run of `seed`.
pub fn message_for(seed: u64, rpc: &Rpc, caller: &str, index: usize, known: &Known) -> Vec<u8> {
    let mut h = DefaultHasher::new();
    (seed, rpc.path, caller, index).hash(&mut h);
    let mut rng = StdRng::seed_from_u64(h.finish());
    match Shape::of(index) {
        Shape::WellFormed => well_formed(&mut rng, &rpc.input, known),
        Shape::Mutated => {
            let base = well_formed(&mut rng, &rpc.input, known);
            mutate::mutate(&mut rng, &rpc.input, &base)
        }
        Shape::RandomBytes => mutate::random_bytes(&mut rng),
    }
}

fn well_formed(rng: &mut StdRng, desc: &MessageDescriptor, known: &Known) -> Vec<u8> {
    use prost::Message as _;
    let mut generator = generate::Generator::new(rng, known);
    let mut bytes = generator.message(desc).encode_to_vec();
    bytes.extend(generator.extra_map_entries(desc));
    bytes
}

/// Codes no fuzzed call may get: a bug (INTERNAL, UNKNOWN, UNIMPLEMENTED
/// on a declared path, DATA_LOSS), a retry that cannot fix bad input
/// (UNAVAILABLE), or a hang (DEADLINE_EXCEEDED, CANCELLED).
pub const FORBIDDEN: &[Code] = &[
    Code::Internal,
    Code::Unknown,
    Code::Unavailable,
    Code::DeadlineExceeded,
    Code::Cancelled,
    Code::Unimplemented,
    Code::DataLoss,
];

/// What is wrong with an answer of `rpc` to `caller`, if anything.
pub fn verdict(
    rpc: &Rpc,
    caller: CallerKind,
    code: Code,
    reply: &Reply,
    body: &[u8],
) -> Option<String> {
    if FORBIDDEN.contains(&code) {
        return Some(format!("forbidden code: {}", reply.message));
    }
    if code == Code::Ok {
        return DynamicMessage::decode(rpc.output.clone(), body)
            .err()
            .map(|e| {
                format!(
                    "OK answer does not decode as {}: {e}",
                    rpc.output.full_name()
                )
            });
    }
    if let crate::matrix::Expect::Refused(want) = crate::matrix::expectation(rpc.rule, caller)
        && code != want
    {
        return Some(format!(
            "the gate should refuse with {want:?}: {}",
            reply.message
        ));
    }
    let Some(seen) = reply.reason.as_deref() else {
        return Some(format!("no ErrorInfo reason: {}", reply.message));
    };
    let Some(known) = Reason::ALL.iter().find(|r| r.as_str() == seen) else {
        return Some(format!("{seen} is not a reason of the list"));
    };
    if known.code() != code {
        return Some(format!("{seen} answered with {code:?}"));
    }
    // A field reason names its field; so does REQUEST_ID_REUSED.
    let names_field = matches!(known, Reason::FieldRequired | Reason::FieldInvalid);
    let may_name = names_field || *known == Reason::RequestIdReused;
    if (names_field && reply.fields.is_empty()) || (!may_name && !reply.fields.is_empty()) {
        return Some(format!("{seen} with fields {:?}", reply.fields));
    }
    None
}

/// Panics of any thread of this process (the in-process server's
/// handlers included) since [`watch_panics`].
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records every panic of this process (and still prints it as before).
pub fn watch_panics() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current().name().unwrap_or("?").to_owned();
            if let Ok(mut p) = PANICS.lock() {
                p.push(format!("thread '{thread}' panicked at {info}"));
            }
            previous(info);
        }));
    });
}

/// The panics recorded so far.
pub fn panics() -> Vec<String> {
    PANICS.lock().map(|p| p.clone()).unwrap_or_default()
}
