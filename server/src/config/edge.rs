//! The edge's settings: the trusted proxies (`OCHRE_TRUSTED_PROXIES`) and
//! native TLS (`OCHRE_TLS_CERT`, `OCHRE_TLS_KEY`), checked when the
//! configuration loads.

use super::{error::ConfigError, layers::Layers};
use crate::edge::{TlsFiles, TrustedProxies};

/// The trusted proxies and the TLS files, validated.
pub(super) fn edge(layers: &Layers) -> Result<(TrustedProxies, Option<TlsFiles>), ConfigError> {
    let trusted = TrustedProxies::parse(layers.get("OCHRE_TRUSTED_PROXIES").unwrap_or(""))
        .map_err(|reason| ConfigError::Invalid {
            var: "OCHRE_TRUSTED_PROXIES",
            reason,
        })?;
    Ok((trusted, tls_files(layers)?))
}

fn tls_files(layers: &Layers) -> Result<Option<TlsFiles>, ConfigError> {
    let missing = |var, hint| ConfigError::Missing { var, hint };
    match (layers.get("OCHRE_TLS_CERT"), layers.get("OCHRE_TLS_KEY")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(missing("OCHRE_TLS_KEY", " when OCHRE_TLS_CERT is set")),
        (None, Some(_)) => Err(missing("OCHRE_TLS_CERT", " when OCHRE_TLS_KEY is set")),
        (Some(cert), Some(key)) => {
            TlsFiles::load(std::path::Path::new(cert), std::path::Path::new(key))
                .map(Some)
                .map_err(|e| ConfigError::Invalid {
                    var: e.var,
                    reason: e.reason,
                })
        }
    }
}
