//! Opening the key store the configuration names.
//!
//! The service keeps every key in one store, so that a key name is unique per application
//! across providers (as upstream with one key info manager). Every `[[provider]]` must therefore
//! name the same `[[key_manager]]`; the config check says so otherwise.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use parsec_keystore::{
    KeyId, KeyRecord, KeyStore, Listed, MasterKey, PostgresOptions, PostgresStore, Probe, Quota,
    SqliteStore, StoreError,
};
use zeroize::Zeroizing;

use crate::auth::PARSEC1_STORE_TAG;
use crate::config::{Config, DatabaseUrl, KeyManagerKind};

/// Our store's file beside upstream's SQLite key info manager database, when the configured
/// path is upstream's.
pub const UPSTREAM_SIBLING: &str = "parsec-keys.sqlite3";

/// Where the store of `config` lives when it is a file: (database, master key file).
pub fn store_paths(config: &Config) -> Option<(PathBuf, PathBuf)> {
    let manager = config.store_manager()?;
    let db = match &manager.kind {
        // Upstream's key info manager database is never written: beside it, a file of ours
        // (where `parsec migrate` puts its keys), used from then on whatever becomes of
        // upstream's file.
        KeyManagerKind::Sqlite { path } => {
            let beside = path.with_file_name(UPSTREAM_SIBLING);
            if beside.exists() || parsec_keystore::is_upstream_kim(path) {
                beside
            } else {
                path.clone()
            }
        }
        // Upstream's OnDisk layout cannot hold sealed material; keep a database in its folder.
        KeyManagerKind::OnDisk { path } => path.join("parsec-keys.sqlite3"),
        KeyManagerKind::Postgres { .. } => return None,
    };
    let master = manager.master_key_path.clone().unwrap_or_else(|| {
        let mut p = db.clone().into_os_string();
        p.push(".master-key");
        PathBuf::from(p)
    });
    Some((db, master))
}

/// The master key file of the store of `config`, if it has one.
pub fn master_key_path(config: &Config) -> Option<PathBuf> {
    match &config.store_manager()?.kind {
        KeyManagerKind::Postgres { .. } => config.store_manager()?.master_key_path.clone(),
        _ => store_paths(config).map(|(_, master)| master),
    }
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
    if let Some(manager) = config.store_manager() {
        if let KeyManagerKind::Postgres {
            url,
            password_file,
            connections,
        } = &manager.kind
        {
            let master_path = manager
                .master_key_path
                .as_deref()
                .context("a PostgreSQL key manager needs master_key_path")?;
            let store = open_postgres(url, password_file.as_deref(), *connections, master_path)?;
            return Ok(Some(Arc::new(Bounded::new(store, config))));
        }
    }
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
    check_master(&store, &db.display().to_string(), &master_path)?;
    Ok(Some(Arc::new(Bounded::new(store, config))))
}

/// Stops start-up when the master key opens none of the records it is tried on.
fn check_master(store: &dyn KeyStore, place: &str, master_path: &Path) -> anyhow::Result<()> {
    let probe = store
        .probe(PROBE_SAMPLE)
        .with_context(|| format!("cannot read the key store {place}"))?;
    if probe.sampled > 0 && probe.opened == 0 {
        bail!(
            "the master key {} opens none of the {} record(s) of the key store {place} tried: it \
             is not the key they were sealed with. Restore the original master key file",
            master_path.display(),
            probe.sampled,
        );
    }
    if probe.opened < probe.sampled {
        tracing::warn!(
            "{} of {} key record(s) tried in {place} failed their integrity check",
            probe.sampled - probe.opened,
            probe.sampled,
        );
    }
    tracing::info!("key store: {place} (master key {})", master_path.display());
    Ok(())
}

/// How long a store call waits for a free PostgreSQL connection, and a connection attempt may
/// take.
const PG_WAIT: Duration = Duration::from_secs(5);

/// Opens the PostgreSQL store. The master key is made only when the database holds no record,
/// as for SQLite; the store itself refuses a key that is not the one the database recorded.
fn open_postgres(
    url: &DatabaseUrl,
    password_file: Option<&Path>,
    connections: usize,
    master_path: &Path,
) -> anyhow::Result<PostgresStore> {
    let options = postgres_options(url, password_file, connections)?;
    let master = match MasterKey::load(master_path)
        .with_context(|| format!("cannot use the master key {}", master_path.display()))?
    {
        Some(master) => master,
        None => {
            let records = PostgresStore::count_records(&options)
                .context("cannot reach the PostgreSQL key store")?;
            if records > 0 {
                bail!(
                    "the master key file {} is missing, but the PostgreSQL key store holds \
                     {records} key record(s) sealed under a master key. Copy that file from a \
                     node that has it; a new master key would leave those keys unreadable, so \
                     none is made",
                    master_path.display()
                );
            }
            tracing::info!("creating the master key {}", master_path.display());
            MasterKey::create(master_path).with_context(|| {
                format!("cannot create the master key {}", master_path.display())
            })?
        }
    };
    let store =
        PostgresStore::open(options, master).context("cannot open the PostgreSQL key store")?;
    check_master(&store, store.place(), master_path)?;
    Ok(store)
}

/// How to reach a PostgreSQL database: the URL, and the password of `password_file`.
pub fn postgres_options(
    url: &DatabaseUrl,
    password_file: Option<&Path>,
    connections: usize,
) -> anyhow::Result<PostgresOptions> {
    Ok(PostgresOptions {
        url: url.0.clone(),
        password: password_file.map(read_password).transpose()?,
        connections,
        wait: PG_WAIT,
    })
}

/// The password in `path` (its first line), which must not be readable by others.
fn read_password(path: &Path) -> anyhow::Result<Zeroizing<String>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the password file {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "the password file {} is readable or writable by others: make it mode 0600 \
             (chmod 600)",
            path.display()
        );
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the password file {}", path.display()))?,
    );
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        bail!("the password file {} is empty", path.display());
    }
    Ok(Zeroizing::new(line.to_string()))
}

/// A store that bounds how many keys applications hold: each local application
/// `core_settings.max_keys_per_application`; each remote application (one Parsec.1 session
/// key) `parsec1.max_keys_per_session_key`, and all of them together `parsec1.max_remote_keys`.
/// Settings read at start-up: changing them needs a restart.
pub struct Bounded<S> {
    inner: S,
    local: Quota,
    remote: Quota,
}

impl<S: KeyStore> Bounded<S> {
    pub fn new(inner: S, config: &Config) -> Bounded<S> {
        let remote = config
            .parsec1
            .as_ref()
            .map_or(Quota::default(), |p1| Quota {
                per_app: Some(p1.max_keys_per_session_key),
                per_auth: Some(p1.max_remote_keys),
            });
        Bounded {
            inner,
            local: Quota {
                per_app: Some(config.core.max_keys_per_application),
                per_auth: None,
            },
            remote,
        }
    }
}

impl<S: KeyStore> KeyStore for Bounded<S> {
    fn create_within(
        &self,
        id: &KeyId,
        record: &KeyRecord,
        quota: Quota,
    ) -> Result<(), StoreError> {
        let bound = if id.auth == PARSEC1_STORE_TAG {
            self.remote
        } else {
            self.local
        };
        let quota = Quota {
            per_app: quota.per_app.or(bound.per_app),
            per_auth: quota.per_auth.or(bound.per_auth),
        };
        self.inner.create_within(id, record, quota)
    }

    fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.inner.get(id)
    }

    fn get_versioned(&self, id: &KeyId) -> Result<Option<(KeyRecord, u64)>, StoreError> {
        self.inner.get_versioned(id)
    }

    fn shared(&self) -> bool {
        self.inner.shared()
    }

    fn version(&self, id: &KeyId) -> Result<Option<u64>, StoreError> {
        self.inner.version(id)
    }

    fn delete(&self, id: &KeyId) -> Result<bool, StoreError> {
        self.inner.delete(id)
    }

    fn list(&self, auth: u8, app: &str) -> Result<Vec<Listed>, StoreError> {
        self.inner.list(auth, app)
    }

    fn list_clients(&self, auth: u8) -> Result<Vec<String>, StoreError> {
        self.inner.list_clients(auth)
    }

    fn delete_client(&self, auth: u8, app: &str) -> Result<usize, StoreError> {
        self.inner.delete_client(auth, app)
    }

    fn probe(&self, sample: usize) -> Result<Probe, StoreError> {
        self.inner.probe(sample)
    }

    fn check_integrity(&self) -> Result<usize, StoreError> {
        self.inner.check_integrity()
    }
}

/// Runs a blocking store call. On a worker of a multi-thread tokio runtime (the Parsec.1
/// front), through `block_in_place`, so that the runtime first hands the worker's other tasks
/// to another thread and no request waits behind a slow disk or a locked database; elsewhere
/// (the socket front's own threads, a blocking-pool thread) directly.
pub fn off_runtime<T>(call: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(call)
        }
        _ => call(),
    }
}

/// A store whose every call runs through [`off_runtime`]: a key store behind a pointer, or a
/// Parsec.1 session store.
pub struct OffRuntime<S>(pub S);

impl<S> KeyStore for OffRuntime<S>
where
    S: std::ops::Deref + Send + Sync,
    S::Target: KeyStore,
{
    fn create_within(
        &self,
        id: &KeyId,
        record: &KeyRecord,
        quota: Quota,
    ) -> Result<(), StoreError> {
        off_runtime(|| self.0.create_within(id, record, quota))
    }

    fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        off_runtime(|| self.0.get(id))
    }

    fn get_versioned(&self, id: &KeyId) -> Result<Option<(KeyRecord, u64)>, StoreError> {
        off_runtime(|| self.0.get_versioned(id))
    }

    fn shared(&self) -> bool {
        self.0.shared()
    }

    fn version(&self, id: &KeyId) -> Result<Option<u64>, StoreError> {
        off_runtime(|| self.0.version(id))
    }

    fn delete(&self, id: &KeyId) -> Result<bool, StoreError> {
        off_runtime(|| self.0.delete(id))
    }

    fn list(&self, auth: u8, app: &str) -> Result<Vec<Listed>, StoreError> {
        off_runtime(|| self.0.list(auth, app))
    }

    fn list_clients(&self, auth: u8) -> Result<Vec<String>, StoreError> {
        off_runtime(|| self.0.list_clients(auth))
    }

    fn delete_client(&self, auth: u8, app: &str) -> Result<usize, StoreError> {
        off_runtime(|| self.0.delete_client(auth, app))
    }

    fn probe(&self, sample: usize) -> Result<Probe, StoreError> {
        off_runtime(|| self.0.probe(sample))
    }

    fn check_integrity(&self) -> Result<usize, StoreError> {
        off_runtime(|| self.0.check_integrity())
    }
}

impl<S: parsec1::server::SessionStore> parsec1::server::SessionStore for OffRuntime<S> {
    fn create(
        &self,
        session: &parsec1::server::Session,
        limits: parsec1::server::sessions::Limits,
        now: u64,
    ) -> Result<(), parsec1::server::StoreError> {
        off_runtime(|| self.0.create(session, limits, now))
    }

    fn get(
        &self,
        id: &str,
        now: u64,
    ) -> Result<Option<parsec1::server::Session>, parsec1::server::StoreError> {
        off_runtime(|| self.0.get(id, now))
    }

    fn delete(&self, id: &str) -> Result<bool, parsec1::server::StoreError> {
        off_runtime(|| self.0.delete(id))
    }

    fn purge_expired(&self, now: u64) -> Result<usize, parsec1::server::StoreError> {
        off_runtime(|| self.0.purge_expired(now))
    }
}

impl<S: parsec1::server::LiveState> parsec1::server::LiveState for OffRuntime<S> {
    fn add_pending(
        &self,
        context: [u8; 16],
        pending: parsec1::server::Pending,
        limits: parsec1::server::PendingLimits,
        now: u64,
    ) -> Result<Result<(), parsec1::server::Full>, parsec1::server::StoreError> {
        off_runtime(|| self.0.add_pending(context, pending, limits, now))
    }

    fn take_pending(
        &self,
        context: &[u8; 16],
    ) -> Result<Option<parsec1::server::Pending>, parsec1::server::StoreError> {
        off_runtime(|| self.0.take_pending(context))
    }

    fn use_nonce(
        &self,
        session_id: &str,
        nonce: &[u8],
        expires_at: u64,
        now: u64,
    ) -> Result<Result<(), parsec1::server::NonceRefused>, parsec1::server::StoreError> {
        off_runtime(|| self.0.use_nonce(session_id, nonce, expires_at, now))
    }

    fn set_tsk(
        &self,
        session_id: &str,
        keys: Arc<parsec1::server::LiveKeys>,
        tsk_expires_at: u64,
        session_expires_at: u64,
    ) -> Result<bool, parsec1::server::StoreError> {
        off_runtime(|| {
            self.0
                .set_tsk(session_id, keys, tsk_expires_at, session_expires_at)
        })
    }

    fn tsk(
        &self,
        session_id: &str,
    ) -> Result<Option<parsec1::server::LiveTsk>, parsec1::server::StoreError> {
        off_runtime(|| self.0.tsk(session_id))
    }

    fn cached_tsk(&self, session_id: &str) -> Option<parsec1::server::LiveTsk> {
        // Memory only: no store call.
        self.0.cached_tsk(session_id)
    }

    fn remember(
        &self,
        session_id: &str,
        keys: &parsec1::server::LiveKeys,
        iv: [u8; 16],
        tag: [u8; 16],
        max_seen: usize,
    ) -> Result<parsec1::server::Remembered, parsec1::server::StoreError> {
        off_runtime(|| self.0.remember(session_id, keys, iv, tag, max_seen))
    }

    fn drop_tsk(&self, session_id: &str) -> Result<bool, parsec1::server::StoreError> {
        off_runtime(|| self.0.drop_tsk(session_id))
    }

    fn drop_tsk_if(
        &self,
        session_id: &str,
        keys: &parsec1::server::LiveKeys,
    ) -> Result<bool, parsec1::server::StoreError> {
        off_runtime(|| self.0.drop_tsk_if(session_id, keys))
    }

    fn forget_session(&self, session_id: &str) -> Result<(), parsec1::server::StoreError> {
        off_runtime(|| self.0.forget_session(session_id))
    }

    fn purge(&self, now: u64) -> Result<(), parsec1::server::StoreError> {
        off_runtime(|| self.0.purge(now))
    }
}

#[cfg(test)]
mod tests {
    use super::off_runtime;

    /// Everywhere a store call can come from: a runtime worker, the blocking pool, a
    /// `block_on` thread, a current-thread runtime and a plain thread.
    #[test]
    fn off_runtime_runs_in_every_context() {
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        assert_eq!(multi.block_on(async { off_runtime(|| 1) }), 1);
        let on_worker = multi.spawn(async { off_runtime(|| 2) });
        assert_eq!(multi.block_on(on_worker).unwrap(), 2);
        let on_pool = multi.spawn_blocking(|| off_runtime(|| 3));
        assert_eq!(multi.block_on(on_pool).unwrap(), 3);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(current.block_on(async { off_runtime(|| 4) }), 4);
        assert_eq!(std::thread::spawn(|| off_runtime(|| 5)).join().unwrap(), 5);
    }
}
