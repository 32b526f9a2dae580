//! The configured limits (`OCHRE_RATE_LIMITS`): a default for every named
//! limit, overridden by a comma-separated list such as
//! `read.principal=100/s:200,sign_in.address=off`.

use std::{collections::BTreeMap, str::FromStr, time::Duration};

/// `count` calls per `period`, at most `burst` at once (GCRA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: u32,
    pub period: Duration,
    pub burst: u32,
}

impl Limit {
    /// The emission interval: the period divided by the count.
    pub fn interval(&self) -> Duration {
        self.period / self.count.max(1)
    }

    /// How far ahead of now a key's TAT may run: `burst` intervals.
    pub fn tolerance(&self) -> Duration {
        self.interval() * self.burst.max(1)
    }
}

impl FromStr for Limit {
    type Err = String;

    /// `N/s`, `N/m`, `N/h` or `N/d`, optionally `:B` for a burst of B (the
    /// burst is N when not given).
    fn from_str(s: &str) -> Result<Self, String> {
        let (rate, burst) = match s.split_once(':') {
            Some((rate, burst)) => (rate, Some(burst)),
            None => (s, None),
        };
        let (count, unit) = rate
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not COUNT/UNIT[:BURST]"))?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|c| (1..=1_000_000).contains(c))
            .ok_or_else(|| format!("`{s}`: the count must be 1 to 1000000"))?;
        let period = match unit.trim() {
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            _ => return Err(format!("`{s}`: the unit must be s, m, h or d")),
        };
        let burst = match burst {
            None => count,
            Some(b) => b
                .trim()
                .parse()
                .ok()
                .filter(|b| (1..=1_000_000).contains(b))
                .ok_or_else(|| format!("`{s}`: the burst must be 1 to 1000000"))?,
        };
        Ok(Limit {
            count,
            period,
            burst,
        })
    }
}

/// Every named limit, its default and what it counts (the README's table is
/// this one).
pub const LIMITS: &[(&str, &str, &str)] = &[
    (
        "read.principal",
        "50/s:200",
        "reads, per caller (user or API key)",
    ),
    ("read.org", "500/s:1000", "reads, per org"),
    ("write.principal", "20/s:50", "writes, per caller"),
    ("write.org", "200/s:400", "writes, per org"),
    (
        "privileged.principal",
        "10/m:10",
        "privileged calls, per caller",
    ),
    ("privileged.org", "60/m:30", "privileged calls, per org"),
    (
        "budget.principal",
        "50/s:100",
        "budget calls, per caller (shared)",
    ),
    ("budget.org", "200/s:400", "budget calls, per org (shared)"),
    (
        "public.address",
        "20/s:50",
        "other public calls, per client address",
    ),
    ("sign_up.address", "10/h:5", "SignUp, per client address"),
    (
        "sign_in.address",
        "30/m:10",
        "Login and CompleteLogin, per client address (shared)",
    ),
    (
        "survey_submit.address",
        "30/m:10",
        "survey answers, per client address (shared)",
    ),
    (
        "webhook.address",
        "100/s:500",
        "webhook deliveries, per client address",
    ),
    (
        "operator.address",
        "60/m:10",
        "operator routes (/cron), per client address",
    ),
];

/// The limits in force: one per name, `None` when turned off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    limits: BTreeMap<&'static str, Option<Limit>>,
}

impl RateLimits {
    /// The defaults with `spec`'s overrides (`name=COUNT/UNIT[:BURST]` or
    /// `name=off`, comma-separated; `off` alone turns every limit off).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut limits = BTreeMap::new();
        for (name, default, _) in LIMITS {
            limits.insert(*name, Some(default.parse()?));
        }
        let spec = spec.trim();
        if spec == "off" {
            limits.values_mut().for_each(|l| *l = None);
            return Ok(RateLimits { limits });
        }
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}` is not NAME=LIMIT"))?;
            let slot = limits
                .iter_mut()
                .find(|(n, _)| **n == name.trim())
                .map(|(_, l)| l)
                .ok_or_else(|| format!("unknown limit `{}`", name.trim()))?;
            *slot = match value.trim() {
                "off" => None,
                v => Some(v.parse()?),
            };
        }
        Ok(RateLimits { limits })
    }

    /// Every limit at its default.
    pub fn defaults() -> Self {
        Self::parse("").unwrap_or_else(|_| RateLimits {
            limits: BTreeMap::new(),
        })
    }

    /// The limit of that name, `None` when off or unknown.
    pub fn get(&self, name: &str) -> Option<Limit> {
        self.limits.get(name).copied().flatten()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses_and_overrides_replace_only_what_they_name() {
        let d = RateLimits::defaults();
        for (name, default, _) in LIMITS {
            assert_eq!(d.get(name), Some(default.parse().unwrap()), "{name}");
        }
        let r = RateLimits::parse("read.principal=5/m, sign_in.address=off").unwrap();
        assert_eq!(
            r.get("read.principal"),
            Some(Limit {
                count: 5,
                period: Duration::from_secs(60),
                burst: 5
            })
        );
        assert_eq!(r.get("sign_in.address"), None);
        assert_eq!(r.get("write.org"), d.get("write.org"));
        assert!(RateLimits::parse("off").unwrap().get("read.org").is_none());
    }

    #[test]
    fn malformed_limits_are_refused_with_the_reason() {
        for (bad, why) in [
            ("nope=1/s", "unknown limit"),
            ("read.org", "NAME=LIMIT"),
            ("read.org=0/s", "count"),
            ("read.org=5/w", "unit"),
            ("read.org=5/s:0", "burst"),
            ("read.org=lots", "COUNT/UNIT"),
        ] {
            let err = RateLimits::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
