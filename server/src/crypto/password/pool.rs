//! The argon2 pool: a few computations at once on tokio's blocking pool,
//! waiting callers served in arrival order (tokio's semaphore is fair), and
//! at most one computation in progress or waiting per client address, so
//! that 48 addresses flooding Login take 48 places in the queue, not all of
//! it, and a user from a fresh address is served within a second or two.
//! A caller that cannot be admitted gets [`HashError::Busy`] with the delay
//! after which a retry is worth it (sent to clients as `RetryInfo`).

use std::collections::HashSet;
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::Semaphore;

use super::argon::{DUMMY_PHC, HashError, hash_blocking, verify_blocking};

/// How long a caller waits in line for a permit before it is told to retry.
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);
/// Most callers waiting in line at once; beyond it, retry.
pub const MAX_WAITING: usize = 128;
/// The retry delay a refused caller is given.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

fn busy() -> HashError {
    HashError::Busy {
        retry_after: RETRY_AFTER,
    }
}

/// Argon2id hashing, bounded and fair. Cloning is cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    clients: Arc<Mutex<HashSet<String>>>,
}

/// A client's place in the pool, held for the whole password operation
/// (dropping it frees the place).
#[derive(Debug)]
pub struct ClientSlot {
    clients: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.remove(&self.key);
    }
}

/// Counts a waiting caller for as long as it waits.
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    /// A pool that runs at most `max_concurrent` argon2 computations at a
    /// time (clamped to at least 1). Each one holds about 19 MiB.
    pub fn new(max_concurrent: usize) -> Self {
        let permits = max_concurrent.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            waiting: Arc::new(AtomicUsize::new(0)),
            clients: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Number of argon2 computations that could start right now.
    pub fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }

    /// Admits one password operation of `client` (its throttle key, for
    /// example `ip:192.0.2.1`): refused with `Busy` while the same client
    /// has one in progress or waiting.
    pub fn admit(&self, client: &str) -> Result<ClientSlot, HashError> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if !clients.insert(client.to_owned()) {
            return Err(busy());
        }
        Ok(ClientSlot {
            clients: Arc::clone(&self.clients),
            key: client.to_owned(),
        })
    }

    /// Waits in line (at most [`QUEUE_WAIT`], behind at most
    /// [`MAX_WAITING`] others) for a permit, then runs `job` on the blocking
    /// pool. The permit moves into the blocking closure, so it is held until
    /// the CPU work really ends even if the caller's future is dropped.
    async fn run<T, F>(&self, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
    {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_WAITING {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(busy());
                }
                let _waiting = Waiting(Arc::clone(&self.waiting));
                let acquire = Arc::clone(&self.permits).acquire_owned();
                match tokio::time::timeout(QUEUE_WAIT, acquire).await {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(busy()),
                }
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await
        .map_err(HashError::Join)?
    }

    /// Hashes `password` into a PHC string with a fresh random salt.
    pub async fn hash(&self, password: SecretString) -> Result<String, HashError> {
        self.run(move || hash_blocking(password.expose_secret().as_bytes()))
            .await
    }

    /// Checks `password` against a stored PHC string. `Ok(false)` means the
    /// password is wrong; `Err(InvalidHash)` means the stored value is broken.
    pub async fn verify(&self, password: SecretString, phc: &str) -> Result<bool, HashError> {
        let phc = phc.to_owned();
        self.run(move || verify_blocking(password.expose_secret().as_bytes(), &phc))
            .await
    }

    /// Spends the same time as [`verify`](Self::verify) against a fixed dummy
    /// hash and discards the result. Call it when the email is unknown so that
    /// unknown-user and wrong-password logins cost the same.
    pub async fn verify_dummy(&self, password: SecretString) -> Result<(), HashError> {
        self.run(move || {
            let _ = verify_blocking(password.expose_secret().as_bytes(), DUMMY_PHC);
            Ok(())
        })
        .await
    }
}
