//! The Parsec.1 server's state in PostgreSQL, for several nodes serving one service: the
//! sessions ([`SessionStore`]) and what lives between requests ([`LiveState`]): `requestSCK`
//! contexts, `createTSK` nonces, each session's live TSK (sealed under the master key) and its
//! replay set. A client may send each request to any node, and a message one node has read is
//! refused by every other.
//!
//! Rows of a session (TSK, replay set, nonces) go with it (`ON DELETE CASCADE`), so a session
//! destroyed through one node is gone for all. Each call is one statement or one transaction.
//! Counted inserts (sessions, `requestSCK` contexts) take an advisory lock, so that two nodes
//! cannot both take the last place.
//!
//! A node keeps the TSK it has unsealed for each session in memory, with its random id, which
//! the database row names: a TSK is unsealed once per node, and a replaced or dropped one is
//! never used: every message goes through `remember`, which checks in the database that its
//! TSK is still the session's live one before the message is used.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use parsec1::server::sessions::Limits;
use parsec1::server::{
    Full, LiveKeys, LiveState, LiveTsk, NonceRefused, Pending, PendingLimits, Remembered, Session,
    SessionStore, StoreError as StateError, MAX_NONCES_PER_SESSION,
};
use parsec1::{eta, KeyAddress, SymmetricKey};
use postgres::{Client, Statement};

use super::pool::{self, commit, migrate, pg_error, Pool, Prepared, LOCK_SCHEMA, LOCK_SPACE};
use super::PostgresOptions;
use crate::sealing::Accept;
use crate::{KeyId, MasterKey, StoreError};

/// Versions of the Parsec.1 tables' schema.
const MIGRATIONS: &[&str] = &["
CREATE TABLE parsec1_sessions (
    id         TEXT    PRIMARY KEY,
    sck        BYTEA   NOT NULL,
    address    BYTEA   NOT NULL,
    test       BOOLEAN NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX parsec1_sessions_by_address ON parsec1_sessions (address, expires_at);
CREATE INDEX parsec1_sessions_by_expiry ON parsec1_sessions (expires_at);
CREATE TABLE parsec1_tsks (
    session_id TEXT    PRIMARY KEY REFERENCES parsec1_sessions (id) ON DELETE CASCADE,
    tsk_id     BYTEA   NOT NULL UNIQUE,
    sealed     BYTEA   NOT NULL,
    expires_at BIGINT  NOT NULL,
    seen       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX parsec1_tsks_by_expiry ON parsec1_tsks (expires_at);
CREATE TABLE parsec1_seen (
    tsk_id BYTEA NOT NULL REFERENCES parsec1_tsks (tsk_id) ON DELETE CASCADE,
    item   BYTEA NOT NULL,
    PRIMARY KEY (tsk_id, item)
);
CREATE TABLE parsec1_nonces (
    session_id TEXT   NOT NULL REFERENCES parsec1_sessions (id) ON DELETE CASCADE,
    digest     BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, digest)
);
CREATE INDEX parsec1_nonces_by_expiry ON parsec1_nonces (expires_at);
CREATE TABLE parsec1_pending (
    context    BYTEA   PRIMARY KEY,
    client     TEXT    NOT NULL,
    address    BYTEA   NOT NULL,
    source     BYTEA   NOT NULL,
    length     INTEGER NOT NULL,
    test       BOOLEAN NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX parsec1_pending_by_client ON parsec1_pending (client);
"];

/// Advisory locks of counted inserts (beside the key store's, in the same namespace).
const LOCK_SESSIONS: i32 = -2;
const LOCK_PENDING: i32 = -3;

/// TSKs a node keeps unsealed; past this, the expired are dropped, then all.
const MAX_CACHED_TSKS: usize = 16_384;

/// The Parsec.1 state of several nodes, in one PostgreSQL database.
pub struct PostgresParsec1 {
    pool: Pool<Conn>,
    master: Arc<MasterKey>,
    /// By session id.
    unsealed: Mutex<HashMap<String, Unsealed>>,
}

/// A session's TSK this node has unsealed: its keys, and when it and its session expire.
struct Unsealed {
    keys: Arc<LiveKeys>,
    expires_at: u64,
    session_expires_at: u64,
}

impl std::fmt::Debug for PostgresParsec1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresParsec1({})", self.pool.place())
    }
}

struct Conn {
    client: Client,
    tsk: Statement,
    remember: Statement,
    tsk_of: Statement,
    get: Statement,
}

impl Prepared for Conn {
    fn prepare(mut client: Client) -> Result<Conn, StoreError> {
        pool::configure(&mut client)?;
        let mut prepare = |sql: &str| client.prepare(sql).map_err(pg_error);
        Ok(Conn {
            tsk: prepare(
                "SELECT t.tsk_id, t.sealed, t.expires_at, t.seen, s.expires_at, s.address, s.test
                 FROM parsec1_tsks t JOIN parsec1_sessions s ON s.id = t.session_id
                 WHERE t.session_id = $1",
            )?,
            // One statement: the TSK's row is locked while its set takes the message, and
            // the count follows what was added.
            remember: prepare(
                "WITH t AS (
                     SELECT tsk_id FROM parsec1_tsks
                     WHERE session_id = $1 AND tsk_id = $2 AND seen + 2 <= $5
                     FOR UPDATE
                 ), added AS (
                     INSERT INTO parsec1_seen (tsk_id, item)
                     SELECT t.tsk_id, x.item FROM t, (VALUES ($3::bytea), ($4::bytea)) AS x(item)
                     ON CONFLICT DO NOTHING
                     RETURNING 1
                 ), counted AS (
                     UPDATE parsec1_tsks SET seen = seen + (SELECT count(*) FROM added)::int
                     WHERE tsk_id IN (SELECT tsk_id FROM t)
                 )
                 SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM added)",
            )?,
            tsk_of: prepare("SELECT 1 FROM parsec1_tsks WHERE session_id = $1 AND tsk_id = $2")?,
            get: prepare(
                "SELECT sck, address, test, created_at, expires_at FROM parsec1_sessions
                 WHERE id = $1 AND expires_at > $2",
            )?,
            client,
        })
    }

    fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// The storage crate's error as the protocol crate's. Only a call that did nothing is
/// `Unavailable` (a client may send it again); a commit without an answer may have been
/// applied, so it is a failure of its own.
fn state_error(e: StoreError) -> StateError {
    match e {
        StoreError::Unavailable(why) => StateError::Unavailable(why),
        other => StateError::Backend(other.to_string()),
    }
}

fn secs(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

fn time(t: i64) -> Result<u64, StoreError> {
    u64::try_from(t).map_err(|_| StoreError::Corrupt)
}

/// PostgreSQL's text cannot hold NUL: no session is named with one.
fn storable(id: &str) -> bool {
    !id.contains('\0')
}

/// Locks the session's row until `tx` ends (its changes then take turns); false when there is
/// no such session.
fn lock_session(tx: &mut postgres::Transaction<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM parsec1_sessions WHERE id = $1 FOR UPDATE",
            &[&id],
        )
        .map_err(pg_error)?
        .is_some())
}

/// The identity a TSK is sealed under: its session and its id (never a key record's: those
/// have an application name).
fn tsk_identity(session_id: &str) -> KeyId {
    KeyId {
        auth: 0,
        app: String::new(),
        name: format!("parsec1 tsk {session_id}"),
    }
}

/// What the replay set keeps of a message: its IV, and the first half of its tag.
fn items(iv: &[u8; eta::IV_LEN], tag: &[u8; 16]) -> (Vec<u8>, Vec<u8>) {
    let mut a = vec![0u8];
    a.extend_from_slice(iv);
    let mut b = vec![1u8];
    b.extend_from_slice(tag);
    (a, b)
}

impl PostgresParsec1 {
    /// Connects and brings the Parsec.1 tables to this version. TSKs are sealed under
    /// `master`: every node must have the same.
    pub fn open(
        options: PostgresOptions,
        master: MasterKey,
    ) -> Result<PostgresParsec1, StoreError> {
        let pool = Pool::open(&options, |client| {
            let mut tx = client.transaction().map_err(pg_error)?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, $2)",
                &[&LOCK_SPACE, &LOCK_SCHEMA],
            )
            .map_err(pg_error)?;
            migrate(
                &mut tx,
                "parsec1_schema_version",
                "Parsec.1 session store",
                MIGRATIONS,
            )?;
            tx.commit().map_err(pg_error)
        })?;
        Ok(PostgresParsec1 {
            pool,
            master: Arc::new(master),
            unsealed: Mutex::new(HashMap::new()),
        })
    }

    /// Where the database is, for messages: host and database, never the password.
    pub fn place(&self) -> &str {
        self.pool.place()
    }

    fn call<T: Send + 'static>(
        &self,
        retry: bool,
        work: impl Fn(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StateError> {
        self.pool.call(retry, work).map_err(state_error)
    }

    fn unsealed(&self) -> MutexGuard<'_, HashMap<String, Unsealed>> {
        // Every change under this lock is one insert or removal.
        self.unsealed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The keys of the TSK row read, unsealed once per node.
    fn keys_of(&self, session_id: &str, row: &TskRow) -> Result<Arc<LiveKeys>, StateError> {
        if let Some(kept) = self.unsealed().get(session_id) {
            if kept.keys.id == row.id {
                return Ok(kept.keys.clone());
            }
        }
        let corrupt = |what: &str| StateError::Backend(format!("session {session_id}: {what}"));
        let secret = self
            .master
            .open(
                &tsk_identity(session_id),
                0,
                &row.id,
                &row.sealed,
                Accept::Current,
            )
            .map_err(|_| corrupt("its TSK does not open under this node's master key"))?;
        let tsk = SymmetricKey::from_slice(&secret).map_err(|_| corrupt("bad TSK"))?;
        let address = KeyAddress::from_bytes(&row.address).map_err(|_| corrupt("bad address"))?;
        let keys = Arc::new(LiveKeys {
            id: row.id,
            tsk,
            address_text: address.to_string(),
            address,
            test: row.test,
        });
        self.keep(
            session_id,
            keys.clone(),
            row.tsk_expires_at,
            row.session_expires_at,
        );
        Ok(keys)
    }

    /// Forgets the TSK of `session_id` this node has unsealed (dropped or replaced).
    fn forget_unsealed(&self, session_id: &str) {
        self.unsealed().remove(session_id);
    }

    /// Keeps a session's unsealed TSK, within [`MAX_CACHED_TSKS`].
    fn keep(
        &self,
        session_id: &str,
        keys: Arc<LiveKeys>,
        expires_at: u64,
        session_expires_at: u64,
    ) {
        let mut cache = self.unsealed();
        if cache.len() >= MAX_CACHED_TSKS {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            cache.retain(|_, kept| kept.expires_at > now);
            if cache.len() >= MAX_CACHED_TSKS {
                cache.clear();
            }
        }
        let kept = Unsealed {
            keys,
            expires_at,
            session_expires_at,
        };
        cache.insert(session_id.to_string(), kept);
    }
}

/// A live TSK's row, as read.
struct TskRow {
    id: [u8; 16],
    sealed: Vec<u8>,
    tsk_expires_at: u64,
    session_expires_at: u64,
    seen: usize,
    address: Vec<u8>,
    test: bool,
}

impl SessionStore for PostgresParsec1 {
    fn create(&self, session: &Session, limits: Limits, now: u64) -> Result<(), StateError> {
        if !storable(&session.id) {
            return Err(StateError::Backend("a session id cannot hold NUL".into()));
        }
        let row = (
            session.id.clone(),
            session.key.pack(),
            session.address.as_bytes().to_vec(),
            session.test,
            secs(session.created_at),
            secs(session.expires_at),
        );
        let per_key = i64::try_from(limits.per_key).unwrap_or(i64::MAX);
        let total = i64::try_from(limits.total).unwrap_or(i64::MAX);
        let refused = self.call(false, move |conn| {
            let mut tx = conn.client.transaction().map_err(pg_error)?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, $2)",
                &[&LOCK_SPACE, &LOCK_SESSIONS],
            )
            .map_err(pg_error)?;
            let live: i64 = tx
                .query_one(
                    "SELECT count(*) FROM parsec1_sessions WHERE address = $1 AND expires_at > $2",
                    &[&row.2, &secs(now)],
                )
                .map_err(pg_error)?
                .get(0);
            if live >= per_key {
                return Ok(Some(StateError::TooManySessions(limits.per_key)));
            }
            // Expired sessions count until the minute's purge forgets them, as in SQLite.
            let held: i64 = tx
                .query_one("SELECT count(*) FROM parsec1_sessions", &[])
                .map_err(pg_error)?
                .get(0);
            if held >= total {
                return Ok(Some(StateError::Full(limits.total)));
            }
            tx.execute(
                "INSERT INTO parsec1_sessions (id, sck, address, test, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[&row.0, &row.1, &row.2, &row.3, &row.4, &row.5],
            )
            .map_err(pg_error)?;
            commit(tx).map(|()| None)
        })?;
        match refused {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn get(&self, id: &str, now: u64) -> Result<Option<Session>, StateError> {
        if !storable(id) {
            return Ok(None);
        }
        let key = id.to_string();
        let row = self.call(true, move |conn| {
            Ok(conn
                .client
                .query_opt(&conn.get, &[&key, &secs(now)])
                .map_err(pg_error)?
                .map(|r| {
                    (
                        r.get::<_, Vec<u8>>(0),
                        r.get::<_, Vec<u8>>(1),
                        r.get::<_, bool>(2),
                        r.get::<_, i64>(3),
                        r.get::<_, i64>(4),
                    )
                }))
        })?;
        row.map(|(sck, address, test, created_at, expires_at)| {
            crate::parsec1_sessions::stored_session(
                id, &sck, &address, test, created_at, expires_at,
            )
        })
        .transpose()
    }

    fn delete(&self, id: &str) -> Result<bool, StateError> {
        if !storable(id) {
            return Ok(false);
        }
        self.forget_unsealed(id);
        let id = id.to_string();
        self.call(false, move |conn| {
            let n = conn
                .client
                .execute("DELETE FROM parsec1_sessions WHERE id = $1", &[&id])
                .map_err(pg_error)?;
            Ok(n > 0)
        })
    }

    fn purge_expired(&self, now: u64) -> Result<usize, StateError> {
        self.call(false, move |conn| {
            let n = conn
                .client
                .execute(
                    "DELETE FROM parsec1_sessions WHERE expires_at <= $1",
                    &[&secs(now)],
                )
                .map_err(pg_error)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }
}

impl LiveState for PostgresParsec1 {
    fn add_pending(
        &self,
        context: [u8; 16],
        pending: Pending,
        limits: PendingLimits,
        now: u64,
    ) -> Result<Result<(), Full>, StateError> {
        let total = i64::try_from(limits.total).unwrap_or(i64::MAX);
        let per_client = i64::try_from(limits.per_client).unwrap_or(i64::MAX);
        let client = pending.client.to_string();
        let row = (
            context.to_vec(),
            pending.address.as_bytes().to_vec(),
            pending.source.to_vec(),
            i32::try_from(pending.length).unwrap_or(i32::MAX),
            pending.test,
            secs(pending.expires_at),
        );
        self.call(false, move |conn| {
            let mut tx = conn.client.transaction().map_err(pg_error)?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, $2)",
                &[&LOCK_SPACE, &LOCK_PENDING],
            )
            .map_err(pg_error)?;
            let counts = |tx: &mut postgres::Transaction<'_>| -> Result<(i64, i64), StoreError> {
                let r = tx
                    .query_one(
                        "SELECT count(*), count(*) FILTER (WHERE client = $1) FROM parsec1_pending",
                        &[&client],
                    )
                    .map_err(pg_error)?;
                Ok((r.get(0), r.get(1)))
            };
            let (mut held, mut mine) = counts(&mut tx)?;
            if held >= total || mine >= per_client {
                tx.execute(
                    "DELETE FROM parsec1_pending WHERE expires_at <= $1",
                    &[&secs(now)],
                )
                .map_err(pg_error)?;
                (held, mine) = counts(&mut tx)?;
            }
            if mine >= per_client {
                return Ok(Err(Full::Client));
            }
            if held >= total {
                return Ok(Err(Full::Total));
            }
            tx.execute(
                "INSERT INTO parsec1_pending (context, client, address, source, length, test,
                     expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (context) DO UPDATE SET client = EXCLUDED.client,
                     address = EXCLUDED.address, source = EXCLUDED.source,
                     length = EXCLUDED.length, test = EXCLUDED.test,
                     expires_at = EXCLUDED.expires_at",
                &[&row.0, &client, &row.1, &row.2, &row.3, &row.4, &row.5],
            )
            .map_err(pg_error)?;
            commit(tx).map(Ok)
        })
    }

    fn take_pending(&self, context: &[u8; 16]) -> Result<Option<Pending>, StateError> {
        let context = context.to_vec();
        let row = self.call(false, move |conn| {
            Ok(conn
                .client
                .query_opt(
                    "DELETE FROM parsec1_pending WHERE context = $1
                     RETURNING client, address, source, length, test, expires_at",
                    &[&context],
                )
                .map_err(pg_error)?
                .map(|r| {
                    (
                        r.get::<_, String>(0),
                        r.get::<_, Vec<u8>>(1),
                        r.get::<_, Vec<u8>>(2),
                        r.get::<_, i32>(3),
                        r.get::<_, bool>(4),
                        r.get::<_, i64>(5),
                    )
                }))
        })?;
        let Some((client, address, source, length, test, expires_at)) = row else {
            return Ok(None);
        };
        let corrupt = || StateError::Backend("a stored session request is invalid".into());
        Ok(Some(Pending {
            address: KeyAddress::from_bytes(&address).map_err(|_| corrupt())?,
            source: source.try_into().map_err(|_| corrupt())?,
            length: u32::try_from(length).map_err(|_| corrupt())?,
            test,
            expires_at: u64::try_from(expires_at).map_err(|_| corrupt())?,
            client: client.parse::<IpAddr>().map_err(|_| corrupt())?,
        }))
    }

    fn use_nonce(
        &self,
        session_id: &str,
        nonce: &[u8],
        expires_at: u64,
        now: u64,
    ) -> Result<Result<(), NonceRefused>, StateError> {
        if !storable(session_id) {
            return Ok(Err(NonceRefused::NoSession));
        }
        let digest: Vec<u8> = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, nonce)
            .as_ref()
            .to_vec();
        let id = session_id.to_string();
        let most = i64::try_from(MAX_NONCES_PER_SESSION).unwrap_or(i64::MAX);
        self.call(false, move |conn| {
            let mut tx = conn.client.transaction().map_err(pg_error)?;
            // Its createTSKs take turns.
            if !lock_session(&mut tx, &id)? {
                return Ok(Err(NonceRefused::NoSession));
            }
            tx.execute(
                "DELETE FROM parsec1_nonces WHERE session_id = $1 AND expires_at <= $2",
                &[&id, &secs(now)],
            )
            .map_err(pg_error)?;
            let r = tx
                .query_one(
                    "SELECT count(*) FILTER (WHERE digest = $2), count(*) FROM parsec1_nonces
                     WHERE session_id = $1",
                    &[&id, &digest],
                )
                .map_err(pg_error)?;
            let (same, held): (i64, i64) = (r.get(0), r.get(1));
            if same > 0 {
                return Ok(Err(NonceRefused::Replayed));
            }
            if held >= most {
                return Ok(Err(NonceRefused::TooMany));
            }
            tx.execute(
                "INSERT INTO parsec1_nonces (session_id, digest, expires_at) VALUES ($1, $2, $3)",
                &[&id, &digest, &secs(expires_at)],
            )
            .map_err(pg_error)?;
            commit(tx).map(Ok)
        })
    }

    fn set_tsk(
        &self,
        session_id: &str,
        keys: Arc<LiveKeys>,
        tsk_expires_at: u64,
        session_expires_at: u64,
    ) -> Result<bool, StateError> {
        if !storable(session_id) {
            return Ok(false);
        }
        let sealed = self
            .master
            .seal(&tsk_identity(session_id), 0, &keys.id, keys.tsk.as_bytes())
            .map_err(state_error)?;
        let (id, tsk_id) = (session_id.to_string(), keys.id.to_vec());
        let set = self.call(false, move |conn| {
            let mut tx = conn.client.transaction().map_err(pg_error)?;
            // Two nodes making a TSK for one session take turns (the later one's TSK is the
            // live one), and a session gone has none.
            if !lock_session(&mut tx, &id)? {
                return Ok(false);
            }
            tx.execute("DELETE FROM parsec1_tsks WHERE session_id = $1", &[&id])
                .map_err(pg_error)?;
            tx.execute(
                "INSERT INTO parsec1_tsks (session_id, tsk_id, sealed, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[&id, &tsk_id, &sealed, &secs(tsk_expires_at)],
            )
            .map_err(pg_error)?;
            commit(tx).map(|()| true)
        })?;
        // Whatever this node had unsealed for the session is no longer its TSK.
        self.forget_unsealed(session_id);
        if set {
            self.keep(session_id, keys, tsk_expires_at, session_expires_at);
        }
        Ok(set)
    }

    fn tsk(&self, session_id: &str) -> Result<Option<LiveTsk>, StateError> {
        if !storable(session_id) {
            return Ok(None);
        }
        let id = session_id.to_string();
        let row = self.call(true, move |conn| {
            let Some(r) = conn.client.query_opt(&conn.tsk, &[&id]).map_err(pg_error)? else {
                return Ok(None);
            };
            let tsk_expires_at = time(r.get(2))?;
            let session_expires_at = time(r.get(4))?;
            Ok(Some(TskRow {
                id: r
                    .get::<_, Vec<u8>>(0)
                    .try_into()
                    .map_err(|_| StoreError::Corrupt)?,
                sealed: r.get(1),
                tsk_expires_at,
                seen: usize::try_from(r.get::<_, i32>(3)).map_err(|_| StoreError::Corrupt)?,
                session_expires_at,
                address: r.get(5),
                test: r.get(6),
            }))
        })?;
        let Some(row) = row else {
            self.forget_unsealed(session_id);
            return Ok(None);
        };
        Ok(Some(LiveTsk {
            keys: self.keys_of(session_id, &row)?,
            tsk_expires_at: row.tsk_expires_at,
            session_expires_at: row.session_expires_at,
            seen: row.seen,
        }))
    }

    fn cached_tsk(&self, session_id: &str) -> Option<LiveTsk> {
        self.unsealed().get(session_id).map(|kept| LiveTsk {
            keys: kept.keys.clone(),
            tsk_expires_at: kept.expires_at,
            session_expires_at: kept.session_expires_at,
            seen: 0,
        })
    }

    fn remember(
        &self,
        session_id: &str,
        keys: &LiveKeys,
        iv: [u8; eta::IV_LEN],
        tag: [u8; 16],
        max_seen: usize,
    ) -> Result<Remembered, StateError> {
        if !storable(session_id) {
            return Ok(Remembered::Gone);
        }
        let (id, tsk_id) = (session_id.to_string(), keys.id.to_vec());
        let (a, b) = items(&iv, &tag);
        let most = i32::try_from(max_seen).unwrap_or(i32::MAX);
        self.call(false, move |conn| {
            let r = conn
                .client
                .query_one(&conn.remember, &[&id, &tsk_id, &a, &b, &most])
                .map_err(pg_error)?;
            let (live, added): (i64, i64) = (r.get(0), r.get(1));
            if live == 0 {
                // Not taken: the set is full, or the TSK is no longer the session's.
                let exists = conn
                    .client
                    .query_opt(&conn.tsk_of, &[&id, &tsk_id])
                    .map_err(pg_error)?
                    .is_some();
                return Ok(if exists {
                    Remembered::Full
                } else {
                    Remembered::Gone
                });
            }
            Ok(if added == 2 {
                Remembered::Fresh
            } else {
                Remembered::Replayed
            })
        })
    }

    fn drop_tsk(&self, session_id: &str) -> Result<bool, StateError> {
        if !storable(session_id) {
            return Ok(false);
        }
        let id = session_id.to_string();
        self.forget_unsealed(session_id);
        self.call(false, move |conn| {
            let n = conn
                .client
                .execute("DELETE FROM parsec1_tsks WHERE session_id = $1", &[&id])
                .map_err(pg_error)?;
            Ok(n > 0)
        })
    }

    fn drop_tsk_if(&self, session_id: &str, keys: &LiveKeys) -> Result<bool, StateError> {
        if !storable(session_id) {
            return Ok(false);
        }
        let (id, tsk_id) = (session_id.to_string(), keys.id.to_vec());
        {
            let mut cache = self.unsealed();
            if cache.get(session_id).is_some_and(|k| k.keys.id == keys.id) {
                cache.remove(session_id);
            }
        }
        self.call(false, move |conn| {
            let n = conn
                .client
                .execute(
                    "DELETE FROM parsec1_tsks WHERE session_id = $1 AND tsk_id = $2",
                    &[&id, &tsk_id],
                )
                .map_err(pg_error)?;
            Ok(n > 0)
        })
    }

    fn forget_session(&self, session_id: &str) -> Result<(), StateError> {
        if !storable(session_id) {
            return Ok(());
        }
        let id = session_id.to_string();
        self.forget_unsealed(session_id);
        self.call(false, move |conn| {
            let mut tx = conn.client.transaction().map_err(pg_error)?;
            tx.execute("DELETE FROM parsec1_tsks WHERE session_id = $1", &[&id])
                .map_err(pg_error)?;
            tx.execute("DELETE FROM parsec1_nonces WHERE session_id = $1", &[&id])
                .map_err(pg_error)?;
            commit(tx)
        })
    }

    fn purge(&self, now: u64) -> Result<(), StateError> {
        self.unsealed()
            .retain(|_, kept| kept.expires_at > now && kept.session_expires_at > now);
        self.call(false, move |conn| {
            let now = secs(now);
            conn.client
                .execute(
                    "DELETE FROM parsec1_pending WHERE expires_at <= $1",
                    &[&now],
                )
                .map_err(pg_error)?;
            conn.client
                .execute("DELETE FROM parsec1_nonces WHERE expires_at <= $1", &[&now])
                .map_err(pg_error)?;
            conn.client
                .execute(
                    "DELETE FROM parsec1_tsks t USING parsec1_sessions s
                     WHERE s.id = t.session_id AND (t.expires_at <= $1 OR s.expires_at <= $1)",
                    &[&now],
                )
                .map_err(pg_error)?;
            Ok(())
        })
    }
}
