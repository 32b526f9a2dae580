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
