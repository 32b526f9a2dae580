//! The app pool: connections behind the pool's slots (`super::super::
//! admission`), reused most recently released first, replaced after
//! [`LIFETIME`], checked for a termination the server sent while they sat
//! idle before each use.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{DbErr, RuntimeErr};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::OwnedSemaphorePermit;

use super::conn::Conn;
use crate::db::admission::Gate;

/// How long a connection serves before it is replaced (a backend's caches
/// grow with the statements it has seen).
const LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The app pool (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct WirePool(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    gate: Gate,
    config: tokio_postgres::Config,
    /// Whether connections keep prepared statements (not behind a
    /// transaction pooler).
    cache: bool,
    idle: Mutex<Vec<Conn>>,
    /// Connections open (idle or held): each counts itself while it lives.
    open: Arc<AtomicU32>,
}

/// A connection and the slot it is held under.
pub(super) struct Lease {
    pub(super) conn: Conn,
    pub(super) _slot: OwnedSemaphorePermit,
}

impl WirePool {
    /// Opens the pool and one connection (so a wrong URL or password fails
    /// at start); `transaction_pooling`: behind a transaction pooler.
    pub(crate) async fn connect(
        url: &SecretString,
        max: u32,
        wait: Duration,
        transaction_pooling: bool,
    ) -> Result<WirePool, DbErr> {
        let config: tokio_postgres::Config = url.expose_secret().parse().map_err(|_| {
            DbErr::Conn(RuntimeErr::Internal("the database URL is not valid".into()))
        })?;
        // The app pool speaks no TLS: a URL that requires it is refused
        // rather than connected in plain text.
        if matches!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Require
        ) {
            return Err(DbErr::Conn(RuntimeErr::Internal(
                "the app pool does not use TLS (sslmode=require): reach Postgres over its Unix \
                 socket or a private network"
                    .into(),
            )));
        }
        let pool = WirePool(Arc::new(Inner {
            gate: Gate::new("app", max, wait),
            config,
            cache: !transaction_pooling,
            idle: Mutex::new(Vec::new()),
            open: Arc::new(AtomicU32::new(0)),
        }));
        let first = pool.open().await?;
        pool.put_back(first);
        Ok(pool)
    }

    async fn open(&self) -> Result<Conn, DbErr> {
        // Boxed: connecting is a large future, and rare.
        let conn = Box::pin(Conn::connect(
            &self.0.config,
            self.0.cache,
            self.0.open.clone(),
        ))
        .await?;
        Ok(conn)
    }

    /// A slot and a connection: an idle one that is still open, else a new
    /// one. Records the time to it.
    pub(super) async fn lease(&self) -> Result<Lease, DbErr> {
        let (slot, waited) = self.0.gate.admit().await?;
        let started = Instant::now();
        let conn = loop {
            let Some(conn) = self.take_idle() else {
                break self.open().await?;
            };
            if conn.alive() {
                break conn;
            }
        };
        self.0.gate.record(waited + started.elapsed());
        Ok(Lease { conn, _slot: slot })
    }

    fn take_idle(&self) -> Option<Conn> {
        self.0.idle.lock().ok()?.pop()
    }

    /// Returns a connection whose transaction has ended to the idle list
    /// (closes it when it has served its time or the pool is closed).
    pub(super) fn put_back(&self, conn: Conn) {
        // A connection past its lifetime is closed (dropped) instead.
        if conn.opened.elapsed() < LIFETIME
            && conn.in_transaction() == Some(false)
            && !self.0.gate.is_closed()
            && let Ok(mut idle) = self.0.idle.lock()
        {
            idle.push(conn);
        }
    }

    /// The pool's name (`app`).
    pub(crate) fn name(&self) -> &'static str {
        self.0.gate.name()
    }

    /// Callers waiting for a slot now.
    pub(crate) fn waiting(&self) -> usize {
        self.0.gate.waiting()
    }

    /// Connections open, and those of them idle.
    pub(crate) fn sizes(&self) -> (u32, usize) {
        let idle = self.0.idle.lock().map_or(0, |i| i.len());
        (self.0.open.load(Ordering::Relaxed), idle)
    }

    /// Refuses new callers and closes the idle connections.
    pub(crate) fn close(&self) {
        self.0.gate.close();
        if let Ok(mut idle) = self.0.idle.lock() {
            idle.clear();
        }
    }
}
