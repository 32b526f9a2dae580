//! The edge of the server: what it knows about a connection before any
//! route or RPC sees it. [`client_addr`] computes the client address once
//! per request (the TCP peer, or behind `OCHRE_TRUSTED_PROXIES` the
//! right-most untrusted `X-Forwarded-For` entry); [`tls`] holds the native
//! TLS certificate (`OCHRE_TLS_CERT`, `OCHRE_TLS_KEY`, reloaded on SIGHUP);
//! [`incoming`] turns the listener into plain or TLS connections.

pub mod client_addr;
pub mod incoming;
pub mod tls;

pub use client_addr::{ClientAddr, ClientAddrLayer, TrustedProxies};
pub use tls::{Tls, TlsFiles};
