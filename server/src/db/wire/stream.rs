//! The socket of an app-pool connection (the cluster's Unix socket or TCP)
//! and the start of a session on it: the startup message and the password
//! exchange (SCRAM-SHA-256, MD5 or cleartext, as the server asks), up to
//! the first `ReadyForQuery`. No TLS: the app pool reaches Postgres over
//! the Unix socket or a private network, as before.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::Host;

use super::errors::{ServerError, WireError};

/// A connected socket.
pub(super) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Reads what has arrived without waiting: `Ok(0)` at the end.
    pub(super) fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.try_read_buf(buf),
            Stream::Unix(s) => s.try_read_buf(buf),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Reads the next message, waiting for more bytes as needed.
pub(super) async fn next(stream: &mut Stream, buf: &mut BytesMut) -> Result<Message, WireError> {
    loop {
        match Message::parse(buf) {
            Ok(Some(message)) => return Ok(message),
            Ok(None) => {}
            Err(_) => return Err(WireError::Protocol("an answer that did not parse".into())),
        }
        buf.reserve(8 * 1024);
        if stream.read_buf(buf).await? == 0 {
            return Err(WireError::Lost);
        }
    }
}

/// Why connecting failed, without the URL or the password.
#[derive(Debug)]
pub(super) enum ConnectError {
    /// No host of the URL answered (or in time).
    Unreachable(String),
    /// The server refused the session: its SQLSTATE.
    Refused(String),
    /// The server asked for something this client does not do.
    Unsupported(&'static str),
}

/// Connects to the first host of `config` that answers and starts a
/// session as its user: the socket and what is left in the read buffer.
pub(super) async fn open(
    config: &tokio_postgres::Config,
    timeout: Duration,
) -> Result<(Stream, BytesMut), ConnectError> {
    let mut stream = match tokio::time::timeout(timeout, socket(config)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Err(ConnectError::Unreachable(e.kind().to_string())),
        Err(_) => return Err(ConnectError::Unreachable("timed out".into())),
    };
    let mut buf = BytesMut::with_capacity(16 * 1024);
    match tokio::time::timeout(timeout, startup(config, &mut stream, &mut buf)).await {
        Ok(result) => result.map(|()| (stream, buf)),
        Err(_) => Err(ConnectError::Unreachable("timed out".into())),
    }
}

async fn socket(config: &tokio_postgres::Config) -> io::Result<Stream> {
    let ports = config.get_ports();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no host");
    for (i, host) in config.get_hosts().iter().enumerate() {
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        let connected = match host {
            Host::Tcp(name) => TcpStream::connect((name.as_str(), port))
                .await
                .and_then(|s| {
                    s.set_nodelay(true)?;
                    Ok(Stream::Tcp(s))
                }),
            Host::Unix(dir) => UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))
                .await
                .map(Stream::Unix),
        };
        match connected {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn startup(
    config: &tokio_postgres::Config,
    stream: &mut Stream,
    buf: &mut BytesMut,
) -> Result<(), ConnectError> {
    let user = config.get_user().unwrap_or_default();
    let mut params = vec![("user", user), ("client_encoding", "UTF8")];
    if let Some(db) = config.get_dbname() {
        params.push(("database", db));
    }
    if let Some(app) = config.get_application_name() {
        params.push(("application_name", app));
    }
    if let Some(options) = config.get_options() {
        params.push(("options", options));
    }
    let mut out = BytesMut::new();
    frontend::startup_message(params, &mut out).map_err(lost)?;
    stream.write_all(&out).await.map_err(lost)?;
    let password = config.get_password().unwrap_or_default();
    let mut scram: Option<ScramSha256> = None;
    loop {
        out.clear();
        match next(stream, buf).await.map_err(lost)? {
            Message::AuthenticationOk
            | Message::ParameterStatus(_)
            | Message::BackendKeyData(_)
            | Message::NoticeResponse(_) => continue,
            Message::ReadyForQuery(_) => return Ok(()),
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(password, &mut out).map_err(lost)?;
            }
            Message::AuthenticationMd5Password(body) => {
                let hash = md5_hash(user.as_bytes(), password, body.salt());
                frontend::password_message(hash.as_bytes(), &mut out).map_err(lost)?;
            }
            Message::AuthenticationSasl(body) => {
                let mut mechanisms = body.mechanisms();
                let mut offered = false;
                while let Ok(Some(m)) = fallible_iterator::FallibleIterator::next(&mut mechanisms) {
                    offered |= m == SCRAM_SHA_256;
                }
                if !offered {
                    return Err(ConnectError::Unsupported(
                        "a SASL mechanism other than SCRAM-SHA-256",
                    ));
                }
                let s = ScramSha256::new(password, ChannelBinding::unsupported());
                frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut out)
                    .map_err(lost)?;
                scram = Some(s);
            }
            Message::AuthenticationSaslContinue(body) => {
                let s = scram
                    .as_mut()
                    .ok_or(ConnectError::Unsupported("SASL out of order"))?;
                s.update(body.data())
                    .map_err(|_| ConnectError::Unsupported("a SCRAM answer that did not verify"))?;
                frontend::sasl_response(s.message(), &mut out).map_err(lost)?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let s = scram
                    .as_mut()
                    .ok_or(ConnectError::Unsupported("SASL out of order"))?;
                s.finish(body.data()).map_err(|_| {
                    ConnectError::Unsupported("a server SCRAM proof that did not verify")
                })?;
                continue;
            }
            Message::ErrorResponse(body) => {
                let code = ServerError::parse(&body).map(|e| e.code().to_owned());
                return Err(ConnectError::Refused(code.unwrap_or_default()));
            }
            _ => return Err(ConnectError::Unsupported("an authentication method")),
        }
        stream.write_all(&out).await.map_err(lost)?;
    }
}

fn lost<E>(_: E) -> ConnectError {
    ConnectError::Unreachable("the connection closed".into())
}
