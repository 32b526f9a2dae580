//! Every setting reads the same from the file (`--config FILE`, keys in
//! lower case without `OCHRE_`) as from the environment; `ochre config
//! check` shows it all with secrets only as set/unset; a bad value exits 2
//! naming the variable, from `config check` and `serve` alike.

use std::{collections::HashMap, process::Command};

use ochre_server::config::{Config, Layers, settings::SETTINGS};
use secrecy::ExposeSecret as _;

use super::settings::{as_file, samples};
use ochre_tests::ochre_bin;

/// What a configuration holds, secrets exposed (to compare two of them).
fn effective(config: &Config) -> String {
    let s = &config.secrets;
    let key = |k: &secrecy::SecretBox<[u8; 32]>| format!("{:?}", k.expose_secret());
    let database = match &config.database {
        ochre_server::config::DatabaseConfig::External {
            owner_url,
            app_url,
            service_url,
        } => format!(
            "{} {} {}",
            owner_url.expose_secret(),
            app_url.expose_secret(),
            service_url.expose_secret()
        ),
        ochre_server::config::DatabaseConfig::Embedded => "embedded".to_owned(),
    };
    let oauth: Vec<String> = config
        .oauth_clients
        .iter()
        .map(|(k, c)| format!("{k} {} {}", c.client_id, c.client_secret.expose_secret()))
        .collect();
    format!(
        "{config:?}\n{database}\n{oauth:?}\n{} {:?} {} {:?} {} {} {} {}",
        key(&s.byok_enc_key),
        s.byok_enc_key_previous.as_ref().map(key),
        s.survey_token_secret.expose_secret(),
        s.survey_token_secret_previous
            .as_ref()
            .map(|v| v.expose_secret().to_owned()),
        s.session_secret.expose_secret(),
        s.oauth_state_secret.expose_secret(),
        s.cron_secret.expose_secret(),
        key(&s.audit_signing_key),
    )
}

#[test]
fn every_setting_round_trips_through_the_file_and_the_environment_alike() {
    let dir = tempfile::tempdir().unwrap();
    let samples = samples(dir.path());
    for s in SETTINGS {
        assert!(
            samples.iter().any(|(var, _)| *var == s.var),
            "{} has no sample in cli::settings::samples: add one",
            s.var
        );
    }
    let env: HashMap<&str, String> = samples.iter().cloned().collect();
    let from_env = Layers::build(None, |k| env.get(k).cloned()).unwrap();
    let file = dir.path().join("ochre.toml");
    std::fs::write(&file, as_file(&samples)).unwrap();
    let from_file = Layers::build(Some(file), |_| None).unwrap();

    let a = Config::from_layers(&from_env).expect("the environment form is valid");
    let b = Config::from_layers(&from_file).expect("the file form is valid");
    assert_eq!(effective(&a), effective(&b));
    // And none of the samples is the default: each was read.
    let defaults = {
        let mut l = Layers::default();
        for (var, value) in &samples {
            if SETTINGS.iter().any(|s| s.var == *var && s.secret) {
                l.set(var, value.clone());
            }
        }
        Config::from_layers(&l).expect("defaults with secrets")
    };
    assert_eq!(a.listen_addr.port(), 6001);
    assert_eq!(a.db_max_connections, 7);
    assert_eq!(a.log_format, ochre_server::config::LogFormat::Json);
    assert_eq!(a.log_filter.as_deref(), Some("warn,ochre_server=debug"));
    assert!(a.pg_bin_dir.is_some() && a.migrate_on_start);
    assert_ne!(a.deletion_grace, defaults.deletion_grace);
    assert_ne!(
        a.budget_reservation_ttl_secs,
        defaults.budget_reservation_ttl_secs
    );
    assert_ne!(a.guard.version(), "", "guard rules read");
    assert_eq!(a.oauth_clients.len(), 1);
    assert_eq!(a.cors_origins.len(), 2);
}

fn ochre(args: &[&str], env: &[(&str, String)]) -> (i32, String, String) {
    let out = Command::new(ochre_bin())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run ochre");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_prints_every_setting_with_secrets_only_as_set_or_unset() {
    let dir = tempfile::tempdir().unwrap();
    let mut samples = samples(dir.path());
    samples.retain(|(var, _)| *var != "OCHRE_SURVEY_TOKEN_SECRET_PREVIOUS");
    let (code, out, err) = ochre(&["config", "check"], &samples);
    assert_eq!(code, 0, "{err}");
    for s in SETTINGS {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(s.var))
            .unwrap_or_else(|| panic!("{} missing from:\n{out}", s.var));
        if s.var == "OCHRE_SURVEY_TOKEN_SECRET_PREVIOUS" {
            assert!(line.ends_with("unset"), "{line}");
        } else if s.secret {
            assert!(line.ends_with("set (environment)"), "{line}");
        } else {
            assert!(line.ends_with("(environment)"), "{line}");
        }
    }
    assert!(out.contains("OCHRE_DB_MAX_CONNECTIONS") && out.contains("7 (environment)"));
    for (var, value) in &samples {
        if SETTINGS.iter().any(|s| s.var == *var && s.secret) {
            assert!(!out.contains(value.as_str()), "{var}'s value printed");
            assert!(!err.contains(value.as_str()), "{var}'s value logged");
        }
    }
    assert!(!out.contains("FAKE-password"), "{out}");
}

#[test]
fn config_check_in_development_mode_writes_nothing() {
    let dir = super::data_dir();
    let (code, out, err) = ochre(
        &["config", "check"],
        &[("OCHRE_DATA_DIR", dir.path().display().to_string())],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("development mode"), "{out}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "config check wrote into the data directory"
    );
}

#[test]
fn a_bad_value_exits_2_naming_the_variable_from_config_check_and_serve() {
    let dir = super::data_dir();
    let data = dir.path().display().to_string();
    let oauth = dir.path().join("oauth.toml");
    std::fs::write(
        &oauth,
        "[gitlab]\nclient_id = \"FAKE\"\nclient_secret = \"FAKE-secret\"\n\
         authorize_url = \"https://x.test/a\"\ntoken_url = \"https://x.test/t\"\n",
    )
    .unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "OCHRE_DATA_DIR",
            "/tmp/ochre with space".to_owned(),
            "letters, digits",
        ),
        ("OCHRE_PG_BIN_DIR", "/nonexistent/bin".to_owned(), "initdb"),
        ("OCHRE_BYOK_ENC_KEY_PREVIOUS", "bad".to_owned(), "base64"),
        (
            "OCHRE_CORS_ORIGINS",
            "https://*.ochre.test".to_owned(),
            "wildcard",
        ),
        ("OCHRE_CORS_ORIGINS", "*".to_owned(), "wildcard"),
        ("OCHRE_LOG_FORMAT", "yaml".to_owned(), "human"),
        ("OCHRE_LOG", "info,[".to_owned(), "filter"),
        (
            "OCHRE_OAUTH_CLIENTS",
            oauth.display().to_string(),
            "[gitlab]",
        ),
    ];
    for (var, value, why) in cases {
        for args in [&["config", "check"][..], &["serve"][..]] {
            let mut env = vec![("OCHRE_DATA_DIR", data.clone())];
            env.push((var, value.clone()));
            let (code, _, err) = ochre(args, &env);
            assert_eq!(code, 2, "{args:?} {var}={value}: {err}");
            assert!(
                err.contains(&format!("{var} is invalid")) && err.contains(why),
                "{args:?} {var}={value}: {err}"
            );
        }
    }
    assert!(!dir.path().join("postgres").exists(), "nothing was started");
}

#[test]
fn the_log_format_of_the_file_takes_effect_in_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ochre.toml");
    // JSON in capitals, and a bad value for a log line to appear.
    std::fs::write(&file, "log_format = \"JSON\"\ndeletion_grace_days = 0\n").unwrap();
    let path = file.display().to_string();
    let (code, _, err) = ochre(&["--config", &path, "serve"], &[]);
    assert_eq!(code, 2, "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("OCHRE_DELETION_GRACE_DAYS"))
        .unwrap_or_else(|| panic!("no log line: {err}"));
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(json["level"], "ERROR");
    // The same value in the environment is accepted the same way.
    let (code, _, err) = ochre(
        &["serve"],
        &[
            ("OCHRE_LOG_FORMAT", "Json".to_owned()),
            ("OCHRE_DELETION_GRACE_DAYS", "0".to_owned()),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.lines().next().unwrap_or("").starts_with('{'), "{err}");
    // pg_bin_dir is a file key too.
    std::fs::write(&file, "pg_bin_dir = \"/nonexistent/bin\"\n").unwrap();
    let (code, _, err) = ochre(&["--config", &path, "config", "check"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("OCHRE_PG_BIN_DIR is invalid"), "{err}");
}

#[test]
fn in_development_mode_a_set_secret_overrides_the_generated_one_and_the_rest_still_load() {
    let dir = super::data_dir();
    let mut layers = Layers::default();
    layers.set("OCHRE_DATA_DIR", dir.path().display().to_string());
    let generated = Config::from_layers(&layers).expect("development mode generates");
    assert!(generated.dev_mode);
    // A rotation as the README shows it: a new vault key, the old one as
    // the previous; nothing else configured.
    let old = generated.secrets.byok_enc_key.expose_secret().to_vec();
    let new = ochre_tests::random_key();
    use base64::Engine as _;
    let old_b64 = base64::engine::general_purpose::STANDARD.encode(&old);
    layers
        .set("OCHRE_BYOK_ENC_KEY", new.clone())
        .set("OCHRE_BYOK_ENC_KEY_PREVIOUS", old_b64);
    let rotated = Config::from_layers(&layers).expect("the other secrets come from the file");
    assert!(rotated.dev_mode);
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .encode(rotated.secrets.byok_enc_key.expose_secret()),
        new
    );
    assert_eq!(
        rotated
            .secrets
            .byok_enc_key_previous
            .as_ref()
            .map(|k| k.expose_secret().to_vec()),
        Some(old)
    );
    assert_eq!(
        rotated.secrets.session_secret.expose_secret(),
        generated.secrets.session_secret.expose_secret()
    );
}
