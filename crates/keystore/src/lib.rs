//! The service's storage: the key store ([`KeyStore`]: every application's keys, with their
//! attributes and their material encrypted at rest) and the Parsec.1 session store
//! ([`SqliteSessions`], implementing the protocol crate's `SessionStore`), with SQLite as the
//! embedded implementation of both, and PostgreSQL for several service nodes: the key store
//! ([`PostgresStore`]) and the Parsec.1 sessions with all of their state ([`PostgresParsec1`],
//! also the protocol crate's `LiveState`). It knows no provider type: a record's provider,
//! attributes and material are opaque numbers and bytes to it.
//!
//! A key is identified by (authenticator kind, application, key name), unique per application
//! across providers, as upstream. Creating a name is one atomic insert-if-absent, so of two
//! concurrent creates of one name exactly one succeeds.
//!
//! Its one job: keeping what must outlive a restart. Imports only `parsec-parsec1` (for the
//! session store's trait and types); the traits name no database.

mod files;
mod parsec1_sessions;
mod postgresql;
mod sealing;
mod sqlite;
mod upstream;

pub use files::{create_private_file, create_private_parent};
pub use parsec1_sessions::SqliteSessions;
pub use postgresql::{PostgresOptions, PostgresParsec1, PostgresStore};
pub use sealing::MasterKey;
pub use sqlite::SqliteStore;
pub use upstream::{is_upstream_kim, read_upstream_mappings, UpstreamMapping};

/// Who owns a key, and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId {
    /// The authenticator kind, as a number the caller chooses (the wire auth type).
    pub auth: u8,
    /// The application name under that authenticator.
    pub app: String,
    /// The key name.
    pub name: String,
}

/// What is stored for a key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The provider that holds the key.
    pub provider: u8,
    /// The key's attributes, encoded by the caller.
    pub attributes: Vec<u8>,
    /// The key material (or a provider's handle to it); encrypted at rest, wiped on drop.
    pub material: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("provider", &self.provider)
            .field("attributes", &self.attributes.len())
            .field("material", &"<secret>")
            .finish()
    }
}

/// A key as listed: no material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub provider: u8,
    pub attributes: Vec<u8>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The application already has a key of that name.
    #[error("a key of that name already exists")]
    AlreadyExists,
    /// A stored record failed its authenticity check: it was altered, moved or the master key is
    /// not the one it was sealed with.
    #[error("stored key material failed its integrity check")]
    Corrupt,
    /// The database refused or failed: its message.
    #[error("key store: {0}")]
    Database(String),
    /// The database cannot be reached now (a shared store's server restarting, every
    /// connection busy): nothing was written, unless the message says the outcome is unknown.
    #[error("key store unavailable: {0}")]
    Unavailable(String),
    /// A write was sent to a shared store and no answer came back (the connection broke at
    /// the commit, or the server stopped answering): it may or may not have been applied.
    /// A caller must neither report success nor undo what depends on the record.
    #[error("key store: the outcome is unknown: {0}")]
    OutcomeUnknown(String),
    /// The disk (or the database's size limit) is full: nothing was written.
    #[error("key store: no space left")]
    Full,
    /// The master key or database file could not be used.
    #[error("key store: {0}")]
    Io(String),
    /// A create would take `who` past the number of keys it may hold.
    #[error("{who} already holds {limit} keys, the most allowed")]
    QuotaExceeded { who: QuotaScope, limit: u64 },
}

/// Whose key count a [`Quota`] bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaScope {
    /// One application.
    Application,
    /// All applications of one authenticator kind.
    AuthKind,
}

impl std::fmt::Display for QuotaScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QuotaScope::Application => "the application",
            QuotaScope::AuthKind => "every application of its kind together",
        })
    }
}

/// The most keys a create may leave one application, and all the applications of its
/// authenticator kind together, holding (`None`: no bound).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    pub per_app: Option<u64>,
    pub per_auth: Option<u64>,
}

impl Quota {
    /// The limits set, each with what it counts.
    pub(crate) fn limits(self) -> impl Iterator<Item = (u64, QuotaScope)> {
        [
            (self.per_app, QuotaScope::Application),
            (self.per_auth, QuotaScope::AuthKind),
        ]
        .into_iter()
        .filter_map(|(limit, who)| limit.map(|l| (l, who)))
    }
}

/// What [`KeyStore::probe`] found: of the records it read, how many opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Probe {
    pub sampled: usize,
    pub opened: usize,
}

/// The operations every store offers.
pub trait KeyStore: Send + Sync {
    /// Records a new key; [`StoreError::AlreadyExists`] if the name is taken. Atomic: nothing is
    /// written when it fails, and when it returns Ok the record is durable.
    fn create(&self, id: &KeyId, record: &KeyRecord) -> Result<(), StoreError> {
        self.create_within(id, record, Quota::default())
    }
    /// Like [`KeyStore::create`], refused with [`StoreError::QuotaExceeded`] when the key would
    /// take its application or its authenticator kind past `quota`. The count and the insert
    /// are one atomic step: concurrent creates cannot overshoot.
    fn create_within(&self, id: &KeyId, record: &KeyRecord, quota: Quota)
        -> Result<(), StoreError>;
    /// The key's record, if it exists.
    fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError>;
    /// The key's record with its version: a number that changes when the name's record is
    /// deleted and made again (0 from a store that only this process changes).
    fn get_versioned(&self, id: &KeyId) -> Result<Option<(KeyRecord, u64)>, StoreError> {
        Ok(self.get(id)?.map(|record| (record, 0)))
    }
    /// Whether other processes change the store too (a database several nodes share): a key
    /// kept loaded must then be checked with [`KeyStore::version`] on each use. A store that
    /// wraps another must pass this, `version` and `get_versioned` on.
    fn shared(&self) -> bool {
        false
    }
    /// The version of the name's record now (`None`: there is none). Asked of shared stores.
    fn version(&self, id: &KeyId) -> Result<Option<u64>, StoreError> {
        Ok(self.get_versioned(id)?.map(|(_, version)| version))
    }
    /// Deletes the key; false if it did not exist.
    fn delete(&self, id: &KeyId) -> Result<bool, StoreError>;
    /// An application's keys, by name.
    fn list(&self, auth: u8, app: &str) -> Result<Vec<Listed>, StoreError>;
    /// The applications of an authenticator that own keys, sorted.
    fn list_clients(&self, auth: u8) -> Result<Vec<String>, StoreError>;
    /// Deletes every key of an application; returns how many.
    fn delete_client(&self, auth: u8, app: &str) -> Result<usize, StoreError>;
    /// Tries to unseal up to `sample` records, for a start-up check that the master key is the
    /// one the store was sealed with (a wrong key opens none of them).
    fn probe(&self, sample: usize) -> Result<Probe, StoreError>;
    /// Checks the whole store: database structure, and that every record's material unseals.
    fn check_integrity(&self) -> Result<usize, StoreError>;
}
