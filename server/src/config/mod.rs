//! Configuration: defaults, then an optional TOML file, then `OCHRE_*`
//! environment variables; validated before anything starts.
//!
//! Secrets are separate variables held in `secrecy` types. A missing,
//! malformed, too short or duplicated secret stops the start with a message
//! naming the variable, never its value.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use secrecy::{ExposeSecret, SecretBox, SecretString};
use url::Url;

mod error;
pub mod secrets;

pub use error::ConfigError;
use secrets::SecretSpec;

/// How the server reaches Postgres.
#[derive(Debug)]
pub enum DatabaseConfig {
    /// No `DATABASE_URL`: a private cluster under `<data dir>/postgres`.
    Embedded,
    /// An operator's Postgres.
    External {
        /// `DATABASE_URL`: the owner role, used by migrations only.
        owner_url: SecretString,
        /// `OCHRE_APP_DATABASE_URL`: the runtime role `ochre_app`.
        app_url: SecretString,
        /// `OCHRE_SERVICE_DATABASE_URL`: the gated role `ochre_service`.
        service_url: SecretString,
    },
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// The server's secrets, each its own variable.
#[derive(Debug)]
pub struct Secrets {
    /// `OCHRE_BYOK_ENC_KEY`: the vault key (32 bytes).
    pub byok_enc_key: SecretBox<[u8; 32]>,
    /// `OCHRE_BYOK_ENC_KEY_PREVIOUS`: decrypt-only key during rotation.
    pub byok_enc_key_previous: Option<SecretBox<[u8; 32]>>,
    /// `OCHRE_SURVEY_TOKEN_SECRET`: signs survey response tokens.
    pub survey_token_secret: SecretString,
    /// `OCHRE_SESSION_SECRET`: signs access tokens.
    pub session_secret: SecretString,
    /// `OCHRE_OAUTH_STATE_SECRET`: signs OAuth `state` values.
    pub oauth_state_secret: SecretString,
    /// `OCHRE_CRON_SECRET`: the bearer token of the operator routes
    /// (`POST /cron/{job}`, `GET /metrics`).
    pub cron_secret: SecretString,
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    pub listen_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub db_max_connections: u32,
    pub migrate_on_start: bool,
    pub cors_origins: Vec<String>,
    pub public_url: Url,
    pub log_format: LogFormat,
    pub secrets: Secrets,
    /// OAuth clients by provider id (from the `OCHRE_OAUTH_CLIENTS` file).
    pub oauth_clients: std::collections::HashMap<String, OAuthClient>,
    /// True when the secrets were generated into the data directory.
    pub dev_mode: bool,
}

/// An OAuth client registered with a provider.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: SecretString,
    pub authorize_url: Url,
    pub token_url: Url,
    /// Where the provider sends the browser back (default
    /// `<OCHRE_PUBLIC_URL>/oauth/callback`).
    pub redirect_uri: Url,
}

fn oauth_clients(
    path: Option<&str>,
    public_url: &Url,
) -> Result<std::collections::HashMap<String, OAuthClient>, ConfigError> {
    let mut out = std::collections::HashMap::new();
    let Some(path) = path else { return Ok(out) };
    let var = "OCHRE_OAUTH_CLIENTS";
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
        var,
        reason: format!("cannot read the file: {}", e.kind()),
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|_| invalid(var, "the file is not valid TOML"))?;
    for (provider, entry) in table {
        let get = |k: &str| {
            entry
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| ConfigError::Invalid {
                    var,
                    reason: format!("[{provider}] needs `{k}`"),
                })
        };
        let url = |k: &str, v: String| {
            Url::parse(&v)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| ConfigError::Invalid {
                    var,
                    reason: format!("[{provider}] {k} must be an http(s) URL"),
                })
        };
        let redirect = match entry.get("redirect_uri").and_then(|v| v.as_str()) {
            Some(r) => url("redirect_uri", r.to_owned())?,
            None => public_url
                .join("/oauth/callback")
                .map_err(|_| invalid(var, "bad redirect URI"))?,
        };
        out.insert(
            provider.clone(),
            OAuthClient {
                client_id: get("client_id")?,
                client_secret: SecretString::from(get("client_secret")?),
                authorize_url: url("authorize_url", get("authorize_url")?)?,
                token_url: url("token_url", get("token_url")?)?,
                redirect_uri: redirect,
            },
        );
    }
    Ok(out)
}

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

    fn get(&self, var: &str) -> Option<&str> {
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
    "OCHRE_BYOK_ENC_KEY",
    "OCHRE_BYOK_ENC_KEY_PREVIOUS",
    "OCHRE_SURVEY_TOKEN_SECRET",
    "OCHRE_SESSION_SECRET",
    "OCHRE_OAUTH_STATE_SECRET",
    "OCHRE_CRON_SECRET",
    "OCHRE_OAUTH_CLIENTS",
];

fn env_name(file_key: &str) -> Option<&'static str> {
    KNOWN_VARS.iter().copied().find(|var| {
        let bare = var.strip_prefix("OCHRE_").unwrap_or(var);
        bare.eq_ignore_ascii_case(file_key)
    })
}

impl Config {
    /// Loads from the process environment and an optional file.
    pub fn load(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        Self::from_layers(&Layers::from_process(file)?)
    }

    /// Validates layered values into a configuration.
    pub fn from_layers(layers: &Layers) -> Result<Self, ConfigError> {
        let listen_addr: SocketAddr = parse(layers, "OCHRE_LISTEN_ADDR", "127.0.0.1:50051")?;
        let data_dir = PathBuf::from(layers.get("OCHRE_DATA_DIR").unwrap_or("./.ochre"));
        let data_dir = std::path::absolute(&data_dir).map_err(|e| ConfigError::Invalid {
            var: "OCHRE_DATA_DIR",
            reason: e.kind().to_string(),
        })?;
        let database = database(layers)?;
        let embedded = matches!(database, DatabaseConfig::Embedded);
        let db_max_connections: u32 = parse(layers, "OCHRE_DB_MAX_CONNECTIONS", "16")?;
        if !(1..=512).contains(&db_max_connections) {
            return Err(invalid(
                "OCHRE_DB_MAX_CONNECTIONS",
                "must be between 1 and 512",
            ));
        }
        let migrate_on_start = match layers.get("OCHRE_MIGRATE_ON_START") {
            None => embedded,
            Some(v) => parse_bool(v)
                .ok_or_else(|| invalid("OCHRE_MIGRATE_ON_START", "must be true or false"))?,
        };
        let cors_origins = cors_origins(layers.get("OCHRE_CORS_ORIGINS"))?;
        let default_public = format!("http://{listen_addr}");
        let public_url = public_url(layers.get("OCHRE_PUBLIC_URL").unwrap_or(&default_public))?;
        let log_format = match layers.get("OCHRE_LOG_FORMAT").unwrap_or("human") {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            _ => return Err(invalid("OCHRE_LOG_FORMAT", "must be `human` or `json`")),
        };

        let configured = secrets::REQUIRED
            .iter()
            .any(|s| layers.get(s.var).is_some());
        let (secret_values, dev_mode) = if !configured && embedded {
            (secrets::load_or_generate_dev(&data_dir)?, true)
        } else {
            let mut values = BTreeMap::new();
            for spec in secrets::REQUIRED.iter().chain([&secrets::BYOK_PREVIOUS]) {
                if let Some(v) = layers.get(spec.var) {
                    values.insert(spec.var, SecretString::from(v.to_owned()));
                }
            }
            (values, false)
        };
        let secrets = validate_secrets(&secret_values)?;
        let oauth_clients = oauth_clients(layers.get("OCHRE_OAUTH_CLIENTS"), &public_url)?;

        Ok(Config {
            listen_addr,
            data_dir,
            database,
            db_max_connections,
            migrate_on_start,
            cors_origins,
            public_url,
            log_format,
            secrets,
            oauth_clients,
            dev_mode,
        })
    }
}

fn invalid(var: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.to_owned(),
    }
}

fn parse<T: std::str::FromStr>(
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

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn database(layers: &Layers) -> Result<DatabaseConfig, ConfigError> {
    let Some(owner) = layers.get("DATABASE_URL") else {
        return Ok(DatabaseConfig::Embedded);
    };
    let url = |var: &'static str, value: Option<&str>| -> Result<SecretString, ConfigError> {
        let value = value.ok_or(ConfigError::Missing {
            var,
            hint: " when DATABASE_URL is set (the server connects as ochre_app and ochre_service)",
        })?;
        match Url::parse(value) {
            Ok(u) if matches!(u.scheme(), "postgres" | "postgresql") => {
                Ok(SecretString::from(value.to_owned()))
            }
            _ => Err(invalid(var, "must be a postgres:// URL")),
        }
    };
    Ok(DatabaseConfig::External {
        owner_url: url("DATABASE_URL", Some(owner))?,
        app_url: url(
            "OCHRE_APP_DATABASE_URL",
            layers.get("OCHRE_APP_DATABASE_URL"),
        )?,
        service_url: url(
            "OCHRE_SERVICE_DATABASE_URL",
            layers.get("OCHRE_SERVICE_DATABASE_URL"),
        )?,
    })
}

fn cors_origins(value: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for origin in value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        let url = Url::parse(origin).map_err(|_| {
            invalid(
                "OCHRE_CORS_ORIGINS",
                "each origin must be scheme://host[:port]",
            )
        })?;
        let exact = url.origin().ascii_serialization();
        if !matches!(url.scheme(), "http" | "https") || exact != origin.trim_end_matches('/') {
            return Err(invalid(
                "OCHRE_CORS_ORIGINS",
                "each origin must be scheme://host[:port] with no path, and no wildcard",
            ));
        }
        out.push(exact);
    }
    Ok(out)
}

fn public_url(value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value)
        .map_err(|_| invalid("OCHRE_PUBLIC_URL", "must be an absolute http(s) URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            "OCHRE_PUBLIC_URL",
            "must be an absolute http(s) URL",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("OCHRE_PUBLIC_URL", "must not carry credentials"));
    }
    Ok(url)
}

fn validate_secrets(values: &BTreeMap<&'static str, SecretString>) -> Result<Secrets, ConfigError> {
    let mut checked: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for spec in secrets::REQUIRED.iter().chain([&secrets::BYOK_PREVIOUS]) {
        let Some(value) = values.get(spec.var) else {
            if spec.required {
                return Err(ConfigError::Missing {
                    var: spec.var,
                    hint: spec.hint,
                });
            }
            continue;
        };
        let bytes = check_secret(spec, value.expose_secret())?;
        // Equal as bytes, or as configured text (a key's base64 reused as a
        // text secret).
        let raw = value.expose_secret().trim().as_bytes();
        let same = |(var, b): &&(&'static str, Vec<u8>)| {
            *b == bytes
                || b.as_slice() == raw
                || values
                    .get(var)
                    .is_some_and(|v| v.expose_secret().trim().as_bytes() == raw)
        };
        if let Some((other, _)) = checked.iter().find(same) {
            return Err(ConfigError::Duplicate {
                a: other,
                b: spec.var,
            });
        }
        checked.push((spec.var, bytes));
    }
    let key = |var: &str| -> Option<SecretBox<[u8; 32]>> {
        let bytes = &checked.iter().find(|(v, _)| *v == var)?.1;
        let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(SecretBox::new(Box::new(arr)))
    };
    let text = |var: &'static str| -> Result<SecretString, ConfigError> {
        values
            .get(var)
            .cloned()
            .ok_or(ConfigError::Missing { var, hint: "" })
    };
    let secrets = Secrets {
        byok_enc_key: key("OCHRE_BYOK_ENC_KEY").ok_or(ConfigError::Missing {
            var: "OCHRE_BYOK_ENC_KEY",
            hint: "",
        })?,
        byok_enc_key_previous: key("OCHRE_BYOK_ENC_KEY_PREVIOUS"),
        survey_token_secret: text("OCHRE_SURVEY_TOKEN_SECRET")?,
        session_secret: text("OCHRE_SESSION_SECRET")?,
        oauth_state_secret: text("OCHRE_OAUTH_STATE_SECRET")?,
        cron_secret: text("OCHRE_CRON_SECRET")?,
    };
    for (_, mut b) in checked {
        zeroize::Zeroize::zeroize(&mut b);
    }
    Ok(secrets)
}

/// Checks one secret and returns the bytes that must be unique.
fn check_secret(spec: &SecretSpec, value: &str) -> Result<Vec<u8>, ConfigError> {
    if spec.key32 {
        use base64::Engine as _;
        let trimmed = value.trim();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(trimmed))
            .map_err(|_| invalid(spec.var, "must be 32 bytes encoded in base64"))?;
        if decoded.len() != 32 {
            return Err(ConfigError::Invalid {
                var: spec.var,
                reason: format!(
                    "must decode to exactly 32 bytes (it decodes to {})",
                    decoded.len()
                ),
            });
        }
        if decoded.iter().all(|b| *b == decoded[0]) {
            return Err(invalid(spec.var, "is not random: every byte is the same"));
        }
        Ok(decoded)
    } else {
        if value.len() < secrets::MIN_SECRET_LEN {
            return Err(ConfigError::Invalid {
                var: spec.var,
                reason: format!(
                    "is too short: at least {} bytes are required",
                    secrets::MIN_SECRET_LEN
                ),
            });
        }
        if value.bytes().all(|b| b == value.as_bytes()[0]) {
            return Err(invalid(
                spec.var,
                "is not random: every character is the same",
            ));
        }
        Ok(value.as_bytes().to_vec())
    }
}
