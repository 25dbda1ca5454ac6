//! A bounded cache of loaded keys, shared by the providers.
//!
//! The store is the truth; the cache only saves parsing. A key destroyed while another request
//! loads it must not come back through the cache: every removal bumps an epoch before evicting,
//! and a load inserts only if no removal happened since it read the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use parsec_keystore::KeyId;
use parsec_wire::Status;

/// Keys kept parsed at most.
const CAPACITY: usize = 4096;

/// Loaded keys of type `K`, by store identity.
pub(crate) struct Cache<K> {
    keys: Mutex<HashMap<KeyId, Arc<K>>>,
    epoch: AtomicU64,
}

impl<K> Cache<K> {
    pub(crate) fn new() -> Cache<K> {
        Cache {
            keys: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<KeyId, Arc<K>>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached key, or `load()`'s (cached unless a removal raced with it).
    pub(crate) fn get_or_load(
        &self,
        id: &KeyId,
        load: impl FnOnce() -> Result<K, Status>,
    ) -> Result<Arc<K>, Status> {
        if let Some(key) = self.lock().get(id) {
            return Ok(key.clone());
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let key = Arc::new(load()?);
        let mut keys = self.lock();
        if self.epoch.load(Ordering::SeqCst) == epoch {
            if keys.len() >= CAPACITY {
                keys.clear();
            }
            keys.insert(id.clone(), key.clone());
        }
        Ok(key)
    }

    /// Forgets a key (after it was removed from the store).
    pub(crate) fn evict(&self, id: &KeyId) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.lock().remove(id);
    }

    /// Forgets every key of an application.
    pub(crate) fn evict_app(&self, auth: u8, app: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.lock()
            .retain(|id, _| !(id.auth == auth && id.app == app));
    }
}
