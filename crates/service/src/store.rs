//! Opening the key store the configuration names.
//!
//! The service keeps every key in one store, so that a key name is unique per application
//! across providers (as upstream with one key info manager). Every `[[provider]]` must therefore
//! name the same `[[key_manager]]`; the config check says so otherwise.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
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

/// Records read at start-up to check that the master key opens the store.
const PROBE_SAMPLE: usize = 8;

/// Opens the store the providers use; `None` when no provider needs one.
///
/// A master key is created only for a store that holds no record: a missing key file next to
/// sealed records (its storage not mounted, a file deleted) stops start-up, naming the file,
/// instead of splitting the store between two keys. A key file that opens none of the records
/// it is tried on stops start-up too.
pub fn open(config: &Config) -> anyhow::Result<Option<Arc<dyn KeyStore>>> {
    let Some((db, master_path)) = store_paths(config) else {
        return Ok(None);
    };
    let master = match MasterKey::load(&master_path)
        .with_context(|| format!("cannot use the master key {}", master_path.display()))?
    {
        Some(master) => master,
        None => {
            let records = SqliteStore::count_records(&db)
                .with_context(|| format!("cannot read the key store {}", db.display()))?;
            if records > 0 {
                bail!(
                    "the master key file {} is missing, but the key store {} holds {records} \
                     key record(s) sealed under it. Restore that file (is the storage that holds \
                     it mounted?) or point master_key_path at it; a new master key would leave \
                     those keys unreadable, so none is made",
                    master_path.display(),
                    db.display()
                );
            }
            tracing::info!("creating the master key {}", master_path.display());
            MasterKey::create(&master_path).with_context(|| {
                format!("cannot create the master key {}", master_path.display())
            })?
        }
    };
    let store = SqliteStore::open(&db, master)
        .with_context(|| format!("cannot open the key store {}", db.display()))?;
    let probe = store
        .probe(PROBE_SAMPLE)
        .with_context(|| format!("cannot read the key store {}", db.display()))?;
    if probe.sampled > 0 && probe.opened == 0 {
        bail!(
            "the master key {} opens none of the {} record(s) of the key store {} tried: it is \
             not the key they were sealed with. Restore the original master key file",
            master_path.display(),
            probe.sampled,
            db.display()
        );
    }
    if probe.opened < probe.sampled {
        tracing::warn!(
            "{} of {} key record(s) tried in {} failed their integrity check",
            probe.sampled - probe.opened,
            probe.sampled,
            db.display()
        );
    }
    tracing::info!(
        "key store: {} (master key {})",
        db.display(),
        master_path.display()
    );
    Ok(Some(Arc::new(store)))
}
