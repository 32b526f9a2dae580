//! Configuration: defaults, then an optional TOML file, then `OCHRE_*`
//! environment variables; validated before anything starts.
//!
//! Secrets are separate variables held in `secrecy` types. A missing,
//! malformed, too short or duplicated secret stops the start with a message
//! naming the variable, never its value.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use secrecy::SecretString;
use url::Url;

mod error;
mod layers;
pub mod secrets;

pub use error::ConfigError;
pub use layers::Layers;
use layers::{invalid, parse, parse_bool};
pub use secrets::Secrets;
use secrets::validate_secrets;

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
    /// How long an org stays restorable after its owner scheduled its
    /// deletion (`OCHRE_DELETION_GRACE_DAYS`, at least one day).
    pub deletion_grace: chrono::Duration,
    /// How long a budget reservation holds its amount unless settled or
    /// released (`OCHRE_BUDGET_RESERVATION_TTL_SECS`, 1-86400, default 900).
    pub budget_reservation_ttl_secs: i32,
    /// The rate limits in force (`OCHRE_RATE_LIMITS` over the defaults of
    /// [`crate::limits::config::LIMITS`]).
    pub rate_limits: crate::limits::config::RateLimits,
    /// The input guard's rules: the embedded file, or the file named by
    /// `OCHRE_GUARD_RULES`.
    pub guard: crate::guard::Guard,
    pub secrets: Secrets,
    /// OAuth clients by provider id (from the `OCHRE_OAUTH_CLIENTS` file).
    pub oauth_clients: std::collections::HashMap<String, OAuthClient>,
    /// True when the secrets were generated into the data directory.
    pub dev_mode: bool,
    /// Peers whose `X-Forwarded-For` names the client
    /// (`OCHRE_TRUSTED_PROXIES`, CIDRs; default none).
    pub trusted_proxies: crate::edge::TrustedProxies,
    /// The certificate and key served when set (`OCHRE_TLS_CERT` and
    /// `OCHRE_TLS_KEY`, PEM files, both or neither): the port speaks TLS only.
    pub tls: Option<crate::edge::TlsFiles>,
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
        let grace_days: i64 = parse(layers, "OCHRE_DELETION_GRACE_DAYS", "30")?;
        if !(1..=3650).contains(&grace_days) {
            return Err(invalid(
                "OCHRE_DELETION_GRACE_DAYS",
                "must be a whole number of days between 1 and 3650",
            ));
        }
        let deletion_grace = chrono::Duration::days(grace_days);
        let budget_reservation_ttl_secs: i32 =
            parse(layers, "OCHRE_BUDGET_RESERVATION_TTL_SECS", "900")?;
        if !(1..=86_400).contains(&budget_reservation_ttl_secs) {
            return Err(invalid(
                "OCHRE_BUDGET_RESERVATION_TTL_SECS",
                "must be a whole number of seconds between 1 and 86400",
            ));
        }
        let guard = guard_rules(layers)?;
        let rate_limits =
            crate::limits::config::RateLimits::parse(layers.get("OCHRE_RATE_LIMITS").unwrap_or(""))
                .map_err(|reason| ConfigError::Invalid {
                    var: "OCHRE_RATE_LIMITS",
                    reason,
                })?;
        let trusted_proxies =
            crate::edge::TrustedProxies::parse(layers.get("OCHRE_TRUSTED_PROXIES").unwrap_or(""))
                .map_err(|reason| ConfigError::Invalid {
                var: "OCHRE_TRUSTED_PROXIES",
                reason,
            })?;
        let tls = tls_files(layers)?;

        let configured = secrets::REQUIRED
            .iter()
            .any(|s| layers.get(s.var).is_some());
        let (secret_values, dev_mode) = if !configured && embedded {
            (secrets::load_or_generate_dev(&data_dir)?, true)
        } else {
            let mut values = BTreeMap::new();
            for spec in secrets::REQUIRED.iter().chain(secrets::OPTIONAL) {
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
            deletion_grace,
            budget_reservation_ttl_secs,
            guard,
            rate_limits,
            secrets,
            oauth_clients,
            dev_mode,
            trusted_proxies,
            tls,
        })
    }
}

/// `OCHRE_TLS_CERT` and `OCHRE_TLS_KEY`: both or neither, read and checked.
fn tls_files(layers: &Layers) -> Result<Option<crate::edge::TlsFiles>, ConfigError> {
    let missing = |var, hint| ConfigError::Missing { var, hint };
    match (layers.get("OCHRE_TLS_CERT"), layers.get("OCHRE_TLS_KEY")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(missing("OCHRE_TLS_KEY", " when OCHRE_TLS_CERT is set")),
        (None, Some(_)) => Err(missing("OCHRE_TLS_CERT", " when OCHRE_TLS_KEY is set")),
        (Some(cert), Some(key)) => {
            crate::edge::TlsFiles::load(std::path::Path::new(cert), std::path::Path::new(key))
                .map(Some)
                .map_err(|e| ConfigError::Invalid {
                    var: e.var,
                    reason: e.reason,
                })
        }
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

/// The guard's rules: `OCHRE_GUARD_RULES` (a rule file's path) or the
/// embedded `server/guard/rules.v1.toml`. A file that does not compile stops
/// the start.
fn guard_rules(layers: &Layers) -> Result<crate::guard::Guard, ConfigError> {
    let bad = |reason: String| ConfigError::Invalid {
        var: "OCHRE_GUARD_RULES",
        reason,
    };
    match layers.get("OCHRE_GUARD_RULES") {
        None => crate::guard::Guard::embedded().map_err(|e| bad(e.to_string())),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad(format!("cannot read the rule file: {}", e.kind())))?;
            crate::guard::Guard::from_toml(&text).map_err(|e| bad(e.to_string()))
        }
    }
}
