//! The one table of settings. Everything the configuration reads is listed
//! here: the layering of the file and the environment, `ochre --help`,
//! `ochre config check` and the README's Configuration table all come from
//! it (a test compares the README with [`readme_table`]).
//!
//! Adding a setting is one entry in [`SETTINGS`] (and reading it in
//! [`super::Config::from_layers`]).

/// One setting: its variable, how its default reads, whether it is a
/// secret (shown only as `set`/`unset`) and what it means.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The environment variable (`OCHRE_*`, or `DATABASE_URL`).
    pub var: &'static str,
    /// The default as a reader sees it (`—` when there is none).
    pub default: &'static str,
    /// A secret: never printed, only `set` or `unset`.
    pub secret: bool,
    /// One line (Markdown) of what it does.
    pub doc: &'static str,
}

impl Setting {
    /// The key in the configuration file: the variable in lower case
    /// without the `OCHRE_` prefix (`listen_addr`, `database_url`).
    pub fn file_key(&self) -> String {
        self.var
            .strip_prefix("OCHRE_")
            .unwrap_or(self.var)
            .to_ascii_lowercase()
    }
}

const fn s(var: &'static str, default: &'static str, doc: &'static str) -> Setting {
    Setting {
        var,
        default,
        secret: false,
        doc,
    }
}

const fn secret(var: &'static str, default: &'static str, doc: &'static str) -> Setting {
    Setting {
        var,
        default,
        secret: true,
        doc,
    }
}

/// Every setting, in the order the README and `--help` list them.
pub const SETTINGS: &[Setting] = &[
    s(
        "OCHRE_LISTEN_ADDR",
        "`127.0.0.1:50051`",
        "gRPC (HTTP/2), gRPC-web (HTTP/1.1), health, reflection and the webhook/operator HTTP routes, one port",
    ),
    s(
        "OCHRE_DATA_DIR",
        "`./.ochre`",
        "embedded cluster (`postgres/`) and development secrets (`secrets/`); letters, digits and `/ . _ -` only",
    ),
    secret(
        "DATABASE_URL",
        "—",
        "an operator's Postgres, as the owner role (used by migrations); no cluster is started",
    ),
    secret(
        "OCHRE_APP_DATABASE_URL",
        "—",
        "required with `DATABASE_URL`: the runtime role `ochre_app` (its pool speaks no TLS: a URL with `sslmode=require` is refused; reach Postgres over its Unix socket or a private network)",
    ),
    secret(
        "OCHRE_SERVICE_DATABASE_URL",
        "—",
        "required with `DATABASE_URL`: the gated role `ochre_service`",
    ),
    s(
        "OCHRE_MIGRATE_ON_START",
        "`true` embedded, `false` with `DATABASE_URL`",
        "run migrations on `serve` (and before `purge` and `keys rotate`)",
    ),
    s(
        "OCHRE_DB_MAX_CONNECTIONS",
        "`16`",
        "size of each of the three pools (`ochre_app`, for every tenant transaction including the gate's identity call; `ochre_service` for sign-in; `ochre_service` for webhook ingest), 1–512",
    ),
    s(
        "OCHRE_DB_TRANSACTION_POOLING",
        "`false`",
        "`true` when the app and service URLs reach Postgres through a transaction pooler (PgBouncer `pool_mode = transaction`): every statement runs in a transaction and the driver's statement cache is off (see [Running more than one](#running-more-than-one))",
    ),
    s(
        "OCHRE_WORKER_THREADS",
        "the CPUs available",
        "threads of the async runtime that serves every request, 1–256; on a machine shared with Postgres, fewer than its cores leave more to Postgres, at the cost of the latency tail (on 2 cores the read-path benchmark's open-loop p99, median of three runs, was 5–68 ms with 2 threads, 13–35 ms with 1; see [Benchmarks](#benchmarks))",
    ),
    s(
        "OCHRE_CORS_ORIGINS",
        "none",
        "comma-separated exact origins allowed to call gRPC-web from a browser (a wildcard is refused)",
    ),
    s(
        "OCHRE_PUBLIC_URL",
        "`http://<listen addr>`",
        "the public base URL (OAuth `return_to` must be same-origin with it; HubSpot signs `<OCHRE_PUBLIC_URL>/webhooks/...`)",
    ),
    s(
        "OCHRE_LOG_FORMAT",
        "`human`",
        "`human` or `json` (any case) for JSON lines (also `--log-json`)",
    ),
    s(
        "OCHRE_LOG",
        "`info` (or `RUST_LOG`)",
        "the log filter, `tracing` directives such as `info,ochre_server=debug`",
    ),
    s(
        "OCHRE_DELETION_GRACE_DAYS",
        "`30`",
        "days a workspace scheduled for deletion stays restorable before the purge (1–3650)",
    ),
    s(
        "OCHRE_BUDGET_RESERVATION_TTL_SECS",
        "`900`",
        "seconds a budget reservation holds its amount unless settled or released (1–86400); then it expires and its hold is returned",
    ),
    secret(
        "OCHRE_BYOK_ENC_KEY",
        "dev: generated",
        "vault key: exactly 32 bytes, base64 (`openssl rand -base64 32`)",
    ),
    secret(
        "OCHRE_BYOK_ENC_KEY_PREVIOUS",
        "—",
        "previous vault key, decrypt-only, during a rotation",
    ),
    secret(
        "OCHRE_SURVEY_TOKEN_SECRET",
        "dev: generated",
        "signs survey tokens (≥ 32 bytes); its key id is derived from it",
    ),
    secret(
        "OCHRE_SURVEY_TOKEN_SECRET_PREVIOUS",
        "—",
        "the previous survey secret, verify-only, while links it issued are still out (at most 28 days)",
    ),
    secret(
        "OCHRE_SESSION_SECRET",
        "dev: generated",
        "signs access tokens (≥ 32 bytes)",
    ),
    secret(
        "OCHRE_OAUTH_STATE_SECRET",
        "dev: generated",
        "signs OAuth `state` values (≥ 32 bytes)",
    ),
    secret(
        "OCHRE_CRON_SECRET",
        "dev: generated",
        "bearer token of `POST /cron/{job}` (≥ 32 bytes); it does not open the metrics",
    ),
    secret(
        "OCHRE_AUDIT_SIGNING_KEY",
        "dev: generated",
        "the Ed25519 secret key that signs audit checkpoints: exactly 32 bytes, base64 (`openssl rand -base64 32`); its public key is served by `GetAuditPublicKey`",
    ),
    s(
        "OCHRE_OAUTH_CLIENTS",
        "none",
        "a TOML file of OAuth clients, one table per OAuth provider of the catalog (README \"OAuth clients\")",
    ),
    s(
        "OCHRE_RATE_LIMITS",
        "the defaults",
        "overrides of the rate limits: `NAME=COUNT/UNIT[:BURST]` or `NAME=off`, comma-separated; `off` turns them all off (README \"Rate limits\")",
    ),
    s(
        "OCHRE_GUARD_RULES",
        "embedded `server/guard/rules.v1.toml`",
        "a rule file for the input guard (same format); one that does not compile stops the start",
    ),
    s(
        "OCHRE_ADMIN_ADDR",
        "`127.0.0.1:9464`",
        "the admin listener: `GET /metrics`, `/live`, `/ready` (see [Operations](#operations)); `off` disables it",
    ),
    secret(
        "OCHRE_ADMIN_TOKEN",
        "—",
        "the bearer token (≥ 32 bytes) every admin request must carry; required when `OCHRE_ADMIN_ADDR` is not a loopback address (the start is refused otherwise, exit 2)",
    ),
    s(
        "OCHRE_ACCESS_LOG",
        "`on`",
        "one `ochre::access` line per RPC and HTTP request (see [Access log](#access-log)); `off` writes none",
    ),
    s(
        "OCHRE_OTLP_ENDPOINT",
        "— (off)",
        "an OpenTelemetry collector's OTLP/HTTP base URL (`http://collector:4318`; `/v1/traces` is added): export traces (see [Traces](#traces))",
    ),
    s(
        "OCHRE_OTLP_SAMPLE_RATIO",
        "`1.0`",
        "share of the traces that start at Ochre that are exported (0.0–1.0); a caller's sampled `traceparent` is always followed",
    ),
    s(
        "OCHRE_TRUSTED_PROXIES",
        "none",
        "comma-separated CIDR ranges (IPv4 or IPv6; a bare address is one host) of proxies whose `X-Forwarded-For` names the client (see [Running behind a proxy](#running-behind-a-proxy)); `0.0.0.0/0` is accepted with a warning but lets any client choose its address",
    ),
    s(
        "OCHRE_TLS_CERT",
        "—",
        "a PEM file: the server certificate, then its intermediates; with `OCHRE_TLS_KEY` the port speaks TLS only (see [TLS](#tls)), reloaded on SIGHUP",
    ),
    s(
        "OCHRE_TLS_KEY",
        "—",
        "the PEM private key of `OCHRE_TLS_CERT` (PKCS#8, PKCS#1 or SEC1); set both or neither",
    ),
    s(
        "OCHRE_PG_BIN_DIR",
        "`PATH`, then `/usr/lib/postgresql/*/bin`",
        "where `initdb`, `pg_ctl`, `postgres` are (embedded cluster); a directory without them is refused",
    ),
];

/// The setting of `var`.
pub fn setting(var: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.var == var)
}

/// The variable a configuration file's key stands for.
pub fn var_of_file_key(key: &str) -> Option<&'static str> {
    SETTINGS
        .iter()
        .find(|s| s.file_key() == key.to_ascii_lowercase())
        .map(|s| s.var)
}

/// The README's Configuration table, exactly (a test compares them).
pub fn readme_table() -> String {
    let mut out = String::from("| variable | file key | default | meaning |\n|---|---|---|---|\n");
    for s in SETTINGS {
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {}{} |\n",
            s.var,
            s.file_key(),
            s.default,
            if s.secret { "**secret**: " } else { "" },
            s.doc
        ));
    }
    out
}

/// The settings as `ochre --help` lists them.
pub fn help_text() -> String {
    let mut out = String::from(
        "Settings (environment variables; in a --config TOML file the key is the name in lower \
         case without OCHRE_; the environment wins). `ochre config check` prints the effective \
         values.\n\n",
    );
    for s in SETTINGS {
        let plain = |t: &str| t.replace('`', "");
        out.push_str(&format!(
            "  {}{}\n      default: {}\n      {}\n",
            s.var,
            if s.secret { " (secret)" } else { "" },
            plain(s.default),
            plain(s.doc)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::SETTINGS;

    /// Every variable name the configuration code reads is in the table.
    #[test]
    fn every_variable_the_configuration_reads_is_in_the_table() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("layers.rs"),
            include_str!("secrets.rs"),
            include_str!("check.rs"),
            include_str!("observe.rs"),
            include_str!("edge.rs"),
            include_str!("../pg/binaries.rs"),
        ];
        let re = regex::Regex::new(r#""((?:OCHRE_|DATABASE_URL)[A-Z_]*)""#).unwrap();
        for text in sources {
            for cap in re.captures_iter(text) {
                let var = &cap[1];
                if var == "OCHRE_" || var == "OCHRE_CONFIG" {
                    continue;
                }
                assert!(
                    SETTINGS.iter().any(|s| s.var == var),
                    "{var} is read but not in config::settings::SETTINGS"
                );
            }
        }
    }

    #[test]
    fn each_setting_is_listed_once_with_a_distinct_file_key() {
        let mut keys: Vec<String> = SETTINGS.iter().map(|s| s.file_key()).collect();
        keys.sort();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n);
    }
}
