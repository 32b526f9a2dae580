//! A real TCP proxy in front of a server that cuts the first connections it
//! accepts (the client sees the connection reset before any gRPC answer, as
//! when a server goes away) or forwards their requests and loses the
//! answers, and forwards the others, counting them all; and a black hole
//! that never answers.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime},
};

use tokio::net::{TcpListener, TcpStream};

/// A running proxy; dropping it stops accepting.
#[derive(Debug)]
pub struct FlakyProxy {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    /// When each connection was accepted ([`Self::losing_answers`] only).
    accepted_at: Arc<Mutex<Vec<SystemTime>>>,
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
            accepted_at: Arc::default(),
            task,
        }
    }

    /// Like [`Self::start`], but the first `lose` connections reach the
    /// server and lose its answers: what the client sends is forwarded, what
    /// the server answers is dropped, and after `hold` the connection is
    /// closed (a create the server made whose answer never arrived).
    pub async fn losing_answers(target: SocketAddr, lose: usize, hold: Duration) -> FlakyProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let accepted_at: Arc<Mutex<Vec<SystemTime>>> = Arc::default();
        let (counter, times) = (accepted.clone(), accepted_at.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                times
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(SystemTime::now());
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    if n >= lose {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                    let (mut from_client, _to_client) = inbound.split();
                    let (mut from_server, mut to_server) = outbound.split();
                    let forward = tokio::io::copy(&mut from_client, &mut to_server);
                    let mut sink = tokio::io::sink();
                    let drop_answers = tokio::io::copy(&mut from_server, &mut sink);
                    let _ =
                        tokio::time::timeout(hold, async { tokio::join!(forward, drop_answers) })
                            .await;
                });
            }
        });
        FlakyProxy {
            addr,
            accepted,
            accepted_at,
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
            accepted_at: Arc::default(),
            task,
        }
    }

    /// `http://` URL of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// When each connection was accepted ([`Self::losing_answers`] only).
    pub fn accepted_at(&self) -> Vec<SystemTime> {
        self.accepted_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
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
