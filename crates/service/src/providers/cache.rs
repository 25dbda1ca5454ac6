//! A bounded cache of loaded keys, shared by the providers.
//!
//! The store is the truth; the cache only saves parsing. A key destroyed while another request
//! loads it must not come back through the cache: every removal bumps an epoch before evicting,
//! and a load inserts only if no removal happened since it read the store.
//!
//! A store that other nodes change too (PostgreSQL) is asked, on every use of a kept key, for
//! the version of its record: a key destroyed, or destroyed and made again, through another
//! node is then never used here once that destroy has answered. A check on use rather than a
//! notification (LISTEN/NOTIFY): a notification arrives some time after the destroy has
//! answered its client, and a request in between would still use the key. The check costs
//! one small query per use and saves unsealing and parsing, or a device's load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use parsec_keystore::KeyId;
use parsec_wire::Status;

/// Keys kept parsed at most.
const CAPACITY: usize = 4096;

/// Loaded keys of type `K`, by store identity, with the version of the record they came from.
pub(crate) struct Cache<K> {
    keys: Mutex<HashMap<KeyId, (u64, Arc<K>)>>,
    epoch: AtomicU64,
}

impl<K> Cache<K> {
    pub(crate) fn new() -> Cache<K> {
        Cache {
            keys: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<KeyId, (u64, Arc<K>)>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached key, or `load()`'s (with its record's version; cached unless a removal raced
    /// with it). `current`, for a store other nodes change: the record's version now (`None`:
    /// gone), asked before a kept key is used; a kept key of another version is dropped.
    pub(crate) fn get_or_load(
        &self,
        id: &KeyId,
        current: Option<&dyn Fn() -> Result<Option<u64>, Status>>,
        load: impl FnOnce() -> Result<(u64, K), Status>,
    ) -> Result<Arc<K>, Status> {
        let kept = self.lock().get(id).cloned();
        if let Some((version, key)) = kept {
            match current {
                None => return Ok(key),
                Some(current) => {
                    if current()? == Some(version) {
                        return Ok(key);
                    }
                    self.evict(id);
                }
            }
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let (version, key) = load()?;
        let key = Arc::new(key);
        let mut keys = self.lock();
        if self.epoch.load(Ordering::SeqCst) == epoch {
            if keys.len() >= CAPACITY {
                keys.clear();
            }
            keys.insert(id.clone(), (version, key.clone()));
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
