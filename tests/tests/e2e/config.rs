//! Configuration fails fast: each secret is its own variable; a missing,
//! malformed, short or duplicated one is refused with the variable named and
//! the value never shown.

use std::collections::HashMap;

use ochre_server::config::{Config, ConfigError, Layers};
use ochre_tests::prelude::*;

fn valid_vars() -> HashMap<&'static str, String> {
    HashMap::from([
        (
            "DATABASE_URL",
            "postgres://owner:pw@127.0.0.1:5432/ochre".to_owned(),
        ),
        (
            "OCHRE_APP_DATABASE_URL",
            "postgres://ochre_app:pw@127.0.0.1:5432/ochre".to_owned(),
        ),
        (
            "OCHRE_SERVICE_DATABASE_URL",
            "postgres://ochre_service:pw@127.0.0.1:5432/ochre".to_owned(),
        ),
        ("OCHRE_BYOK_ENC_KEY", random_key()),
        ("OCHRE_SURVEY_TOKEN_SECRET", random_secret(32)),
        ("OCHRE_SESSION_SECRET", random_secret(32)),
        ("OCHRE_OAUTH_STATE_SECRET", random_secret(32)),
        ("OCHRE_CRON_SECRET", random_secret(32)),
        ("OCHRE_AUDIT_SIGNING_KEY", random_key()),
    ])
}

fn valid() -> Layers {
    let mut l = Layers::default();
    for (k, v) in valid_vars() {
        l.set(k, v);
    }
    l
}

fn refused(layers: &Layers) -> String {
    Config::from_layers(layers)
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn a_complete_configuration_is_accepted_with_defaults() {
    let config = Config::from_layers(&valid()).expect("valid");
    assert_eq!(config.listen_addr.to_string(), "127.0.0.1:50051");
    assert!(config.data_dir.ends_with(".ochre"));
    assert!(!config.dev_mode);
    assert!(
        !config.migrate_on_start,
        "with DATABASE_URL, migrations are explicit"
    );
}

#[test]
fn a_short_vault_key_is_refused_naming_the_variable() {
    let mut l = valid();
    l.set("OCHRE_BYOK_ENC_KEY", "short");
    let msg = refused(&l);
    assert!(msg.contains("OCHRE_BYOK_ENC_KEY"), "{msg}");
    assert!(
        !msg.contains("short"),
        "the value must not be echoed: {msg}"
    );
}

#[test]
fn a_vault_key_of_the_wrong_length_is_refused() {
    use base64::Engine as _;
    let mut l = valid();
    let key = base64::engine::general_purpose::STANDARD.encode([7u8, 1, 2].repeat(10));
    l.set("OCHRE_BYOK_ENC_KEY", key.clone());
    let msg = refused(&l);
    assert!(
        msg.contains("OCHRE_BYOK_ENC_KEY") && msg.contains("32 bytes"),
        "{msg}"
    );
    assert!(!msg.contains(&key));
}

#[test]
fn each_missing_secret_is_named() {
    for var in [
        "OCHRE_BYOK_ENC_KEY",
        "OCHRE_SURVEY_TOKEN_SECRET",
        "OCHRE_SESSION_SECRET",
        "OCHRE_OAUTH_STATE_SECRET",
        "OCHRE_CRON_SECRET",
        "OCHRE_AUDIT_SIGNING_KEY",
    ] {
        let mut l = valid();
        l.set(var, "");
        let msg = refused(&l);
        assert!(
            msg.contains(var) && msg.contains("required"),
            "{var}: {msg}"
        );
    }
}

#[test]
fn a_short_text_secret_is_refused() {
    let mut l = valid();
    let short = random_secret(8);
    l.set("OCHRE_SESSION_SECRET", short.clone());
    let msg = refused(&l);
    assert!(
        msg.contains("OCHRE_SESSION_SECRET") && msg.contains("too short"),
        "{msg}"
    );
    assert!(!msg.contains(&short));
}

#[test]
fn two_equal_secrets_are_refused_naming_both() {
    let mut l = valid();
    let same = random_secret(32);
    l.set("OCHRE_SESSION_SECRET", same.clone())
        .set("OCHRE_OAUTH_STATE_SECRET", same.clone());
    let msg = refused(&l);
    assert!(
        msg.contains("OCHRE_SESSION_SECRET") && msg.contains("OCHRE_OAUTH_STATE_SECRET"),
        "{msg}"
    );
    assert!(!msg.contains(&same));
}

#[test]
fn the_previous_vault_key_must_differ_from_the_current_one() {
    let mut l = valid();
    let key = random_key();
    l.set("OCHRE_BYOK_ENC_KEY", key.clone())
        .set("OCHRE_BYOK_ENC_KEY_PREVIOUS", key);
    let msg = refused(&l);
    assert!(msg.contains("OCHRE_BYOK_ENC_KEY_PREVIOUS"), "{msg}");
}

#[test]
fn database_url_without_the_runtime_role_urls_is_refused() {
    let mut l = valid();
    l.set("OCHRE_APP_DATABASE_URL", "");
    assert!(matches!(
        Config::from_layers(&l),
        Err(ConfigError::Missing {
            var: "OCHRE_APP_DATABASE_URL",
            ..
        })
    ));
}

#[test]
fn partially_configured_secrets_do_not_fall_back_to_development_mode() {
    let mut l = Layers::default();
    l.set("OCHRE_DATA_DIR", "/nonexistent/ochre")
        .set("OCHRE_SESSION_SECRET", random_secret(32));
    let msg = refused(&l);
    assert!(msg.contains("OCHRE_BYOK_ENC_KEY"), "{msg}");
}

#[test]
fn cors_origins_must_be_exact_origins() {
    for bad in ["*", "https://app.test/path", "app.test", "ftp://app.test"] {
        let mut l = valid();
        l.set("OCHRE_CORS_ORIGINS", bad);
        assert!(refused(&l).contains("OCHRE_CORS_ORIGINS"), "{bad}");
    }
    let mut l = valid();
    l.set(
        "OCHRE_CORS_ORIGINS",
        "https://app.test, http://localhost:5173",
    );
    let config = Config::from_layers(&l).expect("valid origins");
    assert_eq!(
        config.cors_origins,
        ["https://app.test", "http://localhost:5173"]
    );
}

#[test]
fn a_bad_listen_address_is_refused() {
    let mut l = valid();
    l.set("OCHRE_LISTEN_ADDR", "not-an-address");
    assert!(refused(&l).contains("OCHRE_LISTEN_ADDR"));
}

#[test]
fn transaction_pooling_is_off_by_default_and_takes_only_a_boolean() {
    assert!(
        !Config::from_layers(&valid())
            .unwrap()
            .db_transaction_pooling
    );
    let mut l = valid();
    l.set("OCHRE_DB_TRANSACTION_POOLING", "true");
    assert!(Config::from_layers(&l).unwrap().db_transaction_pooling);
    l.set("OCHRE_DB_TRANSACTION_POOLING", "transaction");
    assert!(refused(&l).contains("OCHRE_DB_TRANSACTION_POOLING"));
}

#[test]
fn the_deletion_grace_is_thirty_days_by_default_and_never_under_one_day() {
    let config = Config::from_layers(&valid()).expect("valid");
    assert_eq!(config.deletion_grace, chrono::Duration::days(30));
    for bad in ["0", "-1", "1.5", "a week", "3651"] {
        let mut l = valid();
        l.set("OCHRE_DELETION_GRACE_DAYS", bad);
        assert!(
            refused(&l).contains("OCHRE_DELETION_GRACE_DAYS"),
            "{bad} must be refused"
        );
    }
    let mut l = valid();
    l.set("OCHRE_DELETION_GRACE_DAYS", "1");
    let config = Config::from_layers(&l).expect("one day is the minimum");
    assert_eq!(config.deletion_grace, chrono::Duration::days(1));
}

#[test]
fn the_guard_rules_are_embedded_by_default_and_a_rule_file_replaces_them_or_stops_the_start() {
    let config = Config::from_layers(&valid()).expect("valid");
    assert_eq!(config.guard.version(), "v1.0");
    let dir = tempfile::tempdir().unwrap();
    let tuned = dir.path().join("rules.toml");
    let text = ochre_server::guard::EMBEDDED_RULES.replacen("\"v1.0\"", "\"v1.1-tuned\"", 1);
    std::fs::write(&tuned, text).unwrap();
    let mut l = valid();
    l.set("OCHRE_GUARD_RULES", tuned.display().to_string());
    let config = Config::from_layers(&l).expect("a valid rule file");
    assert_eq!(config.guard.version(), "v1.1-tuned");
    assert_eq!(config.guard.screen("hello").rules_version, "v1.1-tuned");
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "version = \"v2\"\n[[rule]]\nid = 1\n").unwrap();
    for path in [broken, dir.path().join("missing.toml")] {
        let mut l = valid();
        l.set("OCHRE_GUARD_RULES", path.display().to_string());
        assert!(refused(&l).contains("OCHRE_GUARD_RULES"), "{path:?}");
    }
}

#[test]
fn a_config_file_is_layered_under_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ochre.toml");
    std::fs::write(
        &file,
        "listen_addr = \"127.0.0.1:6000\"\ncors_origins = [\"https://a.test\"]\n",
    )
    .unwrap();
    let mut env = valid_vars();
    env.insert("OCHRE_LISTEN_ADDR", "127.0.0.1:7000".to_owned());
    let lookup = |k: &str| env.get(k).cloned();
    let layers = Layers::build(Some(file.clone()), lookup).unwrap();
    let config = Config::from_layers(&layers).unwrap();
    assert_eq!(config.listen_addr.port(), 7000, "the environment wins");
    assert_eq!(
        config.cors_origins,
        ["https://a.test"],
        "the file fills the rest"
    );

    std::fs::write(&file, "no_such_key = 1\n").unwrap();
    let err = Layers::build(Some(file), |_| None).unwrap_err().to_string();
    assert!(err.contains("no_such_key"), "{err}");
}

#[test]
fn secrets_do_not_appear_in_the_debug_output_of_the_configuration() {
    let l = valid();
    let config = Config::from_layers(&l).unwrap();
    let debug = format!("{config:?}");
    assert!(debug.contains("REDACTED"), "{debug}");
    assert!(
        !debug.contains("postgres://owner:pw"),
        "database URLs carry passwords: {debug}"
    );
}

#[test]
fn a_vault_keys_base64_reused_as_a_text_secret_is_refused() {
    let mut l = valid();
    let key = random_key();
    l.set("OCHRE_BYOK_ENC_KEY", key.clone())
        .set("OCHRE_SESSION_SECRET", key.clone());
    let msg = refused(&l);
    assert!(
        msg.contains("OCHRE_BYOK_ENC_KEY") && msg.contains("OCHRE_SESSION_SECRET"),
        "{msg}"
    );
    assert!(!msg.contains(&key));
}

#[test]
fn the_budget_reservation_lifetime_is_fifteen_minutes_by_default_and_bounded() {
    let config = Config::from_layers(&valid()).expect("valid");
    assert_eq!(config.budget_reservation_ttl_secs, 900);
    for bad in ["0", "-5", "1.5", "a minute", "86401"] {
        let mut l = valid();
        l.set("OCHRE_BUDGET_RESERVATION_TTL_SECS", bad);
        assert!(
            refused(&l).contains("OCHRE_BUDGET_RESERVATION_TTL_SECS"),
            "{bad} must be refused"
        );
    }
    let mut l = valid();
    l.set("OCHRE_BUDGET_RESERVATION_TTL_SECS", "86400");
    let config = Config::from_layers(&l).expect("a day is the maximum");
    assert_eq!(config.budget_reservation_ttl_secs, 86_400);
}

#[test]
fn rate_limits_default_to_the_table_and_a_bad_override_stops_the_start() {
    use ochre_server::limits::config::{LIMITS, Limit};
    let config = Config::from_layers(&valid()).expect("valid");
    for (name, default, _) in LIMITS {
        assert_eq!(
            config.rate_limits.get(name),
            Some(default.parse::<Limit>().unwrap()),
            "{name}"
        );
    }
    let mut l = valid();
    l.set(
        "OCHRE_RATE_LIMITS",
        "read.principal=5/s:9, sign_up.address=off",
    );
    let config = Config::from_layers(&l).expect("overrides");
    let read = config.rate_limits.get("read.principal").unwrap();
    assert_eq!((read.count, read.burst), (5, 9));
    assert_eq!(config.rate_limits.get("sign_up.address"), None);
    assert!(
        config.rate_limits.get("write.org").is_some(),
        "the rest stay"
    );
    for bad in [
        "read.principal=0/s",
        "read.principal=5/w",
        "read.principal=5/s:0",
        "reads=5/s",
        "read.principal",
        "read.principal=lots",
    ] {
        let mut l = valid();
        l.set("OCHRE_RATE_LIMITS", bad);
        let message = refused(&l);
        assert!(message.contains("OCHRE_RATE_LIMITS"), "{bad}: {message}");
    }
}
