//! What the server remembers between guest requests: `requestSCK` contexts waiting for their
//! `registerSCK`, bounded in total and per client address, and the client nonces of
//! `createTSK` records, so that a captured `createTSK` cannot be replayed to replace a live TSK.

use std::collections::HashMap;
use std::net::IpAddr;

use sha2::{Digest, Sha256};

use crate::KeyAddress;

/// A `requestSCK` waiting for its `registerSCK`.
#[derive(Debug, Clone)]
pub struct Pending {
    pub address: KeyAddress,
    pub source: [u8; 32],
    pub length: u32,
    pub test: bool,
    pub expires_at: u64,
    /// The client (address or IPv6 /64) that asked, whose count it holds.
    pub client: IpAddr,
}

impl Pending {
    pub fn new(
        address: KeyAddress,
        source: [u8; 32],
        length: u32,
        test: bool,
        expires_at: u64,
        peer: IpAddr,
    ) -> Pending {
        Pending {
            address,
            source,
            length,
            test,
            expires_at,
            client: super::limiter::client_of(peer),
        }
    }
}

/// Why a context could not be kept.
#[derive(Debug, PartialEq, Eq)]
pub enum Full {
    /// The whole table is full of live contexts.
    Total,
    /// This client already has its share.
    Client,
}

/// The pending contexts, with a count per client so that one client cannot take the room
/// others need.
#[derive(Default)]
pub(super) struct PendingTable {
    entries: HashMap<[u8; 16], Pending>,
    per_client: HashMap<IpAddr, usize>,
}

impl PendingTable {
    /// Keeps `pending` under `context`, unless the table (`max_total`) or its client's share
    /// (`max_per_client`) is full of contexts still live at `now`.
    pub fn insert(
        &mut self,
        context: [u8; 16],
        pending: Pending,
        max_total: usize,
        max_per_client: usize,
        now: u64,
    ) -> Result<(), Full> {
        let client = pending.client;
        let full = |t: &Self| t.per_client.get(&client).copied().unwrap_or(0) >= max_per_client;
        if self.entries.len() >= max_total || full(self) {
            self.purge(now);
        }
        if full(self) {
            return Err(Full::Client);
        }
        if self.entries.len() >= max_total {
            return Err(Full::Total);
        }
        *self.per_client.entry(client).or_default() += 1;
        if let Some(old) = self.entries.insert(context, pending) {
            self.release(old.client);
        }
        Ok(())
    }

    /// Takes the context out (single use), live or not.
    pub fn take(&mut self, context: &[u8; 16]) -> Option<Pending> {
        let pending = self.entries.remove(context)?;
        self.release(pending.client);
        Some(pending)
    }

    /// Forgets the contexts expired at `now`.
    pub fn purge(&mut self, now: u64) {
        let per_client = &mut self.per_client;
        self.entries.retain(|_, p| {
            let live = p.expires_at > now;
            if !live {
                release(per_client, p.client);
            }
            live
        });
    }

    fn release(&mut self, client: IpAddr) {
        release(&mut self.per_client, client);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

fn release(per_client: &mut HashMap<IpAddr, usize>, client: IpAddr) {
    if let Some(n) = per_client.get_mut(&client) {
        *n -= 1;
        if *n == 0 {
            per_client.remove(&client);
        }
    }
}

/// Why a `createTSK` nonce was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum NonceRefused {
    /// This session has already used it, within the lifetime of the TSK it made.
    Replayed,
    /// The session has made [`MAX_NONCES_PER_SESSION`] TSKs still within their lifetime.
    TooMany,
    /// The session is gone (destroyed meanwhile, perhaps through another node).
    NoSession,
}

/// TSKs one session may make within one TSK lifetime (its nonces are remembered that long).
/// Only the holder of the session key can sign `createTSK` records, so only it can reach this.
pub const MAX_NONCES_PER_SESSION: usize = 4096;

/// The `createTSK` client nonces each session has used, each remembered until the TSK it made
/// expires.
#[derive(Default)]
pub(super) struct UsedNonces {
    by_session: HashMap<String, Vec<([u8; 32], u64)>>,
}

impl UsedNonces {
    /// Records `nonce` for `session` until `until`; refused if already used (and not expired
    /// at `now`), or if the session has too many live ones.
    pub fn use_once(
        &mut self,
        session: &str,
        nonce: &[u8],
        until: u64,
        now: u64,
    ) -> Result<(), NonceRefused> {
        let digest: [u8; 32] = Sha256::digest(nonce).into();
        let used = self.by_session.entry(session.to_string()).or_default();
        used.retain(|(_, expires_at)| *expires_at > now);
        if used.iter().any(|(d, _)| *d == digest) {
            return Err(NonceRefused::Replayed);
        }
        if used.len() >= MAX_NONCES_PER_SESSION {
            return Err(NonceRefused::TooMany);
        }
        used.push((digest, until));
        Ok(())
    }

    /// Forgets a session (destroyed).
    pub fn forget(&mut self, session: &str) {
        self.by_session.remove(session);
    }

    /// Forgets the nonces expired at `now`.
    pub fn purge(&mut self, now: u64) {
        self.by_session.retain(|_, used| {
            used.retain(|(_, expires_at)| *expires_at > now);
            !used.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrivateKey;

    fn pending(peer: &str, expires_at: u64) -> Pending {
        static KEY: std::sync::OnceLock<KeyAddress> = std::sync::OnceLock::new();
        let address = KEY
            .get_or_init(|| {
                PrivateKey::generate(2048)
                    .unwrap()
                    .public_key()
                    .long_address()
                    .unwrap()
            })
            .clone();
        Pending::new(
            address,
            [0; 32],
            8,
            false,
            expires_at,
            peer.parse().unwrap(),
        )
    }

    fn ctx(i: u32) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[..4].copy_from_slice(&i.to_le_bytes());
        c
    }

    #[test]
    fn one_client_cannot_take_the_others_room() {
        let mut t = PendingTable::default();
        for i in 0..4 {
            t.insert(ctx(i), pending("192.0.2.1", 100), 10, 4, 0)
                .unwrap();
        }
        assert_eq!(
            t.insert(ctx(4), pending("192.0.2.1", 100), 10, 4, 0),
            Err(Full::Client)
        );
        // Another address of the same IPv6 /64 is the same client.
        for i in 10..14 {
            t.insert(ctx(i), pending("2001:db8::1", 100), 10, 4, 0)
                .unwrap();
        }
        assert_eq!(
            t.insert(ctx(14), pending("2001:db8::ffff", 100), 10, 4, 0),
            Err(Full::Client)
        );
        t.insert(ctx(20), pending("192.0.2.2", 100), 10, 4, 0)
            .unwrap();
        t.insert(ctx(21), pending("192.0.2.3", 100), 10, 4, 0)
            .unwrap();
        assert_eq!(
            t.insert(ctx(22), pending("192.0.2.4", 100), 10, 4, 0),
            Err(Full::Total)
        );
        // Taking one gives its client room again; expiry gives everyone room.
        assert!(t.take(&ctx(0)).is_some());
        assert!(t.take(&ctx(0)).is_none(), "single use");
        t.insert(ctx(5), pending("192.0.2.1", 100), 11, 4, 0)
            .unwrap();
        t.insert(ctx(30), pending("192.0.2.9", 100), 10, 4, 100)
            .unwrap();
        assert_eq!(t.len(), 1, "all the others expired at 100");
    }

    #[test]
    fn a_nonce_is_used_once_while_its_tsk_lives() {
        let mut n = UsedNonces::default();
        n.use_once("s", b"nonce", 100, 0).unwrap();
        assert_eq!(
            n.use_once("s", b"nonce", 100, 50),
            Err(NonceRefused::Replayed)
        );
        n.use_once("other", b"nonce", 100, 50).unwrap();
        n.use_once("s", b"nonce", 200, 100).unwrap();
        n.forget("s");
        n.use_once("s", b"nonce", 200, 100).unwrap();
        for i in 1..MAX_NONCES_PER_SESSION {
            n.use_once("s", &i.to_le_bytes(), 200, 100).unwrap();
        }
        assert_eq!(
            n.use_once("s", b"more", 200, 100),
            Err(NonceRefused::TooMany)
        );
        n.purge(200);
        assert!(n.by_session.is_empty());
    }
}
