//! Raw settings by variable name: defaults, then an optional TOML file (keys
//! are the `OCHRE_*` names in lower case without the prefix), then the
//! environment; and the small parsers every setting goes through.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

use super::error::ConfigError;

/// Raw values by variable name, after layering file and environment.
#[derive(Debug, Default)]
pub struct Layers {
    values: BTreeMap<String, String>,
    /// The variables whose value came from the file.
    from_file: BTreeSet<String>,
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
                layers.from_file.insert(var.to_owned());
            }
        }
        for setting in super::settings::SETTINGS {
            if let Some(v) = lookup(setting.var) {
                layers.values.insert(setting.var.to_owned(), v);
                layers.from_file.remove(setting.var);
            }
        }
        Ok(layers)
    }

    /// Sets one value (tests and the harness use this).
    pub fn set(&mut self, var: &str, value: impl Into<String>) -> &mut Self {
        self.values.insert(var.to_owned(), value.into());
        self.from_file.remove(var);
        self
    }

    /// Where the value of `var` comes from: `"file"`, `"environment"`, or
    /// `None` when it is not set (the default applies).
    pub fn source(&self, var: &str) -> Option<&'static str> {
        self.get(var)?;
        Some(if self.from_file.contains(var) {
            "file"
        } else {
            "environment"
        })
    }

    /// The value of `var`, when set and not blank.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.values
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

fn env_name(file_key: &str) -> Option<&'static str> {
    super::settings::var_of_file_key(file_key)
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
