//! A real TCP proxy in front of a server that cuts the first connections it
//! accepts (the client sees the connection reset before any gRPC answer, as
//! when a server goes away) and forwards the others, counting them all.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use tokio::net::{TcpListener, TcpStream};

/// A running proxy; dropping it stops accepting.
#[derive(Debug)]
pub struct FlakyProxy {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FlakyProxy {
    /// Listens on a loopback port; the first `cut` connections are closed
    /// as soon as they are accepted, the next ones forwarded to `target`.
    pub async fn start(target: SocketAddr, cut: usize) -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                if n < cut {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        FlakyProxy {
            addr,
            accepted,
            task,
        }
    }

    /// Listens on a loopback port and holds every connection open without
    /// ever answering (a server that hangs).
    pub async fn black_hole() -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the black hole");
        let addr = listener.local_addr().expect("its address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((inbound, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                held.push(inbound);
            }
        });
        FlakyProxy {
            addr,
            accepted,
            task,
        }
    }

    /// `http://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many connections it accepted (cut or forwarded).
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
