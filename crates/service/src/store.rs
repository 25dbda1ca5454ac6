//! Opening the key store the configuration names.
//!
//! The service keeps every key in one store, so that a key name is unique per application
//! across providers (as upstream with one key info manager). Every `[[provider]]` must therefore
//! name the same `[[key_manager]]`; the config check says so otherwise.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use parsec_keystore::{KeyStore, MasterKey, SqliteStore};

use crate::config::{Config, KeyManagerKind};

/// Where the store of `config` lives: (database, master key file).
pub fn store_paths(config: &Config) -> Option<(PathBuf, PathBuf)> {
    let manager = config.store_manager()?;
    let db = match &manager.kind {
        KeyManagerKind::Sqlite { path } => path.clone(),
        // Upstream's OnDisk layout cannot hold sealed material; keep a database in its folder.
        KeyManagerKind::OnDisk { path } => path.join("parsec-keys.sqlite3"),
    };
    let master = manager.master_key_path.clone().unwrap_or_else(|| {
        let mut p = db.clone().into_os_string();
        p.push(".master-key");
        PathBuf::from(p)
    });
    Some((db, master))
}

/// Opens the store the providers use; `None` when no provider needs one.
pub fn open(config: &Config) -> anyhow::Result<Option<Arc<dyn KeyStore>>> {
    let Some((db, master_path)) = store_paths(config) else {
        return Ok(None);
    };
    let master = MasterKey::load_or_create(&master_path)
        .with_context(|| format!("cannot use the master key {}", master_path.display()))?;
    let store = SqliteStore::open(&db, master)
        .with_context(|| format!("cannot open the key store {}", db.display()))?;
    tracing::info!(
        "key store: {} (master key {})",
        db.display(),
        master_path.display()
    );
    Ok(Some(Arc::new(store)))
}
