//! One table of settings (`ochre_server::config::settings::SETTINGS`): the
//! README's Configuration table, `ochre --help` and `ochre config check`
//! are all that table; every setting reads the same from the file as from
//! the environment.

use std::process::Command;

use ochre_server::config::settings::{SETTINGS, readme_table};
use ochre_tests::{ochre_bin, random_key, random_secret};

/// The README's table: from its header row to the last row.
fn readme_configuration_table() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("read README.md");
    let mut lines = readme
        .lines()
        .skip_while(|l| !l.starts_with("| variable | file key |"));
    let mut out = String::new();
    for line in lines.by_ref() {
        if !line.starts_with('|') {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn the_readme_configuration_table_is_the_settings_table() {
    let expected = readme_table();
    assert_eq!(
        readme_configuration_table(),
        expected,
        "README.md's Configuration table must be exactly (config::settings::readme_table):\n{expected}"
    );
}

#[test]
fn ochre_help_lists_every_setting_with_its_default_and_meaning() {
    let out = Command::new(ochre_bin())
        .arg("--help")
        .env_clear()
        .output()
        .expect("run ochre --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for s in SETTINGS {
        let plain = |t: &str| t.replace('`', "");
        let entry = format!(
            "  {}{}\n      default: {}\n      {}\n",
            s.var,
            if s.secret { " (secret)" } else { "" },
            plain(s.default),
            plain(s.doc)
        );
        assert!(help.contains(&entry), "--help lacks {entry}\n{help}");
    }
    for command in ["config", "migrate", "purge", "keys", "serve"] {
        assert!(help.contains(command), "--help lacks {command}");
    }
}

/// Every setting set to a valid value other than its default (FAKE
/// credentials): the file form and the environment form of each.
/// A new setting needs its sample here (the test says so).
pub(super) fn samples(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    let oauth = dir.join("oauth.toml");
    std::fs::write(
        &oauth,
        "[github]\nclient_id = \"FAKE-client\"\nclient_secret = \"FAKE-client-secret\"\n\
         authorize_url = \"https://github.test/authorize\"\ntoken_url = \"https://github.test/token\"\n",
    )
    .unwrap();
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, ochre_server::guard::EMBEDDED_RULES).unwrap();
    let bin = ochre_server::pg::find_bin_dir().expect("PostgreSQL binaries");
    let tls_key = rcgen::KeyPair::generate().unwrap();
    let tls_cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&tls_key)
        .unwrap();
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert, tls_cert.pem()).unwrap();
    std::fs::write(&key, tls_key.serialize_pem()).unwrap();
    let url = |role: &str| format!("postgres://{role}:FAKE-password@127.0.0.1:5999/ochre");
    vec![
        ("OCHRE_LISTEN_ADDR", "127.0.0.1:6001".to_owned()),
        ("OCHRE_DATA_DIR", dir.join("data").display().to_string()),
        ("DATABASE_URL", url("owner")),
        ("OCHRE_APP_DATABASE_URL", url("ochre_app")),
        ("OCHRE_SERVICE_DATABASE_URL", url("ochre_service")),
        ("OCHRE_MIGRATE_ON_START", "true".to_owned()),
        ("OCHRE_DB_MAX_CONNECTIONS", "7".to_owned()),
        ("OCHRE_DB_TRANSACTION_POOLING", "true".to_owned()),
        ("OCHRE_WORKER_THREADS", "3".to_owned()),
        (
            "OCHRE_CORS_ORIGINS",
            "https://a.test,http://localhost:5173".to_owned(),
        ),
        ("OCHRE_PUBLIC_URL", "https://app.ochre.test".to_owned()),
        ("OCHRE_LOG_FORMAT", "JSON".to_owned()),
        ("OCHRE_LOG", "warn,ochre_server=debug".to_owned()),
        ("OCHRE_DELETION_GRACE_DAYS", "3".to_owned()),
        ("OCHRE_BUDGET_RESERVATION_TTL_SECS", "60".to_owned()),
        ("OCHRE_BYOK_ENC_KEY", random_key()),
        ("OCHRE_BYOK_ENC_KEY_PREVIOUS", random_key()),
        ("OCHRE_SURVEY_TOKEN_SECRET", random_secret(32)),
        ("OCHRE_SURVEY_TOKEN_SECRET_PREVIOUS", random_secret(32)),
        ("OCHRE_SESSION_SECRET", random_secret(32)),
        ("OCHRE_OAUTH_STATE_SECRET", random_secret(32)),
        ("OCHRE_CRON_SECRET", random_secret(32)),
        ("OCHRE_AUDIT_SIGNING_KEY", random_key()),
        ("OCHRE_OAUTH_CLIENTS", oauth.display().to_string()),
        ("OCHRE_RATE_LIMITS", "write.org=100/s:200".to_owned()),
        ("OCHRE_GUARD_RULES", rules.display().to_string()),
        ("OCHRE_ADMIN_ADDR", "127.0.0.1:6002".to_owned()),
        ("OCHRE_ADMIN_TOKEN", random_secret(32)),
        ("OCHRE_ACCESS_LOG", "off".to_owned()),
        ("OCHRE_OTLP_ENDPOINT", "http://127.0.0.1:4318".to_owned()),
        ("OCHRE_OTLP_SAMPLE_RATIO", "0.25".to_owned()),
        ("OCHRE_TRUSTED_PROXIES", "10.0.0.0/8,fd00::/8".to_owned()),
        ("OCHRE_TLS_CERT", cert.display().to_string()),
        ("OCHRE_TLS_KEY", key.display().to_string()),
        ("OCHRE_PG_BIN_DIR", bin.display().to_string()),
    ]
}

/// The file form of `samples`: numbers, booleans and lists as TOML values.
pub(super) fn as_file(samples: &[(&'static str, String)]) -> String {
    let mut text = String::new();
    for (var, value) in samples {
        let key = var
            .strip_prefix("OCHRE_")
            .unwrap_or(var)
            .to_ascii_lowercase();
        let toml_value = if value.parse::<i64>().is_ok() || value == "true" {
            value.clone()
        } else if value.contains(',') && value.contains("://") {
            let items: Vec<String> = value.split(',').map(|v| format!("{v:?}")).collect();
            format!("[{}]", items.join(", "))
        } else {
            format!("{value:?}")
        };
        text.push_str(&format!("{key} = {toml_value}\n"));
    }
    text
}

#[test]
fn the_worker_threads_default_to_the_cpus_and_a_number_out_of_range_is_refused() {
    use crate::edge::settings::{refused, valid};
    use ochre_server::config::Config;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(Config::from_layers(&valid()).unwrap().worker_threads, cpus);
    let mut layers = valid();
    layers.set("OCHRE_WORKER_THREADS", "1".to_owned());
    assert_eq!(Config::from_layers(&layers).unwrap().worker_threads, 1);
    for bad in ["0", "257", "-1", "two"] {
        let mut layers = valid();
        layers.set("OCHRE_WORKER_THREADS", bad.to_owned());
        let message = refused(&layers);
        assert!(
            message.contains("OCHRE_WORKER_THREADS") && message.contains("between 1 and 256"),
            "{bad:?}: {message}"
        );
    }
}
