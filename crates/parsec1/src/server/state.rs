//! What the server keeps between requests besides the sessions themselves: `requestSCK`
//! contexts waiting for their `registerSCK`, the `createTSK` nonces already used, and each
//! session's live TSK with its replay set. Behind [`LiveState`], so that several service nodes
//! can share them (a database); [`MemoryState`] keeps them in this process, as a single node
//! does.
//!
//! Every call can fail ([`StoreError`]) when the state lives in a database that cannot be
//! reached: the request then fails, and nothing is taken as allowed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use super::pending::{Full, NonceRefused, Pending, PendingTable, UsedNonces};
use super::sessions::StoreError;
use crate::{eta, KeyAddress, SymmetricKey};

/// The bounds of the `requestSCK` contexts kept.
#[derive(Debug, Clone, Copy)]
pub struct PendingLimits {
    /// Contexts kept in all.
    pub total: usize,
    /// Contexts of one client address (an IPv6 /64 counts as one).
    pub per_client: usize,
}

/// A session's TSK and what the tunnel needs with it, shared with the requests in flight so
/// that none copies the key schedule. (Its Debug does not show the TSK.)
#[derive(Debug)]
pub struct LiveKeys {
    /// Names this TSK among the session's (random): a message read under one TSK is never
    /// counted against, or drops, another made since.
    pub id: [u8; 16],
    pub tsk: SymmetricKey,
    pub address: KeyAddress,
    pub address_text: String,
    pub test: bool,
}

/// A session's live TSK as the tunnel reads it.
#[derive(Clone, Debug)]
pub struct LiveTsk {
    pub keys: Arc<LiveKeys>,
    /// Seconds since the Unix epoch.
    pub tsk_expires_at: u64,
    pub session_expires_at: u64,
    /// Entries in its replay set (two per message carried).
    pub seen: usize,
}

/// What [`LiveState::remember`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remembered {
    /// Neither the IV nor the tag was seen under this TSK: both are remembered now.
    Fresh,
    /// The IV or the tag was seen already: a replay.
    Replayed,
    /// The replay set holds its most: this TSK carries no more messages.
    Full,
    /// The session no longer has this TSK (dropped, expired or replaced meanwhile).
    Gone,
}

/// Where the server keeps its state between requests. Each call is atomic.
pub trait LiveState: Send + Sync {
    /// Keeps an SCK request under `context` until [`LiveState::take_pending`], unless the
    /// limits are reached (expired contexts are purged first).
    fn add_pending(
        &self,
        context: [u8; 16],
        pending: Pending,
        limits: PendingLimits,
        now: u64,
    ) -> Result<Result<(), Full>, StoreError>;
    /// Takes the SCK request of `context`: at most once.
    fn take_pending(&self, context: &[u8; 16]) -> Result<Option<Pending>, StoreError>;
    /// Records a `createTSK` nonce of `session_id`, remembered until `expires_at`: refused if
    /// used already, or when the session has too many remembered.
    fn use_nonce(
        &self,
        session_id: &str,
        nonce: &[u8],
        expires_at: u64,
        now: u64,
    ) -> Result<Result<(), NonceRefused>, StoreError>;
    /// Makes `keys` the session's live TSK, with an empty replay set. False when the session
    /// is gone (destroyed meanwhile, perhaps through another node).
    fn set_tsk(
        &self,
        session_id: &str,
        keys: Arc<LiveKeys>,
        tsk_expires_at: u64,
        session_expires_at: u64,
    ) -> Result<bool, StoreError>;
    /// The session's live TSK, if it has one.
    fn tsk(&self, session_id: &str) -> Result<Option<LiveTsk>, StoreError>;
    /// A TSK of the session this node holds already (none by default), without asking the
    /// store: it may have been replaced or dropped since, which [`LiveState::remember`] finds
    /// out (`Gone`) before the message is used. Its `seen` is not known (0).
    fn cached_tsk(&self, _session_id: &str) -> Option<LiveTsk> {
        None
    }
    /// Adds a message's IV and tag to the replay set of the session's TSK `keys`, unless the
    /// set already holds `max_seen` entries.
    fn remember(
        &self,
        session_id: &str,
        keys: &LiveKeys,
        iv: [u8; eta::IV_LEN],
        tag: [u8; 16],
        max_seen: usize,
    ) -> Result<Remembered, StoreError>;
    /// Drops the session's TSK; false if it had none.
    fn drop_tsk(&self, session_id: &str) -> Result<bool, StoreError>;
    /// Drops the session's TSK if it is still `keys` (not one made since).
    fn drop_tsk_if(&self, session_id: &str, keys: &LiveKeys) -> Result<bool, StoreError>;
    /// Forgets everything of a destroyed session.
    fn forget_session(&self, session_id: &str) -> Result<(), StoreError>;
    /// Forgets what expired at `now`.
    fn purge(&self, now: u64) -> Result<(), StoreError>;
}

/// A state shared (several servers in one process, as nodes of one service).
impl<T: LiveState + ?Sized> LiveState for Arc<T> {
    fn add_pending(
        &self,
        context: [u8; 16],
        pending: Pending,
        limits: PendingLimits,
        now: u64,
    ) -> Result<Result<(), Full>, StoreError> {
        (**self).add_pending(context, pending, limits, now)
    }
    fn take_pending(&self, context: &[u8; 16]) -> Result<Option<Pending>, StoreError> {
        (**self).take_pending(context)
    }
    fn use_nonce(
        &self,
        session_id: &str,
        nonce: &[u8],
        expires_at: u64,
        now: u64,
    ) -> Result<Result<(), NonceRefused>, StoreError> {
        (**self).use_nonce(session_id, nonce, expires_at, now)
    }
    fn set_tsk(
        &self,
        session_id: &str,
        keys: Arc<LiveKeys>,
        tsk_expires_at: u64,
        session_expires_at: u64,
    ) -> Result<bool, StoreError> {
        (**self).set_tsk(session_id, keys, tsk_expires_at, session_expires_at)
    }
    fn tsk(&self, session_id: &str) -> Result<Option<LiveTsk>, StoreError> {
        (**self).tsk(session_id)
    }
    fn cached_tsk(&self, session_id: &str) -> Option<LiveTsk> {
        (**self).cached_tsk(session_id)
    }
    fn remember(
        &self,
        session_id: &str,
        keys: &LiveKeys,
        iv: [u8; eta::IV_LEN],
        tag: [u8; 16],
        max_seen: usize,
    ) -> Result<Remembered, StoreError> {
        (**self).remember(session_id, keys, iv, tag, max_seen)
    }
    fn drop_tsk(&self, session_id: &str) -> Result<bool, StoreError> {
        (**self).drop_tsk(session_id)
    }
    fn drop_tsk_if(&self, session_id: &str, keys: &LiveKeys) -> Result<bool, StoreError> {
        (**self).drop_tsk_if(session_id, keys)
    }
    fn forget_session(&self, session_id: &str) -> Result<(), StoreError> {
        (**self).forget_session(session_id)
    }
    fn purge(&self, now: u64) -> Result<(), StoreError> {
        (**self).purge(now)
    }
}

/// What the replay set remembers of each tunnelled message.
#[derive(PartialEq, Eq, Hash)]
enum Seen {
    Iv([u8; eta::IV_LEN]),
    /// The first half of the HMAC tag.
    Tag([u8; 16]),
}

struct Live {
    keys: Arc<LiveKeys>,
    tsk_expires_at: u64,
    session_expires_at: u64,
    seen: HashSet<Seen>,
}

/// The state in this process's memory: lost on restart (clients then make a new TSK by
/// themselves, spec §5.5).
#[derive(Default)]
pub struct MemoryState {
    pending: Mutex<PendingTable>,
    nonces: Mutex<UsedNonces>,
    live: Mutex<HashMap<String, Live>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change under these locks is one insert, remove or field update.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LiveState for MemoryState {
    fn add_pending(
        &self,
        context: [u8; 16],
        pending: Pending,
        limits: PendingLimits,
        now: u64,
    ) -> Result<Result<(), Full>, StoreError> {
        Ok(lock(&self.pending).insert(context, pending, limits.total, limits.per_client, now))
    }

    fn take_pending(&self, context: &[u8; 16]) -> Result<Option<Pending>, StoreError> {
        Ok(lock(&self.pending).take(context))
    }

    fn use_nonce(
        &self,
        session_id: &str,
        nonce: &[u8],
        expires_at: u64,
        now: u64,
    ) -> Result<Result<(), NonceRefused>, StoreError> {
        Ok(lock(&self.nonces).use_once(session_id, nonce, expires_at, now))
    }

    fn set_tsk(
        &self,
        session_id: &str,
        keys: Arc<LiveKeys>,
        tsk_expires_at: u64,
        session_expires_at: u64,
    ) -> Result<bool, StoreError> {
        lock(&self.live).insert(
            session_id.to_string(),
            Live {
                keys,
                tsk_expires_at,
                session_expires_at,
                seen: HashSet::new(),
            },
        );
        Ok(true)
    }

    fn tsk(&self, session_id: &str) -> Result<Option<LiveTsk>, StoreError> {
        Ok(lock(&self.live).get(session_id).map(|live| LiveTsk {
            keys: live.keys.clone(),
            tsk_expires_at: live.tsk_expires_at,
            session_expires_at: live.session_expires_at,
            seen: live.seen.len(),
        }))
    }

    fn remember(
        &self,
        session_id: &str,
        keys: &LiveKeys,
        iv: [u8; eta::IV_LEN],
        tag: [u8; 16],
        max_seen: usize,
    ) -> Result<Remembered, StoreError> {
        let mut live = lock(&self.live);
        let Some(state) = live.get_mut(session_id).filter(|s| s.keys.id == keys.id) else {
            return Ok(Remembered::Gone);
        };
        if state.seen.len().saturating_add(2) > max_seen {
            return Ok(Remembered::Full);
        }
        let fresh_iv = state.seen.insert(Seen::Iv(iv));
        let fresh_tag = state.seen.insert(Seen::Tag(tag));
        Ok(if fresh_iv && fresh_tag {
            Remembered::Fresh
        } else {
            Remembered::Replayed
        })
    }

    fn drop_tsk(&self, session_id: &str) -> Result<bool, StoreError> {
        Ok(lock(&self.live).remove(session_id).is_some())
    }

    fn drop_tsk_if(&self, session_id: &str, keys: &LiveKeys) -> Result<bool, StoreError> {
        let mut live = lock(&self.live);
        if live.get(session_id).is_some_and(|s| s.keys.id == keys.id) {
            live.remove(session_id);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn forget_session(&self, session_id: &str) -> Result<(), StoreError> {
        lock(&self.live).remove(session_id);
        lock(&self.nonces).forget(session_id);
        Ok(())
    }

    fn purge(&self, now: u64) -> Result<(), StoreError> {
        lock(&self.pending).purge(now);
        lock(&self.nonces).purge(now);
        lock(&self.live).retain(|_, l| l.tsk_expires_at > now && l.session_expires_at > now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_state_keeps_the_contract() {
        super::super::conformance::live_state(
            &MemoryState::default(),
            &super::super::MemorySessions::new(),
        );
    }
}
