//! Configuration: defaults, then an optional TOML file, then `OCHRE_*`
//! environment variables; validated before anything starts.
//!
//! Secrets are separate variables held in `secrecy` types. A missing,
//! malformed, too short or duplicated secret stops the start with a message
//! naming the variable, never its value.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use secrecy::SecretString;
use url::Url;

mod check;
mod edge;
mod error;
mod layers;
mod oauth;
mod observe;
mod runtime;
pub mod secrets;
pub mod settings;

use check::embedded_dir_problem;
pub use error::ConfigError;
pub use layers::Layers;
use layers::{invalid, parse, parse_bool};
pub use oauth::OAuthClient;
pub use observe::{AdminConfig, MIN_ADMIN_TOKEN, OtlpConfig};
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

impl LogFormat {
    /// `human` or `json`, in any case: the one rule for
    /// `OCHRE_LOG_FORMAT`, in the environment and the file alike.
    pub fn parse(value: &str) -> Option<LogFormat> {
        match value.trim().to_ascii_lowercase().as_str() {
            "human" => Some(LogFormat::Human),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }

    /// The format `layers` ask for, before the configuration is validated
    /// (human when unset or invalid: validation then refuses the latter).
    pub fn of_layers(layers: &Layers) -> LogFormat {
        layers
            .get("OCHRE_LOG_FORMAT")
            .and_then(LogFormat::parse)
            .unwrap_or(LogFormat::Human)
    }
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    pub listen_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub db_max_connections: u32,
    /// `OCHRE_DB_TRANSACTION_POOLING`: the URLs reach a transaction pooler.
    pub db_transaction_pooling: bool,
    /// `OCHRE_WORKER_THREADS`: the async runtime's worker threads.
    pub worker_threads: usize,
    pub migrate_on_start: bool,
    pub cors_origins: Vec<String>,
    pub public_url: Url,
    pub log_format: LogFormat,
    /// `OCHRE_LOG`: the log filter, when set.
    pub log_filter: Option<String>,
    /// `OCHRE_PG_BIN_DIR`: where the embedded cluster's binaries are, when
    /// set (checked to hold them).
    pub pg_bin_dir: Option<PathBuf>,
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
    /// The admin listener (`OCHRE_ADMIN_ADDR`, `OCHRE_ADMIN_TOKEN`).
    pub admin: AdminConfig,
    /// One `ochre::access` line per request (`OCHRE_ACCESS_LOG`, default on).
    pub access_log: bool,
    /// Trace export (`OCHRE_OTLP_ENDPOINT`, `OCHRE_OTLP_SAMPLE_RATIO`).
    pub otlp: Option<OtlpConfig>,
    /// Peers whose `X-Forwarded-For` names the client
    /// (`OCHRE_TRUSTED_PROXIES`, CIDRs; default none).
    pub trusted_proxies: crate::edge::TrustedProxies,
    /// The certificate and key served when set (`OCHRE_TLS_CERT` and
    /// `OCHRE_TLS_KEY`, PEM files, both or neither): the port speaks TLS only.
    pub tls: Option<crate::edge::TlsFiles>,
}

impl Config {
    /// Loads from the process environment and an optional file.
    pub fn load(file: Option<PathBuf>) -> Result<Self, ConfigError> {
        Self::from_layers(&Layers::from_process(file)?)
    }

    /// Validates layered values into a configuration. In development mode
    /// the generated secrets are created on first use.
    pub fn from_layers(layers: &Layers) -> Result<Self, ConfigError> {
        Self::build(layers, true)
    }

    /// Validates like [`Config::from_layers`] but writes nothing: in
    /// development mode without generated secrets yet, fresh ones are
    /// held in memory only (`ochre config check`).
    pub fn check_layers(layers: &Layers) -> Result<Self, ConfigError> {
        Self::build(layers, false)
    }

    /// The effective configuration as `ochre config check` prints it:
    /// every setting, then what they amount to.
    pub fn describe(&self, layers: &Layers) -> String {
        let database = match &self.database {
            DatabaseConfig::Embedded => format!(
                "embedded cluster in {}",
                self.data_dir.join("postgres").display()
            ),
            DatabaseConfig::External { .. } => "external (DATABASE_URL)".to_owned(),
        };
        let mode = if self.dev_mode {
            "development"
        } else {
            "production"
        };
        format!(
            "{}\neffective: listen {}, public URL {}, data directory {}, database {database}, \
             migrations on start {}, log format {:?}, {mode} mode\n",
            check::render(layers, &self.data_dir, self.dev_mode),
            self.listen_addr,
            self.public_url,
            self.data_dir.display(),
            self.migrate_on_start,
            self.log_format,
        )
    }

    fn build(layers: &Layers, write: bool) -> Result<Self, ConfigError> {
        let listen_addr: SocketAddr = parse(layers, "OCHRE_LISTEN_ADDR", "127.0.0.1:50051")?;
        let data_dir = PathBuf::from(layers.get("OCHRE_DATA_DIR").unwrap_or("./.ochre"));
        let data_dir = std::path::absolute(&data_dir).map_err(|e| ConfigError::Invalid {
            var: "OCHRE_DATA_DIR",
            reason: e.kind().to_string(),
        })?;
        let database = database(layers)?;
        let embedded = matches!(database, DatabaseConfig::Embedded);
        if embedded && let Some(problem) = embedded_dir_problem(&data_dir) {
            return Err(invalid("OCHRE_DATA_DIR", problem));
        }
        let pg_bin_dir = match layers.get("OCHRE_PG_BIN_DIR") {
            None => None,
            Some(dir) => {
                let dir = PathBuf::from(dir);
                if !crate::pg::has_binaries(&dir) {
                    return Err(invalid(
                        "OCHRE_PG_BIN_DIR",
                        "the directory does not hold initdb, pg_ctl and postgres",
                    ));
                }
                Some(dir)
            }
        };
        let db_max_connections: u32 = parse(layers, "OCHRE_DB_MAX_CONNECTIONS", "16")?;
        if !(1..=512).contains(&db_max_connections) {
            return Err(invalid(
                "OCHRE_DB_MAX_CONNECTIONS",
                "must be between 1 and 512",
            ));
        }
        let worker_threads = runtime::worker_threads(layers)?;
        let db_transaction_pooling = parse_bool(
            layers
                .get("OCHRE_DB_TRANSACTION_POOLING")
                .unwrap_or("false"),
        )
        .ok_or_else(|| invalid("OCHRE_DB_TRANSACTION_POOLING", "must be true or false"))?;
        let migrate_on_start = match layers.get("OCHRE_MIGRATE_ON_START") {
            None => embedded,
            Some(v) => parse_bool(v)
                .ok_or_else(|| invalid("OCHRE_MIGRATE_ON_START", "must be true or false"))?,
        };
        let cors_origins = cors_origins(layers.get("OCHRE_CORS_ORIGINS"))?;
        let default_public = format!("http://{listen_addr}");
        let public_url = public_url(layers.get("OCHRE_PUBLIC_URL").unwrap_or(&default_public))?;
        let log_format = LogFormat::parse(layers.get("OCHRE_LOG_FORMAT").unwrap_or("human"))
            .ok_or_else(|| invalid("OCHRE_LOG_FORMAT", "must be `human` or `json`"))?;
        let log_filter = layers.get("OCHRE_LOG").map(str::to_owned);
        if let Some(filter) = &log_filter
            && tracing_subscriber::EnvFilter::try_new(filter).is_err()
        {
            return Err(invalid(
                "OCHRE_LOG",
                "is not a valid filter (e.g. `info,ochre_server=debug`)",
            ));
        }
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
        let (trusted_proxies, tls) = edge::edge(layers)?;

        // Development mode: the embedded cluster, and either no secret
        // configured or generated ones already in the data directory. A
        // secret variable that is set overrides the generated value (a key
        // rotation, the previous keys).
        let configured = secrets::REQUIRED
            .iter()
            .any(|s| layers.get(s.var).is_some());
        let dev_mode = embedded && (!configured || secrets::dev_secrets_path(&data_dir).exists());
        let mut secret_values = match (dev_mode, write) {
            (false, _) => BTreeMap::new(),
            (true, true) => secrets::load_or_generate_dev(&data_dir)?,
            (true, false) => secrets::dev_preview(&data_dir)?,
        };
        for spec in secrets::REQUIRED.iter().chain(secrets::OPTIONAL) {
            if let Some(v) = layers.get(spec.var) {
                secret_values.insert(spec.var, SecretString::from(v.to_owned()));
            }
        }
        let secrets = validate_secrets(&secret_values)?;
        let oauth_clients = oauth::oauth_clients(layers.get("OCHRE_OAUTH_CLIENTS"), &public_url)?;
        let observe = observe::observe(layers)?;

        Ok(Config {
            listen_addr,
            data_dir,
            database,
            db_max_connections,
            db_transaction_pooling,
            worker_threads,
            migrate_on_start,
            cors_origins,
            public_url,
            log_format,
            log_filter,
            pg_bin_dir,
            deletion_grace,
            budget_reservation_ttl_secs,
            guard,
            rate_limits,
            secrets,
            oauth_clients,
            dev_mode,
            admin: observe.admin,
            access_log: observe.access_log,
            otlp: observe.otlp,
            trusted_proxies,
            tls,
        })
    }
}

/// `OCHRE_TLS_CERT` and `OCHRE_TLS_KEY`: both or neither, read and checked.
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
        if origin.contains('*') {
            return Err(invalid(
                "OCHRE_CORS_ORIGINS",
                "a wildcard is not allowed: list each origin exactly (scheme://host[:port])",
            ));
        }
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
