//! The edge settings refuse what they cannot use, naming the variable and
//! never quoting a file: a certificate without a key (or the reverse), a
//! file that is not PEM or holds the wrong thing, a key of another
//! certificate, a trusted-proxy entry that is not a CIDR range. The binary
//! exits 2 on them before touching anything.

use ochre_server::config::{Config, Layers};
use ochre_tests::prelude::*;

use super::pki::Pki;

pub(crate) fn valid() -> Layers {
    let mut l = Layers::default();
    let url = |role: &str| format!("postgres://{role}:FAKE-pw@127.0.0.1:5432/ochre");
    l.set("DATABASE_URL", url("owner"))
        .set("OCHRE_APP_DATABASE_URL", url("ochre_app"))
        .set("OCHRE_SERVICE_DATABASE_URL", url("ochre_service"))
        .set("OCHRE_BYOK_ENC_KEY", random_key())
        .set("OCHRE_SURVEY_TOKEN_SECRET", random_secret(32))
        .set("OCHRE_SESSION_SECRET", random_secret(32))
        .set("OCHRE_OAUTH_STATE_SECRET", random_secret(32))
        .set("OCHRE_CRON_SECRET", random_secret(32))
        .set("OCHRE_AUDIT_SIGNING_KEY", random_key());
    l
}

pub(crate) fn refused(layers: &Layers) -> String {
    Config::from_layers(layers)
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn a_certificate_and_its_key_are_accepted_and_one_without_the_other_is_refused() {
    let pki = Pki::new("settings");
    let files = pki.issue("server");
    let (cert, key) = (
        files.cert.display().to_string(),
        files.key.display().to_string(),
    );
    let mut both = valid();
    both.set("OCHRE_TLS_CERT", &cert).set("OCHRE_TLS_KEY", &key);
    let config = Config::from_layers(&both).expect("a valid pair");
    let tls = config.tls.as_ref().expect("TLS configured");
    assert_eq!(
        format!("{tls:?}"),
        format!("TlsFiles {{ cert: {cert:?}, key: {key:?}, .. }}"),
        "a debug print shows the paths, never key or certificate bytes"
    );
    assert!(Config::from_layers(&valid()).unwrap().tls.is_none());

    let mut cert_only = valid();
    cert_only.set("OCHRE_TLS_CERT", &cert);
    let e = refused(&cert_only);
    assert!(e.contains("OCHRE_TLS_KEY is required"), "{e}");
    let mut key_only = valid();
    key_only.set("OCHRE_TLS_KEY", &key);
    let e = refused(&key_only);
    assert!(e.contains("OCHRE_TLS_CERT is required"), "{e}");
}

#[test]
fn unreadable_or_wrong_pem_files_are_refused_naming_the_variable_not_the_content() {
    let pki = Pki::new("bad-pem");
    let good = pki.issue("good");
    let other = pki.issue("other");
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, "FAKE-not-pem-content\n").unwrap();
    let cases = [
        // (cert, key, the variable blamed)
        (pki.path("missing.crt"), good.key.clone(), "OCHRE_TLS_CERT"),
        (garbage.clone(), good.key.clone(), "OCHRE_TLS_CERT"),
        (good.key.clone(), good.key.clone(), "OCHRE_TLS_CERT"),
        (good.cert.clone(), pki.path("missing.key"), "OCHRE_TLS_KEY"),
        (good.cert.clone(), garbage.clone(), "OCHRE_TLS_KEY"),
        (good.cert.clone(), good.cert.clone(), "OCHRE_TLS_KEY"),
        (good.cert.clone(), other.key.clone(), "OCHRE_TLS_KEY"),
    ];
    for (cert, key, var) in cases {
        let mut l = valid();
        l.set("OCHRE_TLS_CERT", cert.display().to_string())
            .set("OCHRE_TLS_KEY", key.display().to_string());
        let e = refused(&l);
        let what = format!("{} / {}", cert.display(), key.display());
        assert!(e.starts_with(&format!("{var} is invalid")), "{what}: {e}");
        assert!(!e.contains("FAKE") && !e.contains("BEGIN"), "{what}: {e}");
    }
}

#[test]
fn trusted_proxies_must_be_cidr_ranges_and_a_catch_all_is_allowed() {
    for ok in [
        "10.0.0.0/8",
        "10.0.0.0/8, 2001:db8::/32",
        "192.0.2.1",
        "0.0.0.0/0,::/0",
    ] {
        let mut l = valid();
        l.set("OCHRE_TRUSTED_PROXIES", ok);
        Config::from_layers(&l).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in [
        "10.0.0.0/33",
        "proxy.internal",
        "10.0.0.0/8;10.1.0.0/16",
        "*",
    ] {
        let mut l = valid();
        l.set("OCHRE_TRUSTED_PROXIES", bad);
        let e = refused(&l);
        assert!(
            e.starts_with("OCHRE_TRUSTED_PROXIES is invalid"),
            "{bad}: {e}"
        );
        assert!(!e.contains(bad), "{bad}: the value is not echoed: {e}");
    }
}

#[tokio::test]
async fn the_binary_exits_2_naming_a_bad_edge_setting() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new("binary");
    let files = pki.issue("server");
    let cases: [(&[(&str, String)], &str); 3] = [
        (
            &[("OCHRE_TLS_CERT", files.cert.display().to_string())],
            "OCHRE_TLS_KEY",
        ),
        (
            &[
                ("OCHRE_TLS_CERT", files.key.display().to_string()),
                ("OCHRE_TLS_KEY", files.key.display().to_string()),
            ],
            "OCHRE_TLS_CERT",
        ),
        (
            &[("OCHRE_TRUSTED_PROXIES", "10.0.0.0/99".to_owned())],
            "OCHRE_TRUSTED_PROXIES",
        ),
    ];
    for (vars, named) in cases {
        let output = tokio::process::Command::new(ochre_tests::ochre_bin())
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("OCHRE_DATA_DIR", dir.path())
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{named}: {stderr}");
        assert!(stderr.contains(named), "{named}: {stderr}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing was written before the refusal"
    );
}
