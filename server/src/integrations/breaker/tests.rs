//! The breaker's policy, driven by an explicit clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const P: &str = "github";

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A call at `at` with `outcome`; panics if the breaker refuses it.
fn call(b: &Breakers, t0: Instant, at: f64, outcome: Outcome) {
    b.allow_at(P, t0 + secs(at))
        .expect("the breaker lets the call through")
        .report_at(t0 + secs(at), outcome);
}

/// A breaker opened at t0 + 1 s by consecutive failures.
fn opened() -> (Breakers, Instant) {
    let (b, t0) = (Breakers::default(), Instant::now());
    for _ in 0..5 {
        call(&b, t0, 1.0, Outcome::Failure);
    }
    assert!(b.is_open_at(P, t0 + secs(1.0)));
    (b, t0)
}

fn refused(b: &Breakers, t0: Instant, at: f64) -> Duration {
    b.allow_at(P, t0 + secs(at))
        .expect_err("the breaker refuses the call")
        .retry_after
}

#[test]
fn the_policy_defaults_follow_resilience4j() {
    let p = BreakerPolicy::default();
    assert_eq!(p.failure_rate_percent, 50);
    assert_eq!(p.minimum_calls, 10);
    assert_eq!(p.consecutive_failures, 5);
    assert_eq!(p.open_for, secs(60.0));
    assert_eq!(p.window, secs(60.0));
    assert_eq!(p.max_retry_after, secs(3600.0));
}

#[test]
fn half_failures_over_the_minimum_call_count_open_the_breaker() {
    let (b, t0) = (Breakers::default(), Instant::now());
    for i in 0..9 {
        let o = if i % 2 == 0 {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        call(&b, t0, f64::from(i), o);
    }
    assert!(!b.is_open_at(P, t0 + secs(9.0)), "4 of 9 calls failed");
    call(&b, t0, 9.0, Outcome::Failure);
    assert!(
        b.is_open_at(P, t0 + secs(9.0)),
        "5 of 10 calls failed: 50 %"
    );
    assert_eq!(refused(&b, t0, 10.0), secs(59.0));
}

#[test]
fn a_high_failure_rate_below_the_minimum_call_count_does_not_open_it() {
    let (b, t0) = (Breakers::default(), Instant::now());
    let run = [true, true, true, true, false, true, true, true, true];
    for (i, fail) in run.into_iter().enumerate() {
        let o = if fail {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        call(&b, t0, i as f64, o);
    }
    assert!(
        !b.is_open_at(P, t0 + secs(9.0)),
        "8 of 9 failed, never 5 in a row"
    );
    assert!(b.allow_at(P, t0 + secs(9.0)).is_ok());
}

#[test]
fn failures_older_than_the_window_do_not_count() {
    let (b, t0) = (Breakers::default(), Instant::now());
    for _ in 0..4 {
        call(&b, t0, 0.0, Outcome::Failure);
    }
    call(&b, t0, 0.5, Outcome::Success);
    for i in 0..5 {
        call(&b, t0, 61.0 + f64::from(i), Outcome::Success);
    }
    for _ in 0..4 {
        call(&b, t0, 70.0, Outcome::Failure);
    }
    assert!(
        !b.is_open_at(P, t0 + secs(70.0)),
        "the window holds 9 calls of the last 60 s, 4 failed"
    );
}

#[test]
fn consecutive_failures_open_it_whatever_the_rate() {
    let (b, t0) = (Breakers::default(), Instant::now());
    for _ in 0..20 {
        call(&b, t0, 0.0, Outcome::Success);
    }
    for _ in 0..4 {
        call(&b, t0, 1.0, Outcome::Failure);
    }
    assert!(!b.is_open_at(P, t0 + secs(1.0)));
    call(&b, t0, 1.0, Outcome::Failure);
    assert!(b.is_open_at(P, t0 + secs(1.0)), "5 in a row: 5 of 25 calls");
}

#[test]
fn a_success_breaks_a_run_of_failures() {
    let (b, t0) = (Breakers::default(), Instant::now());
    for o in [Outcome::Failure; 4] {
        call(&b, t0, 0.0, o);
    }
    call(&b, t0, 0.0, Outcome::Success);
    for o in [Outcome::Failure; 4] {
        call(&b, t0, 0.0, o);
    }
    assert!(!b.is_open_at(P, t0), "two runs of 4, 9 calls");
}

#[test]
fn an_open_breaker_refuses_every_call_for_open_for() {
    let (b, t0) = opened();
    assert_eq!(refused(&b, t0, 1.0), secs(60.0));
    assert_eq!(refused(&b, t0, 30.0), secs(31.0));
    assert!(refused(&b, t0, 60.9) > Duration::ZERO);
    let probe = b.allow_at(P, t0 + secs(61.0)).unwrap();
    assert!(probe.is_probe(), "after open_for, the call is a probe");
}

#[test]
fn a_half_open_breaker_lets_exactly_one_probe_through_at_a_time() {
    let (b, t0) = opened();
    let probe = b.allow_at(P, t0 + secs(61.0)).unwrap();
    for at in [61.0, 62.0, 75.0] {
        assert_eq!(
            refused(&b, t0, at),
            b.policy().probe_wait,
            "others are refused while the probe is in flight"
        );
    }
    probe.report_at(t0 + secs(75.0), Outcome::Success);
}

#[test]
fn the_probes_success_closes_the_breaker_with_an_empty_window() {
    let (b, t0) = opened();
    b.allow_at(P, t0 + secs(61.0))
        .unwrap()
        .report_at(t0 + secs(62.0), Outcome::Success);
    let many: Vec<_> = (0..3)
        .map(|_| b.allow_at(P, t0 + secs(62.0)).unwrap())
        .collect();
    assert!(many.iter().all(|p| !p.is_probe()), "closed: every call");
    for p in many {
        p.report_at(t0 + secs(62.0), Outcome::Failure);
    }
    call(&b, t0, 62.0, Outcome::Failure);
    assert!(
        !b.is_open_at(P, t0 + secs(62.0)),
        "the failures before the probe are forgotten: 4 in a row"
    );
}

#[test]
fn the_probes_failure_reopens_the_breaker_for_a_full_open_for() {
    let (b, t0) = opened();
    b.allow_at(P, t0 + secs(61.0))
        .unwrap()
        .report_at(t0 + secs(70.0), Outcome::Failure);
    assert_eq!(refused(&b, t0, 70.0), secs(60.0), "one failure reopens it");
    assert!(refused(&b, t0, 129.9) > Duration::ZERO);
    assert!(b.allow_at(P, t0 + secs(130.0)).unwrap().is_probe());
}

#[test]
fn an_abandoned_probe_frees_the_probe_slot() {
    let (b, t0) = opened();
    let probe = b.allow_at(P, t0 + secs(61.0)).unwrap();
    assert!(b.allow_at(P, t0 + secs(61.0)).is_err());
    drop(probe); // its future was cancelled: nothing reported
    let next = b.allow_at(P, t0 + secs(62.0)).unwrap();
    assert!(next.is_probe(), "the next caller probes");
    assert!(
        b.allow_at(P, t0 + secs(62.0)).is_err(),
        "still one at a time"
    );
}

#[test]
fn a_leaked_probe_frees_the_slot_after_the_probe_timeout_and_its_late_report_is_ignored() {
    let (b, t0) = opened();
    let leaked = b.allow_at(P, t0 + secs(61.0)).unwrap();
    assert!(b.allow_at(P, t0 + secs(90.9)).is_err());
    let next = b.allow_at(P, t0 + secs(91.0)).unwrap();
    assert!(next.is_probe());
    leaked.report_at(t0 + secs(92.0), Outcome::Success);
    assert!(
        b.allow_at(P, t0 + secs(92.0)).is_err(),
        "the timed-out probe's success does not close it"
    );
    next.report_at(t0 + secs(93.0), Outcome::Success);
    assert!(b.allow_at(P, t0 + secs(93.0)).is_ok());
}

#[test]
fn a_slow_call_admitted_before_the_breaker_opened_cannot_close_it() {
    let (b, t0) = (Breakers::default(), Instant::now());
    let slow = b.allow_at(P, t0).unwrap();
    for _ in 0..5 {
        call(&b, t0, 1.0, Outcome::Failure);
    }
    slow.report_at(t0 + secs(2.0), Outcome::Success);
    assert!(b.is_open_at(P, t0 + secs(2.0)));
}

#[test]
fn a_429_with_retry_after_seconds_opens_it_at_once_until_then() {
    let (b, t0, wall) = (Breakers::default(), Instant::now(), SystemTime::now());
    b.allow_at(P, t0)
        .unwrap()
        .answered_at(t0, wall, 429, Some("120"));
    assert_eq!(refused(&b, t0, 0.0), secs(120.0), "one 429 is enough");
    assert!(refused(&b, t0, 119.9) > Duration::ZERO);
    assert!(b.allow_at(P, t0 + secs(120.0)).unwrap().is_probe());
}

#[test]
fn a_short_retry_after_still_opens_it_for_open_for() {
    let (b, t0, wall) = (Breakers::default(), Instant::now(), SystemTime::now());
    b.allow_at(P, t0)
        .unwrap()
        .answered_at(t0, wall, 429, Some("5"));
    assert_eq!(refused(&b, t0, 0.0), secs(60.0));
}

#[test]
fn a_429_with_an_http_date_holds_it_open_until_that_date() {
    let (b, t0) = (Breakers::default(), Instant::now());
    let wall = SystemTime::UNIX_EPOCH + secs(1_800_000_000.0);
    let date = chrono::DateTime::<chrono::Utc>::from(wall + secs(300.0))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    b.allow_at(P, t0)
        .unwrap()
        .answered_at(t0, wall, 429, Some(&date));
    assert_eq!(refused(&b, t0, 0.0), secs(300.0), "{date}");
    assert!(b.allow_at(P, t0 + secs(300.0)).is_ok());
}

#[test]
fn a_429_arriving_while_open_can_only_lengthen_the_open_time() {
    let (b, t0, wall) = (Breakers::default(), Instant::now(), SystemTime::now());
    let late = b.allow_at(P, t0).unwrap();
    for _ in 0..5 {
        call(&b, t0, 0.0, Outcome::Failure);
    }
    late.answered_at(t0 + secs(1.0), wall, 429, Some("600"));
    assert_eq!(refused(&b, t0, 1.0), secs(600.0));
}

#[test]
fn a_huge_retry_after_is_capped_at_an_hour() {
    let (b, t0, wall) = (Breakers::default(), Instant::now(), SystemTime::now());
    b.allow_at(P, t0)
        .unwrap()
        .answered_at(t0, wall, 429, Some("99999999999999999999999999"));
    assert_eq!(refused(&b, t0, 0.0), secs(3600.0));
    assert!(b.allow_at(P, t0 + secs(3600.0)).is_ok());
}

#[test]
fn a_garbage_retry_after_counts_as_one_failure_only() {
    let (b, t0, wall) = (Breakers::default(), Instant::now(), SystemTime::now());
    for v in [Some("soon"), Some("-5"), Some("1.5"), None] {
        b.allow_at(P, t0).unwrap().answered_at(t0, wall, 429, v);
    }
    assert!(!b.is_open_at(P, t0), "4 failures in a row");
    b.allow_at(P, t0)
        .unwrap()
        .answered_at(t0, wall, 429, Some("0"));
    assert_eq!(refused(&b, t0, 0.0), secs(60.0), "the fifth opens it");
}

#[test]
fn only_provider_wide_http_answers_count_as_failures() {
    let (b, t0, wall) = (Breakers::default(), Instant::now(), SystemTime::now());
    for status in [400, 401, 403, 404, 200, 400, 400, 400, 400, 400, 400] {
        b.allow_at(P, t0)
            .unwrap()
            .answered_at(t0, wall, status, None);
    }
    assert!(!b.is_open_at(P, t0), "4xx: one tenant's grant");
    for status in [500, 502, 503, 504, 500] {
        b.allow_at(P, t0)
            .unwrap()
            .answered_at(t0, wall, status, None);
    }
    assert!(b.is_open_at(P, t0), "5 server errors in a row");
}

#[test]
fn breakers_are_per_provider() {
    let (b, t0) = opened();
    assert!(b.allow_at(P, t0 + secs(2.0)).is_err());
    let other = b.allow_at("hubspot", t0 + secs(2.0)).unwrap();
    assert!(!other.is_probe());
    other.report_at(t0 + secs(2.0), Outcome::Success);
    assert!(!b.is_open_at("hubspot", t0 + secs(2.0)));
}

#[test]
fn retry_after_parses_seconds_and_http_dates_and_ignores_the_rest() {
    let hour = secs(3600.0);
    let now = SystemTime::UNIX_EPOCH + secs(784_111_777.0); // Sun, 06 Nov 1994 08:49:37 GMT
    assert_eq!(parse_retry_after("120", now, hour), Some(secs(120.0)));
    assert_eq!(parse_retry_after(" 7 ", now, hour), Some(secs(7.0)));
    assert_eq!(parse_retry_after("7200", now, hour), Some(hour));
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:51:37 GMT", now, hour),
        Some(secs(120.0))
    );
    assert_eq!(
        parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now, hour),
        Some(hour),
        "a day ahead is capped"
    );
    for garbage in [
        "0",
        "-1",
        "1.5",
        "1e3",
        "",
        "tomorrow",
        "Sun, 06 Nov 1994 08:49:37 GMT", // now: not in the future
        "Sat, 05 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 99:49:37 GMT",
    ] {
        assert_eq!(parse_retry_after(garbage, now, hour), None, "{garbage:?}");
    }
}
