//! The connections the server serves: plain TCP, or TLS over TCP when a
//! certificate is configured (then the port speaks TLS only). Either way
//! every accepted socket gets TCP_NODELAY (with Nagle's algorithm a
//! response written in pieces waits for the client's delayed ACK, tens of
//! milliseconds a call under load), and the connection reports its TCP peer
//! as tonic's [`TcpConnectInfo`], which [`super::ClientAddrLayer`] reads.
//!
//! TLS handshakes run in their own tasks with a 10 s limit, so a slow or
//! broken client never holds the accept loop; a failed handshake is logged
//! at debug and forgotten.

use std::{
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_rustls::{TlsAcceptor, rustls::ServerConfig, server::TlsStream};
use tokio_stream::{Stream, StreamExt as _, wrappers::ReceiverStream};
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

/// How long a client has to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for the server to pick them up.
const READY_QUEUE: usize = 64;

/// One accepted connection.
#[derive(Debug)]
pub enum EdgeStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Connected for EdgeStream {
    type ConnectInfo = TcpConnectInfo;
    fn connect_info(&self) -> TcpConnectInfo {
        match self {
            EdgeStream::Plain(s) => s.connect_info(),
            EdgeStream::Tls(s) => s.get_ref().0.connect_info(),
        }
    }
}

impl AsyncRead for EdgeStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            EdgeStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            EdgeStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for EdgeStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            EdgeStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            EdgeStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            EdgeStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            EdgeStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            EdgeStream::Plain(s) => s.is_write_vectored(),
            EdgeStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            EdgeStream::Plain(s) => Pin::new(s).poll_flush(cx),
            EdgeStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            EdgeStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            EdgeStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The stream of connections `serve_with_incoming_shutdown` takes.
pub type Incoming = Pin<Box<dyn Stream<Item = io::Result<EdgeStream>> + Send>>;

/// Plain connections from `listener`, or TLS ones through `tls`.
pub fn incoming(listener: TcpListener, tls: Option<Arc<ServerConfig>>) -> Incoming {
    match tls {
        None => Box::pin(
            TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .map(|accepted| accepted.map(EdgeStream::Plain)),
        ),
        Some(config) => {
            let acceptor = TlsAcceptor::from(config);
            let (ready, queue) = mpsc::channel(READY_QUEUE);
            tokio::spawn(accept_loop(listener, acceptor, ready));
            Box::pin(ReceiverStream::new(queue))
        }
    }
}

/// Accepts until the server drops its end of the queue (it stopped), and
/// hands each connection to a handshake task.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<io::Result<EdgeStream>>,
) {
    loop {
        let accepted = tokio::select! {
            () = ready.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let socket = match accepted {
            Ok((socket, _)) => socket,
            Err(e) => {
                // Out of descriptors or a connection reset before accept:
                // pause briefly rather than spin, then go on.
                tracing::debug!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(e) = socket.set_nodelay(true) {
            tracing::debug!(error = %e, "setting TCP_NODELAY failed");
        }
        let (acceptor, ready) = (acceptor.clone(), ready.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
                Ok(Ok(stream)) => {
                    let _ = ready.send(Ok(EdgeStream::Tls(Box::new(stream)))).await;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
}
