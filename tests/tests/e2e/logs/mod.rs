//! Log hygiene: canary values seeded through the real RPCs of the real
//! binary at the most verbose level never reach a log line, raw or encoded.

mod canary;
mod database;
mod suite;
