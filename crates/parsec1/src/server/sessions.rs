//! Where sessions live: a trait, and the in-memory store (for tests and for deployments that
//! accept losing sessions on restart). The storage crate provides SQLite and PostgreSQL stores.
//!
//! A session store keeps the session's id, its key (SCK) and expiry. The session's TSK is the
//! [`super::LiveState`]'s: in the server's memory by default, so a restart makes every client
//! fetch a new one (spec §5.5 step 3, which clients do by themselves); in the database when
//! several nodes share it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{KeyAddress, PublicKey};

/// A registered session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The id the client sends back as `authToken`.
    pub id: String,
    /// The session's client key (SCK).
    pub key: PublicKey,
    /// The SCK's long address: the remote application's identity.
    pub address: KeyAddress,
    /// The client asked for test mode.
    pub test: bool,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Seconds since the Unix epoch; the session is gone after this.
    pub expires_at: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The SCK already has the maximum number of live sessions.
    #[error("this session key already has {0} sessions")]
    TooManySessions(usize),
    /// The store holds the maximum number of sessions in all.
    #[error("the service already has {0} sessions")]
    Full(usize),
    /// The store itself failed.
    #[error("session store: {0}")]
    Backend(String),
    /// The store cannot be reached now (a database restarting, a network cut): nothing was
    /// done, and the same call may succeed later.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
}

/// The bounds a new session must fit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Live sessions of one SCK.
    pub per_key: usize,
    /// Sessions held in all.
    pub total: usize,
}

/// Session storage. Implementations must make `create`'s count-and-insert atomic.
pub trait SessionStore: Send + Sync {
    /// Adds a session, unless its key already has `limits.per_key` live sessions at `now`, or
    /// the store holds `limits.total` sessions (expired ones may count until purged).
    fn create(&self, session: &Session, limits: Limits, now: u64) -> Result<(), StoreError>;
    /// The session with this id, if it exists and has not expired at `now`.
    fn get(&self, id: &str, now: u64) -> Result<Option<Session>, StoreError>;
    /// Removes a session; false if there was none.
    fn delete(&self, id: &str) -> Result<bool, StoreError>;
    /// Removes the sessions expired at `now`; returns how many.
    fn purge_expired(&self, now: u64) -> Result<usize, StoreError>;
}

/// Sessions in memory: lost on restart.
#[derive(Debug, Default)]
pub struct MemorySessions {
    sessions: Mutex<HashMap<String, Session>>,
}

impl MemorySessions {
    pub fn new() -> MemorySessions {
        MemorySessions::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock cannot leave the map half-updated: every change is
        // a single insert or remove.
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SessionStore for MemorySessions {
    fn create(&self, session: &Session, limits: Limits, now: u64) -> Result<(), StoreError> {
        let mut sessions = self.lock();
        let live = sessions
            .values()
            .filter(|s| s.address == session.address && s.expires_at > now)
            .count();
        if live >= limits.per_key {
            return Err(StoreError::TooManySessions(limits.per_key));
        }
        if sessions.len() >= limits.total {
            sessions.retain(|_, s| s.expires_at > now);
            if sessions.len() >= limits.total {
                return Err(StoreError::Full(limits.total));
            }
        }
        sessions.insert(session.id.clone(), session.clone());
        Ok(())
    }

    fn get(&self, id: &str, now: u64) -> Result<Option<Session>, StoreError> {
        Ok(self.lock().get(id).filter(|s| s.expires_at > now).cloned())
    }

    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.lock().remove(id).is_some())
    }

    fn purge_expired(&self, now: u64) -> Result<usize, StoreError> {
        let mut sessions = self.lock();
        let before = sessions.len();
        sessions.retain(|_, s| s.expires_at > now);
        Ok(before - sessions.len())
    }
}

impl<T: SessionStore + ?Sized> SessionStore for Box<T> {
    fn create(&self, session: &Session, limits: Limits, now: u64) -> Result<(), StoreError> {
        (**self).create(session, limits, now)
    }
    fn get(&self, id: &str, now: u64) -> Result<Option<Session>, StoreError> {
        (**self).get(id, now)
    }
    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        (**self).delete(id)
    }
    fn purge_expired(&self, now: u64) -> Result<usize, StoreError> {
        (**self).purge_expired(now)
    }
}

/// A store shared (several servers in one process, as nodes of one service).
impl<T: SessionStore + ?Sized> SessionStore for std::sync::Arc<T> {
    fn create(&self, session: &Session, limits: Limits, now: u64) -> Result<(), StoreError> {
        (**self).create(session, limits, now)
    }
    fn get(&self, id: &str, now: u64) -> Result<Option<Session>, StoreError> {
        (**self).get(id, now)
    }
    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        (**self).delete(id)
    }
    fn purge_expired(&self, now: u64) -> Result<usize, StoreError> {
        (**self).purge_expired(now)
    }
}
