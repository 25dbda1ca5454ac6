//! A bounded cache of parsed keys.
//!
//! The store is the truth; the cache only saves parsing. A key destroyed while another request
//! loads it must not come back through the cache: every removal bumps an epoch before evicting,
//! and a load inserts only if no removal happened since it read the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use parsec_keystore::KeyId;
use parsec_psa::{KeyAttributes, Secret};
use parsec_wire::Status;

use super::asym::AsymKey;

/// Keys kept parsed at most.
const CAPACITY: usize = 4096;

/// A key ready for use.
pub(super) struct Key {
    pub attributes: KeyAttributes,
    pub loaded: Loaded,
}

/// Parsed material.
pub(super) enum Loaded {
    Asym(AsymKey),
    Sym(Secret),
}

pub(super) struct Cache {
    keys: Mutex<HashMap<KeyId, Arc<Key>>>,
    epoch: AtomicU64,
}

impl Cache {
    pub(super) fn new() -> Cache {
        Cache {
            keys: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<KeyId, Arc<Key>>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached key, or `load()`'s (cached unless a removal raced with it).
    pub(super) fn get_or_load(
        &self,
        id: &KeyId,
        load: impl FnOnce() -> Result<Key, Status>,
    ) -> Result<Arc<Key>, Status> {
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
    pub(super) fn evict(&self, id: &KeyId) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.lock().remove(id);
    }

    /// Forgets every key of an application.
    pub(super) fn evict_app(&self, auth: u8, app: &str) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.lock()
            .retain(|id, _| !(id.auth == auth && id.app == app));
    }
}
