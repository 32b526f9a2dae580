//! [`OchreClient`]: the Ochre API for a partner backend.
//!
//! ```no_run
//! # async fn run() -> Result<(), ochre_sdk::client::OchreError> {
//! use ochre_sdk::{client::OchreClient, v1::ListConversationsRequest};
//!
//! let client = OchreClient::builder("https://api.ochre.example")
//!     .api_key(std::env::var("OCHRE_API_KEY").unwrap_or_default())
//!     .org("0190c6a2-8a4e-7c4e-9d9f-2f4a6f1e2b3c")
//!     .build()
//!     .await?;
//! let page = client
//!     .conversations()
//!     .list_conversations(ListConversationsRequest::default())
//!     .await?;
//! # let _ = page; Ok(()) }
//! ```
//!
//! - **Credentials**: an org API key ([`OchreClientBuilder::api_key`]) or a
//!   user session ([`OchreClientBuilder::sign_in`] or
//!   [`OchreClientBuilder::session`]), sent as `authorization: Bearer ..`,
//!   with the org in `x-ochre-org`.
//! - **Sessions** refresh on their own, before the access token expires and
//!   once after an UNAUTHENTICATED answer that refuses the access token
//!   itself (not a wrong password checked by the call); concurrent callers
//!   share one
//!   refresh (refresh tokens are single-use). A refused refresh token is
//!   [`OchreError::SignedOut`].
//! - **Retries**: UNAVAILABLE only, idempotent RPCs only (reads, and creates
//!   carrying a `request_id`, which the client fills once per call), with
//!   jittered exponential backoff ([`RPCS`] lists every RPC's policy).
//! - **Errors**: one type, [`OchreError`], with the `google.rpc` details
//!   decoded (field violations, reason, retry delay).

#![warn(missing_docs)]

mod builder;
mod error;
mod retry;
mod services;
mod session;

use std::{sync::Arc, time::Duration};

use tonic::{
    Status,
    codegen::http::uri::PathAndQuery,
    metadata::{AsciiMetadataValue, MetadataMap},
    transport::Channel,
};

pub use builder::OchreClientBuilder;
pub use error::{ApiStatus, ErrorDetails, ErrorInfo, FieldViolation, OchreError};
pub use retry::{Backoff, IdempotentRequest, Retry};
pub use services::*;
pub use session::TokensCallback;

use crate::v1::{RefreshRequest, RefreshResponse, SessionTokens, WhoAmIRequest, WhoAmIResponse};
use session::{Session, Snapshot};

/// A client of the Ochre API: cheap to clone (clones share the connection
/// and the session), safe to use from many tasks at once.
#[derive(Debug, Clone)]
pub struct OchreClient {
    inner: Arc<Inner>,
    org: Option<AsciiMetadataValue>,
}

#[derive(Debug)]
struct Inner {
    wire: Wire,
    credential: Credential,
    timeout: Duration,
    retries: u32,
    backoff: Backoff,
}

#[derive(Debug)]
enum Credential {
    None,
    ApiKey(AsciiMetadataValue),
    Session(Session),
}

/// What one attempt is sent with.
enum CallCredential {
    None,
    ApiKey(AsciiMetadataValue),
    Session(Arc<Snapshot>),
}

/// The channel and how messages go over it.
#[derive(Debug, Clone)]
pub(crate) struct Wire {
    channel: Channel,
    gzip: bool,
}

impl Wire {
    fn grpc(&self) -> tonic::client::Grpc<Channel> {
        let grpc = tonic::client::Grpc::new(self.channel.clone());
        if self.gzip {
            use tonic::codec::CompressionEncoding::Gzip;
            grpc.send_compressed(Gzip).accept_compressed(Gzip)
        } else {
            grpc
        }
    }

    async fn unary<Req, Resp>(
        &self,
        path: &'static str,
        request: tonic::Request<Req>,
    ) -> Result<Resp, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let mut grpc = self.grpc();
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(format!("the connection is not ready: {e}")))?;
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        grpc.unary(request, PathAndQuery::from_static(path), codec)
            .await
            .map(tonic::Response::into_inner)
            .map_err(retry::from_transport)
    }

    async fn server_streaming<Req, Resp>(
        &self,
        path: &'static str,
        request: tonic::Request<Req>,
    ) -> Result<tonic::Streaming<Resp>, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let mut grpc = self.grpc();
        grpc.ready()
            .await
            .map_err(|e| Status::unavailable(format!("the connection is not ready: {e}")))?;
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        grpc.server_streaming(request, PathAndQuery::from_static(path), codec)
            .await
            .map(tonic::Response::into_inner)
            .map_err(retry::from_transport)
    }

    /// `AuthService.Refresh`: never retried (a lost answer would leave the
    /// client holding a spent refresh token).
    pub(crate) async fn refresh(&self, request: RefreshRequest) -> Result<SessionTokens, Status> {
        let response: RefreshResponse = self
            .unary(
                "/ochre.v1.AuthService/Refresh",
                tonic::Request::new(request),
            )
            .await?;
        response
            .tokens
            .ok_or_else(|| Status::internal("Refresh answered without tokens"))
    }
}

impl OchreClient {
    /// Starts a client of the server at `url` (`https://...`, or `http://`
    /// for a local server). See [`OchreClientBuilder`] for the options.
    pub fn builder(url: impl Into<String>) -> OchreClientBuilder {
        OchreClientBuilder::new(url.into())
    }

    /// The same client acting on another org (`x-ochre-org`), sharing the
    /// connection and the session.
    pub fn with_org(&self, org: impl ToString) -> Result<OchreClient, OchreError> {
        Ok(OchreClient {
            inner: self.inner.clone(),
            org: Some(builder::org_header(&org.to_string())?),
        })
    }

    /// The session's current tokens (to persist them), if the client uses
    /// a session.
    pub fn session_tokens(&self) -> Option<SessionTokens> {
        match &self.inner.credential {
            Credential::Session(session) => Some(session.snapshot().tokens.clone()),
            _ => None,
        }
    }

    /// The underlying channel, for the generated `*ServiceClient`s; pair it
    /// with [`interceptor`](Self::interceptor) for the credential. Calls
    /// made this way are neither retried nor refreshed.
    pub fn channel(&self) -> Channel {
        self.inner.wire.channel.clone()
    }

    /// An interceptor adding this client's `authorization` (the session's
    /// current access token, or the API key) and `x-ochre-org` to calls of
    /// a generated client: `ConversationServiceClient::with_interceptor(
    /// client.channel(), client.interceptor())`.
    pub fn interceptor(&self) -> OchreInterceptor {
        OchreInterceptor {
            client: self.clone(),
        }
    }

    async fn call_credential(&self) -> Result<CallCredential, OchreError> {
        Ok(match &self.inner.credential {
            Credential::None => CallCredential::None,
            Credential::ApiKey(key) => CallCredential::ApiKey(key.clone()),
            Credential::Session(session) => {
                CallCredential::Session(session.valid(&self.inner.wire).await?)
            }
        })
    }

    fn current_credential(&self) -> CallCredential {
        match &self.inner.credential {
            Credential::None => CallCredential::None,
            Credential::ApiKey(key) => CallCredential::ApiKey(key.clone()),
            Credential::Session(session) => CallCredential::Session(session.snapshot()),
        }
    }

    fn apply(&self, auth: &CallCredential, metadata: &mut MetadataMap) -> Result<(), OchreError> {
        let bearer = match auth {
            CallCredential::None => None,
            CallCredential::ApiKey(key) => Some(key.clone()),
            CallCredential::Session(s) => Some(builder::bearer(&s.tokens.access_token)?),
        };
        if let Some(bearer) = bearer {
            metadata.insert("authorization", bearer);
        }
        if let Some(org) = &self.org {
            metadata.insert(crate::ORG_HEADER, org.clone());
        }
        Ok(())
    }

    /// Sends `request` with the credential, refreshing the session once
    /// after UNAUTHENTICATED and retrying an idempotent RPC on UNAVAILABLE.
    async fn call<Req, T, F, Fut>(&self, rpc: &Rpc, request: Req, send: F) -> Result<T, OchreError>
    where
        Req: Clone,
        F: Fn(Wire, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut attempt = 0u32;
        let mut reauthenticated = false;
        loop {
            let status = match self.call_credential().await {
                Err(OchreError::Status(status)) => status.into_status(),
                Err(other) => return Err(other),
                Ok(auth) => {
                    let mut message = tonic::Request::new(request.clone());
                    if !rpc.server_streaming {
                        // A stream may take longer than one answer.
                        message.set_timeout(self.inner.timeout);
                    }
                    self.apply(&auth, message.metadata_mut())?;
                    match send(self.inner.wire.clone(), message).await {
                        Ok(answer) => return Ok(answer),
                        Err(status) => {
                            if let (CallCredential::Session(used), Credential::Session(session)) =
                                (&auth, &self.inner.credential)
                                && status.code() == tonic::Code::Unauthenticated
                                && !reauthenticated
                            {
                                reauthenticated = true;
                                // A handler's own UNAUTHENTICATED (a wrong
                                // password or code) must not be sent twice.
                                if self.token_refused(used).await {
                                    session.refresh(used.generation, &self.inner.wire).await?;
                                    continue;
                                }
                            }
                            status
                        }
                    }
                }
            };
            if !(rpc.retry.is_idempotent() && retry::retryable(&status))
                || attempt >= self.inner.retries
            {
                return Err(status.into());
            }
            let mut wait = self.inner.backoff.delay(attempt);
            let err = OchreError::from(status);
            if let Some(asked) = err.retry_after() {
                if asked > retry::MAX_SERVER_DELAY {
                    return Err(err);
                }
                wait = wait.max(asked);
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Whether the server refuses the access token of `used` itself (asked
    /// with `WhoAmI`, which needs nothing but a valid token), as opposed to
    /// a handler refusing a password or code checked in the call.
    async fn token_refused(&self, used: &Snapshot) -> bool {
        let mut probe = tonic::Request::new(WhoAmIRequest {});
        probe.set_timeout(self.inner.timeout);
        match builder::bearer(&used.tokens.access_token) {
            Ok(bearer) => probe.metadata_mut().insert("authorization", bearer),
            Err(_) => return true,
        };
        let answer: Result<WhoAmIResponse, Status> = self
            .inner
            .wire
            .unary("/ochre.v1.AuthService/WhoAmI", probe)
            .await;
        answer.is_err_and(|s| s.code() == tonic::Code::Unauthenticated)
    }

    pub(crate) async fn unary<Req, Resp>(&self, rpc: &Rpc, request: Req) -> Result<Resp, OchreError>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let path = rpc.path;
        self.call(rpc, request, |wire, message| async move {
            wire.unary(path, message).await
        })
        .await
    }

    pub(crate) async fn server_streaming<Req, Resp>(
        &self,
        rpc: &Rpc,
        request: Req,
    ) -> Result<tonic::Streaming<Resp>, OchreError>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let path = rpc.path;
        self.call(rpc, request, |wire, message| async move {
            wire.server_streaming(path, message).await
        })
        .await
    }
}

/// Adds an [`OchreClient`]'s credential and org to calls of the generated
/// clients (see [`OchreClient::interceptor`]). It uses the session's
/// current access token as is: it cannot refresh it.
#[derive(Debug, Clone)]
pub struct OchreInterceptor {
    client: OchreClient,
}

impl tonic::service::Interceptor for OchreInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        let auth = self.client.current_credential();
        self.client
            .apply(&auth, request.metadata_mut())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        Ok(request)
    }
}
