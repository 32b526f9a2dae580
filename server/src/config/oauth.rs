//! The OAuth clients file (`OCHRE_OAUTH_CLIENTS`): one table per OAuth
//! provider of the catalog; a table for any other name is refused.

use std::collections::HashMap;

use secrecy::SecretString;
use url::Url;

use super::{error::ConfigError, layers::invalid};

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

pub(super) fn oauth_clients(
    path: Option<&str>,
    public_url: &Url,
) -> Result<HashMap<String, OAuthClient>, ConfigError> {
    let mut out = HashMap::new();
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
        if crate::integrations::catalog::provider(&provider).is_none_or(|p| !p.oauth) {
            let known: Vec<&str> = crate::integrations::catalog::PROVIDERS
                .iter()
                .filter(|p| p.oauth)
                .map(|p| p.id)
                .collect();
            return Err(ConfigError::Invalid {
                var,
                reason: format!(
                    "[{provider}] is not an OAuth provider of the catalog (one of: {})",
                    known.join(", ")
                ),
            });
        }
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
