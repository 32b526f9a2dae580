//! The observability settings: the admin listener (`OCHRE_ADMIN_ADDR`,
//! `OCHRE_ADMIN_TOKEN`), the access log (`OCHRE_ACCESS_LOG`) and trace
//! export (`OCHRE_OTLP_ENDPOINT`, `OCHRE_OTLP_SAMPLE_RATIO`).

use std::net::SocketAddr;

use secrecy::SecretString;
use url::Url;

use super::{
    error::ConfigError,
    layers::{Layers, invalid, parse, parse_bool},
};

/// Shortest admin token accepted (bytes).
pub const MIN_ADMIN_TOKEN: usize = 32;

/// The trace export settings.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    /// Where spans are POSTed (`…/v1/traces`).
    pub endpoint: Url,
    /// The share of new traces kept, 0.0 to 1.0.
    pub sample_ratio: f64,
}

impl OtlpConfig {
    /// The traces URL of a collector's base URL (or of its traces URL).
    pub fn new(base: Url, sample_ratio: f64) -> Self {
        let endpoint = if base.path().ends_with("/v1/traces") {
            base
        } else {
            let mut url = base;
            let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
            url.set_path(&path);
            url
        };
        OtlpConfig {
            endpoint,
            sample_ratio,
        }
    }
}

/// Where the admin listener binds and what it asks for.
#[derive(Debug)]
pub struct AdminConfig {
    /// `OCHRE_ADMIN_ADDR` (default `127.0.0.1:9464`); `None` when `off`.
    pub addr: Option<SocketAddr>,
    /// `OCHRE_ADMIN_TOKEN`: the bearer token every admin request must carry
    /// (required when the address is not loopback).
    pub token: Option<SecretString>,
}

/// The observability part of the configuration.
#[derive(Debug)]
pub struct Observe {
    pub admin: AdminConfig,
    pub access_log: bool,
    pub otlp: Option<OtlpConfig>,
}

pub(super) fn observe(layers: &Layers) -> Result<Observe, ConfigError> {
    let addr = match layers.get("OCHRE_ADMIN_ADDR").map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("off") => None,
        _ => Some(parse::<SocketAddr>(
            layers,
            "OCHRE_ADMIN_ADDR",
            "127.0.0.1:9464",
        )?),
    };
    let token = match layers.get("OCHRE_ADMIN_TOKEN") {
        None => None,
        Some(v) if v.len() < MIN_ADMIN_TOKEN || v.trim() != v => {
            return Err(invalid(
                "OCHRE_ADMIN_TOKEN",
                "must be at least 32 bytes, with no surrounding spaces",
            ));
        }
        Some(v) => Some(SecretString::from(v.to_owned())),
    };
    if let Some(a) = addr
        && !a.ip().is_loopback()
        && token.is_none()
    {
        return Err(ConfigError::Missing {
            var: "OCHRE_ADMIN_TOKEN",
            hint: " when OCHRE_ADMIN_ADDR is not a loopback address (or set OCHRE_ADMIN_ADDR=off)",
        });
    }
    let access_log = match layers.get("OCHRE_ACCESS_LOG") {
        None => true,
        Some(v) => parse_bool(v)
            .ok_or_else(|| invalid("OCHRE_ACCESS_LOG", "must be on or off (true or false)"))?,
    };
    let ratio: f64 = parse(layers, "OCHRE_OTLP_SAMPLE_RATIO", "1.0")?;
    if !(0.0..=1.0).contains(&ratio) {
        return Err(invalid(
            "OCHRE_OTLP_SAMPLE_RATIO",
            "must be a number from 0.0 to 1.0",
        ));
    }
    let otlp = match layers.get("OCHRE_OTLP_ENDPOINT").map(str::trim) {
        None | Some("") => None,
        Some(v) => {
            let url = Url::parse(v)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .filter(|u| u.username().is_empty() && u.password().is_none())
                .ok_or_else(|| {
                    invalid(
                        "OCHRE_OTLP_ENDPOINT",
                        "must be the collector's http(s) URL, with no credentials",
                    )
                })?;
            Some(OtlpConfig::new(url, ratio))
        }
    };
    Ok(Observe {
        admin: AdminConfig { addr, token },
        access_log,
        otlp,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Observe, ConfigError> {
        let mut layers = Layers::default();
        for (k, v) in pairs {
            layers.set(k, *v);
        }
        observe(&layers)
    }

    fn var_of(e: ConfigError) -> &'static str {
        match e {
            ConfigError::Missing { var, .. } | ConfigError::Invalid { var, .. } => var,
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn the_defaults_are_loopback_metrics_an_access_log_and_no_traces() {
        let o = with(&[]).unwrap();
        assert_eq!(o.admin.addr, Some("127.0.0.1:9464".parse().unwrap()));
        assert!(o.admin.token.is_none());
        assert!(o.access_log);
        assert!(o.otlp.is_none());
        assert!(
            with(&[("OCHRE_ADMIN_ADDR", "off")])
                .unwrap()
                .admin
                .addr
                .is_none()
        );
        assert!(!with(&[("OCHRE_ACCESS_LOG", "off")]).unwrap().access_log);
    }

    #[test]
    fn off_loopback_the_admin_port_needs_a_long_token() {
        let public = ("OCHRE_ADMIN_ADDR", "0.0.0.0:9464");
        assert_eq!(var_of(with(&[public]).unwrap_err()), "OCHRE_ADMIN_TOKEN");
        let short = ("OCHRE_ADMIN_TOKEN", "FAKE-short");
        assert_eq!(
            var_of(with(&[public, short]).unwrap_err()),
            "OCHRE_ADMIN_TOKEN"
        );
        let long = ("OCHRE_ADMIN_TOKEN", "FAKE-admin-token-0123456789abcdef0123");
        assert!(with(&[public, long]).unwrap().admin.token.is_some());
        assert!(with(&[("OCHRE_ADMIN_ADDR", "[::1]:0")]).is_ok());
    }

    #[test]
    fn the_otlp_endpoint_gets_its_traces_path_and_the_ratio_is_bounded() {
        let o = with(&[("OCHRE_OTLP_ENDPOINT", "http://collector:4318")]).unwrap();
        let otlp = o.otlp.unwrap();
        assert_eq!(otlp.endpoint.as_str(), "http://collector:4318/v1/traces");
        assert!((otlp.sample_ratio - 1.0).abs() < f64::EPSILON);
        let given = with(&[("OCHRE_OTLP_ENDPOINT", "https://c.example/v1/traces")]).unwrap();
        assert_eq!(
            given.otlp.unwrap().endpoint.as_str(),
            "https://c.example/v1/traces"
        );
        for bad in ["1.5", "-0.1", "half"] {
            let e = with(&[("OCHRE_OTLP_SAMPLE_RATIO", bad)]).unwrap_err();
            assert_eq!(var_of(e), "OCHRE_OTLP_SAMPLE_RATIO");
        }
        for bad in ["ftp://c", "http://user:FAKE@c:4318", "not a url"] {
            let e = with(&[("OCHRE_OTLP_ENDPOINT", bad)]).unwrap_err();
            assert_eq!(var_of(e), "OCHRE_OTLP_ENDPOINT");
        }
    }
}
