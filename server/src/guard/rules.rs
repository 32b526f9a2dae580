//! The rule file (`server/guard/rules.v1.toml`): a version, thresholds,
//! signals and regular-expression rules, compiled once.

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

/// Why a rule file was refused (at start-up: the server does not serve
/// with rules it cannot read).
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("the guard rule file is not valid TOML: {0}")]
    Toml(String),
    #[error("guard rule `{id}` has an invalid pattern: {reason}")]
    Pattern { id: String, reason: String },
    #[error("the guard rule file is invalid: {0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: String,
    thresholds: Thresholds,
    encoded: Encoded,
    #[serde(default)]
    signals: BTreeMap<String, Signal>,
    #[serde(rename = "rule")]
    rules: Vec<RawRule>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub flag: u32,
    pub block: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Encoded {
    weight: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    pub category: Category,
    pub weight: u32,
    pub min_count: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    category: Category,
    weight: u32,
    pattern: String,
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub category: Category,
    pub weight: u32,
    pub regex: Regex,
}

/// A compiled rule file.
#[derive(Debug)]
pub struct RuleSet {
    pub version: String,
    pub thresholds: Thresholds,
    pub encoded_weight: u32,
    pub tag_characters: Option<Signal>,
    pub invisible_characters: Option<Signal>,
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// Parses and compiles a rule file.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let f: File = toml::from_str(text).map_err(|e| RuleError::Toml(e.message().to_owned()))?;
        if f.version.trim().is_empty() || f.version.len() > 32 {
            return Err(RuleError::Invalid("version must be 1-32 characters".into()));
        }
        if f.thresholds.flag == 0 || f.thresholds.block < f.thresholds.flag {
            return Err(RuleError::Invalid(
                "thresholds need 0 < flag <= block".into(),
            ));
        }
        if let Some(name) = f
            .signals
            .keys()
            .find(|k| !matches!(k.as_str(), "tag_characters" | "invisible_characters"))
        {
            return Err(RuleError::Invalid(format!("unknown signal `{name}`")));
        }
        let mut rules = Vec::with_capacity(f.rules.len());
        for r in f.rules {
            if rules.iter().any(|x: &Rule| x.id == r.id) {
                return Err(RuleError::Invalid(format!(
                    "rule `{}` is defined twice",
                    r.id
                )));
            }
            let regex = RegexBuilder::new(&r.pattern)
                .case_insensitive(true)
                .size_limit(1 << 22)
                .build()
                .map_err(|e| RuleError::Pattern {
                    id: r.id.clone(),
                    reason: e.to_string(),
                })?;
            rules.push(Rule {
                id: r.id,
                category: r.category,
                weight: r.weight,
                regex,
            });
        }
        if rules.is_empty() {
            return Err(RuleError::Invalid("no rules".into()));
        }
        Ok(RuleSet {
            version: f.version,
            thresholds: f.thresholds,
            encoded_weight: f.encoded.weight,
            tag_characters: f.signals.get("tag_characters").cloned(),
            invisible_characters: f.signals.get("invisible_characters").cloned(),
            rules,
        })
    }
}

/// Why a text was flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    InstructionOverride,
    RoleplayJailbreak,
    SystemPromptExtraction,
    DataExfiltration,
    EncodedPayload,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::InstructionOverride => "instruction_override",
            Category::RoleplayJailbreak => "roleplay_jailbreak",
            Category::SystemPromptExtraction => "system_prompt_extraction",
            Category::DataExfiltration => "data_exfiltration",
            Category::EncodedPayload => "encoded_payload",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Category::InstructionOverride,
            Category::RoleplayJailbreak,
            Category::SystemPromptExtraction,
            Category::DataExfiltration,
            Category::EncodedPayload,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}
