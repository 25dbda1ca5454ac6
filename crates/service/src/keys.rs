//! The index of applications' keys that the core provider reads: which keys an application
//! owns, in which provider, with which attributes.
//!
//! This is the narrow view the core operations need (ListKeys, ListClients, DeleteClient).
//! The persistent key store arrives with the first crypto provider; until then the service runs
//! with [`MemoryKeyIndex`].

use std::collections::BTreeMap;
use std::sync::Mutex;

use parsec_psa::types::KeyAttributes;
use parsec_wire::{ProviderId, Status};

use crate::auth::AppId;
use crate::config::AuthKind;

/// One key as ListKeys reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyEntry {
    pub provider: ProviderId,
    pub name: String,
    pub attributes: KeyAttributes,
}

/// Read and delete access to the applications' keys.
pub trait KeyIndex: Send + Sync {
    /// The keys `app` owns, in every provider.
    fn list_keys(&self, app: &AppId) -> Result<Vec<KeyEntry>, Status>;
    /// The names of the applications of authenticator `auth` that own keys, sorted, no duplicates.
    fn list_clients(&self, auth: AuthKind) -> Result<Vec<String>, Status>;
    /// Destroys every key of `app`. Succeeds when it has none.
    fn delete_client(&self, app: &AppId) -> Result<(), Status>;
}

/// A key index in memory.
#[derive(Debug, Default)]
pub struct MemoryKeyIndex {
    keys: Mutex<BTreeMap<AppId, BTreeMap<String, KeyEntry>>>,
}

impl MemoryKeyIndex {
    pub fn new() -> MemoryKeyIndex {
        MemoryKeyIndex::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<AppId, BTreeMap<String, KeyEntry>>> {
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a key; false if `app` already has a key of that name.
    pub fn insert(&self, app: AppId, entry: KeyEntry) -> bool {
        let mut keys = self.lock();
        let owned = keys.entry(app).or_default();
        if owned.contains_key(&entry.name) {
            return false;
        }
        owned.insert(entry.name.clone(), entry);
        true
    }
}

impl KeyIndex for MemoryKeyIndex {
    fn list_keys(&self, app: &AppId) -> Result<Vec<KeyEntry>, Status> {
        Ok(self
            .lock()
            .get(app)
            .map(|owned| owned.values().cloned().collect())
            .unwrap_or_default())
    }

    fn list_clients(&self, auth: AuthKind) -> Result<Vec<String>, Status> {
        Ok(self
            .lock()
            .iter()
            .filter(|(app, owned)| app.auth == auth && !owned.is_empty())
            .map(|(app, _)| app.name.clone())
            .collect())
    }

    fn delete_client(&self, app: &AppId) -> Result<(), Status> {
        self.lock().remove(app);
        Ok(())
    }
}
