//! The generic cell rate algorithm (GCRA) kept in this process's memory:
//! one theoretical arrival time (TAT) per key.
//!
//! A limit of `count` per `period` with a burst of `burst` admits a call at
//! `now` when `max(tat, now) + T - now <= burst × T`, where `T = period /
//! count` is the emission interval; the admitted call moves the key's TAT to
//! `max(tat, now) + T`. A refusal says when the next call would be admitted.
//! The same arithmetic runs in SQL for the limits every replica shares
//! (`rate_limit_take()`, migration 0011).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use super::config::Limit;

/// Keys with their TAT, bounded: when a new key finds the table full, keys
/// whose TAT has passed (they would be admitted as new anyway) are dropped,
/// at most once a second; if it is still full, every key is forgotten. A
/// flood of fresh keys can neither grow memory nor lock anyone out; it can
/// only make the limiter forget.
#[derive(Debug)]
pub struct Gcra {
    limit: Limit,
    max_keys: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    tats: HashMap<String, Instant>,
    swept: Option<Instant>,
}

impl Gcra {
    pub fn new(limit: Limit, max_keys: usize) -> Self {
        Gcra {
            limit,
            max_keys,
            table: Mutex::new(Table::default()),
        }
    }

    /// Takes one cell for `key` at `now`: `Ok` when admitted, otherwise the
    /// time until a call would be admitted.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let interval = self.limit.interval();
        let tolerance = self.limit.tolerance();
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Table { tats, swept } = &mut *table;
        if tats.len() >= self.max_keys && !tats.contains_key(key) {
            if swept.is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1)) {
                tats.retain(|_, tat| *tat > now);
                *swept = Some(now);
            }
            if tats.len() >= self.max_keys {
                tats.clear();
            }
        }
        let tat = tats.get(key).copied().unwrap_or(now).max(now);
        let next = tat + interval;
        // Admitted while the new TAT is at most `burst` intervals ahead.
        let ahead = next.saturating_duration_since(now);
        if ahead > tolerance {
            return Err(ahead - tolerance);
        }
        tats.insert(key.to_owned(), next);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn limit(s: &str) -> Limit {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_is_admitted_then_one_call_per_interval() {
        // 10 per second, burst 3: three at once, then one every 100 ms.
        let g = Gcra::new(limit("10/s:3"), 100);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(g.take("k", t0).is_ok());
        }
        let wait = g.take("k", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        assert!(g.take("k", t0 + Duration::from_millis(99)).is_err());
        assert!(g.take("k", t0 + Duration::from_millis(100)).is_ok());
        assert!(g.take("k", t0 + Duration::from_millis(100)).is_err());
        // Idle for a second: the whole burst is back, not more.
        let later = t0 + Duration::from_secs(2);
        for _ in 0..3 {
            assert!(g.take("k", later).is_ok());
        }
        assert!(g.take("k", later).is_err());
    }

    #[test]
    fn keys_are_limited_apart() {
        let g = Gcra::new(limit("1/m"), 100);
        let t0 = Instant::now();
        assert!(g.take("a", t0).is_ok());
        let wait = g.take("a", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(60));
        assert!(g.take("b", t0).is_ok());
    }

    #[test]
    fn a_refused_call_does_not_push_the_next_admission_back() {
        let g = Gcra::new(limit("1/s"), 100);
        let t0 = Instant::now();
        assert!(g.take("k", t0).is_ok());
        for _ in 0..50 {
            assert!(g.take("k", t0 + Duration::from_millis(500)).is_err());
        }
        assert!(g.take("k", t0 + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn a_full_table_never_refuses_a_new_key_and_stays_bounded() {
        let g = Gcra::new(limit("1/h"), 3);
        let t0 = Instant::now();
        for key in ["a", "b", "c"] {
            assert!(g.take(key, t0).is_ok());
        }
        assert!(g.take("a", t0).is_err(), "a counts while the table holds");
        for i in 0..100 {
            assert!(g.take(&format!("new{i}"), t0).is_ok());
            let len = g.table.lock().unwrap().tats.len();
            assert!(len <= 3, "{len} keys");
        }
    }
}
