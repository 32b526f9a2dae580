//! Rate limits: how many calls a caller, an org or a client address may make.
//!
//! Every RPC's contract names its rate class (`ochre.v1.access`'s
//! `RateClass`); the gate charges the class's limits before any database
//! work: per principal and per org for reads, writes, privileged and budget
//! calls, per client address for the public RPCs. The webhook ingress and
//! the operator routes are limited per address too. Limits are GCRA
//! ([`gcra`]) in this process's memory, or in Postgres where every replica
//! must agree (sign-in, survey answers, budget calls: [`limiter::SHARED`]).
//! [`window`] keeps the fixed-window counters of the survey links.

pub mod config;
pub mod gcra;
pub mod limiter;
pub mod window;

pub use limiter::{Charge, RateLimiter};
pub use window::{WindowLimiter, address_key};
