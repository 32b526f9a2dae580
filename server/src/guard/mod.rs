//! The input guard: a rule-based prompt-injection screener. Text is
//! normalised ([`normalize`]), then every rule of the rule file
//! ([`rules`], data, versioned) is matched against the normalised text and
//! everything decoded out of it; the weights of the matching rules decide
//! allow / flag / block, and their categories say why.

pub mod normalize;
pub mod rules;

use std::{collections::BTreeSet, sync::Arc};

pub use rules::{Category, RuleError, RuleSet};

/// The rule file compiled into the binary.
pub const EMBEDDED_RULES: &str = include_str!("../../guard/rules.v1.toml");

/// The guard's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Flag,
    Block,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Flag => "flag",
            Verdict::Block => "block",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(Verdict::Allow),
            "flag" => Some(Verdict::Flag),
            "block" => Some(Verdict::Block),
            _ => None,
        }
    }

    /// Flag or block: counts as an attempt.
    pub fn is_flagged(self) -> bool {
        self != Verdict::Allow
    }
}

/// One screening: the verdict, its categories (sorted), the ids of the
/// rules that matched, the score and the rule file's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screening {
    pub verdict: Verdict,
    pub categories: Vec<Category>,
    pub rules: Vec<String>,
    pub score: u32,
    pub rules_version: String,
}

/// A compiled rule set, cheap to clone.
#[derive(Debug, Clone)]
pub struct Guard {
    rules: Arc<RuleSet>,
}

impl Guard {
    /// The rules compiled into the binary.
    pub fn embedded() -> Result<Self, RuleError> {
        Self::from_toml(EMBEDDED_RULES)
    }

    pub fn from_toml(text: &str) -> Result<Self, RuleError> {
        Ok(Guard {
            rules: Arc::new(RuleSet::parse(text)?),
        })
    }

    pub fn version(&self) -> &str {
        &self.rules.version
    }

    /// Screens one text.
    pub fn screen(&self, text: &str) -> Screening {
        let set = &self.rules;
        let n = normalize::normalize(text);
        let mut score = 0;
        let mut categories = BTreeSet::new();
        let mut matched = Vec::new();
        let mut encoded = false;
        for rule in &set.rules {
            let plain = rule.regex.is_match(&n.text);
            let hidden = !plain && n.decoded.iter().any(|(_, d)| rule.regex.is_match(d));
            if plain || hidden {
                score += rule.weight;
                categories.insert(rule.category);
                matched.push(rule.id.clone());
                encoded |= hidden;
            }
        }
        if encoded {
            score += set.encoded_weight;
            categories.insert(Category::EncodedPayload);
            matched.push("encoded.hidden-match".to_owned());
        }
        for (signal, count, id) in [
            (
                &set.tag_characters,
                n.tag_characters,
                "signal.tag-characters",
            ),
            (
                &set.invisible_characters,
                n.invisible_characters,
                "signal.invisible-characters",
            ),
        ] {
            if let Some(s) = signal
                && count >= s.min_count
                && s.weight > 0
            {
                score += s.weight;
                categories.insert(s.category);
                matched.push(id.to_owned());
            }
        }
        let verdict = if score >= set.thresholds.block {
            Verdict::Block
        } else if score >= set.thresholds.flag {
            Verdict::Flag
        } else {
            Verdict::Allow
        };
        Screening {
            verdict,
            categories: if verdict == Verdict::Allow {
                Vec::new()
            } else {
                categories.into_iter().collect()
            },
            rules: if verdict == Verdict::Allow {
                Vec::new()
            } else {
                matched
            },
            score,
            rules_version: set.version.clone(),
        }
    }
}

#[cfg(test)]
#[path = "screen_tests.rs"]
mod tests;
