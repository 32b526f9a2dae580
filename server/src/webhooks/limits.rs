//! Fair shares of the webhook ingress: at most a few bodies are being read
//! per integration and per client address, so slow senders aimed at one
//! target (or from one address) cannot take every body slot from the
//! others. A delivery waits briefly for its share, then gets 503.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bodies being read at once for one integration.
pub const PER_INTEGRATION: usize = 16;
/// Bodies being read at once from one client address.
pub const PER_ADDRESS: usize = 8;

type Table<K> = Arc<Mutex<HashMap<K, Arc<Semaphore>>>>;

/// A semaphore of `limit` permits per key, made on first use and dropped
/// when idle.
#[derive(Debug)]
pub struct Shares<K: Eq + Hash + Clone> {
    limit: usize,
    table: Table<K>,
}

impl<K: Eq + Hash + Clone> Shares<K> {
    pub fn new(limit: usize) -> Self {
        Shares {
            limit,
            table: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A share for `key`, waiting at most `wait`; None when none freed up.
    pub async fn take(&self, key: K, wait: Duration) -> Option<Share<K>> {
        let semaphore = {
            let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
            table
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
                .clone()
        };
        let permit = tokio::time::timeout(wait, semaphore.acquire_owned())
            .await
            .ok()?
            .ok()?;
        Some(Share {
            key,
            limit: self.limit,
            table: self.table.clone(),
            permit: Some(permit),
        })
    }
}

/// One unit of a key's share, given back when dropped.
#[derive(Debug)]
pub struct Share<K: Eq + Hash + Clone> {
    key: K,
    limit: usize,
    table: Table<K>,
    permit: Option<OwnedSemaphorePermit>,
}

impl<K: Eq + Hash + Clone> Drop for Share<K> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let idle = table
            .get(&self.key)
            .is_some_and(|s| s.available_permits() == self.limit);
        if idle {
            table.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_millis(10);

    #[tokio::test]
    async fn a_key_gets_at_most_its_limit_and_shares_come_back_on_drop() {
        let shares = Shares::new(2);
        let a1 = shares.take("a", NOW).await;
        let a2 = shares.take("a", NOW).await;
        assert!(a1.is_some() && a2.is_some());
        assert!(
            shares.take("a", NOW).await.is_none(),
            "the third waits, then is refused"
        );
        assert!(
            shares.take("b", NOW).await.is_some(),
            "another key is unaffected"
        );
        drop(a1);
        assert!(
            shares.take("a", NOW).await.is_some(),
            "a returned share is reusable"
        );
        drop(a2);
        let idle = shares.table.lock().map(|t| t.len()).unwrap_or(usize::MAX);
        assert_eq!(idle, 0, "idle keys are forgotten");
    }
}
