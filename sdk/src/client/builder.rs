//! [`OchreClientBuilder`]: the URL, the credential, the org and the
//! transport options of an [`OchreClient`].

use std::{sync::Arc, time::Duration};

use tonic::{
    metadata::AsciiMetadataValue,
    transport::{ClientTlsConfig, Endpoint},
};

use crate::v1::{CompleteLoginRequest, LoginRequest, LoginResponse, SessionTokens};

use super::{
    Backoff, Credential, Inner, OchreClient, OchreError, Wire,
    session::{Session, TokensCallback},
};

/// The default per-call timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// The default number of retries of an idempotent call.
pub const DEFAULT_RETRIES: u32 = 3;
/// How long before its expiry an access token is refreshed, by default.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

enum Login {
    None,
    ApiKey(String),
    SignIn { email: String, password: String },
    Session(SessionTokens),
}

/// Configures an [`OchreClient`]; from [`OchreClient::builder`].
///
/// Nothing connects before the first call, except
/// [`sign_in`](Self::sign_in), which signs in when [`build`](Self::build)
/// runs.
pub struct OchreClientBuilder {
    url: String,
    login: Login,
    second_factor: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    org: Option<String>,
    timeout: Duration,
    gzip: bool,
    retries: u32,
    backoff: Backoff,
    refresh_margin: Duration,
    on_tokens: Option<TokensCallback>,
}

impl std::fmt::Debug for OchreClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let login = match &self.login {
            Login::None => "none",
            Login::ApiKey(_) => "api key",
            Login::SignIn { .. } => "sign in",
            Login::Session(_) => "session",
        };
        f.debug_struct("OchreClientBuilder")
            .field("url", &self.url)
            .field("credential", &login)
            .field("org", &self.org)
            .field("timeout", &self.timeout)
            .field("gzip", &self.gzip)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl OchreClientBuilder {
    pub(super) fn new(url: String) -> Self {
        OchreClientBuilder {
            url,
            login: Login::None,
            second_factor: None,
            org: None,
            timeout: DEFAULT_TIMEOUT,
            gzip: false,
            retries: DEFAULT_RETRIES,
            backoff: Backoff::default(),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            on_tokens: None,
        }
    }

    /// Calls with an org API key (its secret, `ok_...`). An API key acts on
    /// its own org: also set [`org`](Self::org).
    pub fn api_key(mut self, secret: impl Into<String>) -> Self {
        self.login = Login::ApiKey(secret.into());
        self
    }

    /// Signs in with email and password when [`build`](Self::build) runs.
    /// An account with a second factor needs [`totp_code`](Self::totp_code)
    /// or [`totp_with`](Self::totp_with), else the build fails with
    /// [`OchreError::SecondFactorRequired`].
    pub fn sign_in(mut self, email: impl Into<String>, password: impl Into<String>) -> Self {
        self.login = Login::SignIn {
            email: email.into(),
            password: password.into(),
        };
        self
    }

    /// The current TOTP code, for a [`sign_in`](Self::sign_in) that asks
    /// for a second factor.
    pub fn totp_code(mut self, code: impl Into<String>) -> Self {
        let code = code.into();
        self.second_factor = Some(Arc::new(move || code.clone()));
        self
    }

    /// Asks for a TOTP code only if the sign-in needs one.
    pub fn totp_with(mut self, code: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.second_factor = Some(Arc::new(code));
        self
    }

    /// Uses a session's existing tokens (persisted from an earlier sign-in
    /// or refresh); they are refreshed as needed.
    pub fn session(mut self, tokens: SessionTokens) -> Self {
        self.login = Login::Session(tokens);
        self
    }

    /// The org the calls act on (`x-ochre-org`): its id, a UUID.
    pub fn org(mut self, org: impl ToString) -> Self {
        self.org = Some(org.to_string());
        self
    }

    /// The timeout of each attempt of a call (default 15 s; for a stream,
    /// until its first answer); also sent to the server as a unary call's
    /// deadline. A call that times out is DEADLINE_EXCEEDED, not retried.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Compresses requests with gzip and accepts gzip responses (default
    /// off).
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// How many times an idempotent call is retried on UNAVAILABLE
    /// (default 3; 0 turns retries off).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The backoff between retries (default: from 100 ms doubling up to
    /// 5 s, each wait jittered between half and all of it).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long before its expiry the access token is refreshed (default
    /// 60 s).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Called with every new token pair of the session (after sign-in and
    /// each refresh) so that it can be persisted; the previous refresh
    /// token no longer works once it is called.
    pub fn on_tokens(mut self, callback: impl Fn(&SessionTokens) + Send + Sync + 'static) -> Self {
        self.on_tokens = Some(Arc::new(callback));
        self
    }

    /// Builds the client (and signs in, for [`sign_in`](Self::sign_in)).
    pub async fn build(self) -> Result<OchreClient, OchreError> {
        let wire = Wire {
            channel: self.endpoint()?.connect_lazy(),
            gzip: self.gzip,
        };
        let org = self.org.as_deref().map(org_header).transpose()?;
        let credential = match self.login {
            Login::None => Credential::None,
            Login::ApiKey(secret) => Credential::ApiKey(bearer(&secret)?),
            Login::Session(tokens) => {
                Credential::Session(Session::new(tokens, self.refresh_margin, self.on_tokens))
            }
            Login::SignIn { email, password } => {
                let tokens = sign_in(&wire, email, password, self.second_factor).await?;
                if let Some(callback) = &self.on_tokens {
                    callback(&tokens);
                }
                Credential::Session(Session::new(tokens, self.refresh_margin, self.on_tokens))
            }
        };
        Ok(OchreClient {
            inner: Arc::new(Inner {
                wire,
                credential,
                timeout: self.timeout,
                retries: self.retries,
                backoff: self.backoff,
            }),
            org,
        })
    }

    fn endpoint(&self) -> Result<Endpoint, OchreError> {
        let https = self.url.starts_with("https://");
        if !https && !self.url.starts_with("http://") {
            return Err(OchreError::InvalidConfig(format!(
                "the URL must start with https:// (or http:// for a local server): {:?}",
                self.url
            )));
        }
        let endpoint = Endpoint::from_shared(self.url.clone())
            .map_err(|e| OchreError::InvalidConfig(format!("the URL is not valid: {e}")))?
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .user_agent(concat!("ochre-sdk-rust/", env!("CARGO_PKG_VERSION")))?;
        if https {
            // The platform's trust store and the webpki roots, so that a
            // server with a public certificate works on any machine.
            let tls = ClientTlsConfig::new().with_enabled_roots();
            Ok(endpoint.tls_config(tls)?)
        } else {
            Ok(endpoint)
        }
    }
}

async fn sign_in(
    wire: &Wire,
    email: String,
    password: String,
    second_factor: Option<Arc<dyn Fn() -> String + Send + Sync>>,
) -> Result<SessionTokens, OchreError> {
    let answer: LoginResponse = wire
        .unary(
            "/ochre.v1.AuthService/Login",
            tonic::Request::new(LoginRequest { email, password }),
        )
        .await?;
    if let Some(tokens) = answer.tokens {
        return Ok(tokens);
    }
    if answer.second_factor_ticket.is_empty() {
        return Err(
            tonic::Status::internal("Login answered neither a session nor a ticket").into(),
        );
    }
    let code = second_factor.ok_or(OchreError::SecondFactorRequired)?;
    let completed: crate::v1::CompleteLoginResponse = wire
        .unary(
            "/ochre.v1.AuthService/CompleteLogin",
            tonic::Request::new(CompleteLoginRequest {
                second_factor_ticket: answer.second_factor_ticket,
                code: code(),
            }),
        )
        .await?;
    completed
        .tokens
        .ok_or_else(|| tonic::Status::internal("CompleteLogin answered without tokens").into())
}

/// `Bearer <token>` as a header value.
pub(super) fn bearer(token: &str) -> Result<AsciiMetadataValue, OchreError> {
    let mut value: AsciiMetadataValue = format!("Bearer {token}").parse().map_err(|_| {
        OchreError::InvalidConfig("the credential has characters a header cannot carry".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The `x-ochre-org` value: an org id (a UUID).
pub(super) fn org_header(org: &str) -> Result<AsciiMetadataValue, OchreError> {
    let id = uuid::Uuid::parse_str(org.trim())
        .map_err(|_| OchreError::InvalidConfig(format!("the org must be a UUID: {org:?}")))?;
    id.to_string()
        .parse()
        .map_err(|_| OchreError::InvalidConfig("the org id cannot be sent".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn https_urls_get_tls_with_the_enabled_roots_and_build_without_connecting() {
        let client = OchreClient::builder("https://api.ochre.example")
            .api_key("ok_FAKE_key")
            .org("0190c6a2-8a4e-7c4e-9d9f-2f4a6f1e2b3c")
            .build()
            .await;
        assert!(client.is_ok(), "{client:?}");
    }

    #[tokio::test]
    async fn a_bad_url_or_org_is_an_invalid_configuration() {
        for (url, org) in [
            (
                "ftp://api.ochre.example",
                "0190c6a2-8a4e-7c4e-9d9f-2f4a6f1e2b3c",
            ),
            ("https://", "0190c6a2-8a4e-7c4e-9d9f-2f4a6f1e2b3c"),
            ("http://127.0.0.1:1", "acme"),
        ] {
            let built = OchreClient::builder(url).org(org).build().await;
            assert!(
                matches!(built, Err(OchreError::InvalidConfig(_))),
                "{url} {org}: {built:?}"
            );
        }
        let built = OchreClient::builder("http://127.0.0.1:1")
            .api_key("ok_FAKE\nkey")
            .build()
            .await;
        assert!(
            matches!(built, Err(OchreError::InvalidConfig(_))),
            "{built:?}"
        );
    }
}
