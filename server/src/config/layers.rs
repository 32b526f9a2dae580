//! Raw settings by variable name: defaults, then an optional TOML file (keys
//! are the `OCHRE_*` names in lower case without the prefix), then the
//! environment; and the small parsers every setting goes through.

use std::{collections::BTreeMap, path::PathBuf};

use super::error::ConfigError;

/// Raw values by variable name, after layering file and environment.
#[derive(Debug, Default)]
pub struct Layers {
    values: BTreeMap<String, String>,
}

impl Layers {
    /// Reads the optional file then the process environment.
    pub fn from_process(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        let file = file.or_else(|| std::env::var_os("OCHRE_CONFIG").map(PathBuf::from));
        Self::build(file, |k| std::env::var(k).ok())
    }

    /// Layers a file (keys are the variable names without `OCHRE_`, in
    /// lower case) under values from `lookup` (variable names).
    pub fn build(
        file: Option<PathBuf>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut layers = Layers::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.kind().to_string(),
            })?;
            let table: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| ConfigError::File {
                        path: path.clone(),
                        reason: e.message().to_owned(),
                    })?;
            for (key, value) in table {
                let var = env_name(&key).ok_or_else(|| ConfigError::File {
                    path: path.clone(),
                    reason: format!("unknown key `{key}`"),
                })?;
                let value = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|i| {
                            i.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| i.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                layers.values.insert(var.to_owned(), value);
            }
        }
        for var in KNOWN_VARS {
            if let Some(v) = lookup(var) {
                layers.values.insert((*var).to_owned(), v);
            }
        }
        Ok(layers)
    }

    /// Sets one value (tests and the harness use this).
    pub fn set(&mut self, var: &str, value: impl Into<String>) -> &mut Self {
        self.values.insert(var.to_owned(), value.into());
        self
    }

    pub(super) fn get(&self, var: &str) -> Option<&str> {
        self.values
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

const KNOWN_VARS: &[&str] = &[
    "OCHRE_LISTEN_ADDR",
    "OCHRE_DATA_DIR",
    "DATABASE_URL",
    "OCHRE_APP_DATABASE_URL",
    "OCHRE_SERVICE_DATABASE_URL",
    "OCHRE_DB_MAX_CONNECTIONS",
    "OCHRE_MIGRATE_ON_START",
    "OCHRE_CORS_ORIGINS",
    "OCHRE_PUBLIC_URL",
    "OCHRE_LOG_FORMAT",
    "OCHRE_DELETION_GRACE_DAYS",
    "OCHRE_BUDGET_RESERVATION_TTL_SECS",
    "OCHRE_BYOK_ENC_KEY",
    "OCHRE_BYOK_ENC_KEY_PREVIOUS",
    "OCHRE_SURVEY_TOKEN_SECRET",
    "OCHRE_SURVEY_TOKEN_SECRET_PREVIOUS",
    "OCHRE_SESSION_SECRET",
    "OCHRE_OAUTH_STATE_SECRET",
    "OCHRE_AUDIT_SIGNING_KEY",
    "OCHRE_CRON_SECRET",
    "OCHRE_OAUTH_CLIENTS",
    "OCHRE_GUARD_RULES",
    "OCHRE_RATE_LIMITS",
    "OCHRE_TRUSTED_PROXIES",
    "OCHRE_TLS_CERT",
    "OCHRE_TLS_KEY",
];

fn env_name(file_key: &str) -> Option<&'static str> {
    KNOWN_VARS.iter().copied().find(|var| {
        let bare = var.strip_prefix("OCHRE_").unwrap_or(var);
        bare.eq_ignore_ascii_case(file_key)
    })
}

pub(super) fn invalid(var: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.to_owned(),
    }
}

pub(super) fn parse<T: std::str::FromStr>(
    layers: &Layers,
    var: &'static str,
    default: &str,
) -> Result<T, ConfigError> {
    layers
        .get(var)
        .unwrap_or(default)
        .trim()
        .parse()
        .map_err(|_| invalid(var, "cannot be parsed"))
}

pub(super) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}
