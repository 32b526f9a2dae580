//! The edge of the server: the client address behind a trusted proxy
//! (`OCHRE_TRUSTED_PROXIES`, `X-Forwarded-For`) decides IP allowlists,
//! lockouts and audit rows, and a forged header from anyone else is ignored;
//! native TLS (`OCHRE_TLS_CERT`, `OCHRE_TLS_KEY`) serves gRPC, gRPC-web and
//! the webhook routes on the one port and reloads its certificate on
//! SIGHUP; bad settings stop the start naming the variable.

mod forwarded;
mod pki;
pub(crate) mod settings;
mod tls;
