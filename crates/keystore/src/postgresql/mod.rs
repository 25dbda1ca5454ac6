//! The shared store: one PostgreSQL database that several service nodes use at once.
//!
//! The guarantees are the SQLite store's: a create is one transaction (the quota counts and the
//! insert-if-absent, serialised against other creates by an advisory lock), durable when it
//! returns; material is sealed under the master key with the record's identity as associated
//! data; the schema carries its version and is brought forward by numbered migrations, under a
//! lock so that nodes starting together apply each once. Every node must use the same master
//! key: the database keeps a value sealed under it, and a node whose key does not open that
//! value is refused at start-up, before it could seal a record that the others cannot read.
//!
//! Connections and their failures are [`pool`]'s. The Parsec.1 state that nodes share is in
//! [`parsec1`], on a pool of its own.

mod parsec1;
mod pool;

use std::sync::Arc;

use postgres::{Client, Statement};

pub use self::parsec1::PostgresParsec1;
pub use pool::PostgresOptions;
use pool::{commit, migrate, pg_error, Pool, Prepared, LOCK_SCHEMA, LOCK_SPACE};

use crate::sealing::Accept;
use crate::{KeyId, KeyRecord, KeyStore, Listed, MasterKey, Probe, Quota, QuotaScope, StoreError};

/// Versions of the key table's schema, each the statements that make it from the one before.
const MIGRATIONS: &[&str] = &["
CREATE TABLE parsec_keys (
    auth       SMALLINT NOT NULL,
    app        TEXT     NOT NULL,
    name       TEXT     NOT NULL,
    provider   SMALLINT NOT NULL,
    attributes BYTEA    NOT NULL,
    material   BYTEA    NOT NULL,
    serial     BIGINT   GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (auth, app, name)
);
"];

/// The record sealed under the master key to check that every node uses the same one.
fn check_id() -> KeyId {
    KeyId {
        auth: 0,
        app: String::new(),
        name: "parsec master key check".to_string(),
    }
}
const CHECK_PLAINTEXT: &[u8] = b"parsec master key check v1";

/// A key store in a PostgreSQL database.
pub struct PostgresStore {
    pool: Pool<Conn>,
    master: Arc<MasterKey>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresStore({})", self.pool.place())
    }
}

/// The prepared statements of one connection.
struct Conn {
    client: Client,
    get: Statement,
    version: Statement,
    insert: Statement,
    delete: Statement,
    list: Statement,
    clients: Statement,
    delete_client: Statement,
}

impl PostgresStore {
    /// Connects, brings the schema to this version and checks the master key against the
    /// database's (recording it when the database has none yet).
    pub fn open(options: PostgresOptions, master: MasterKey) -> Result<PostgresStore, StoreError> {
        let master = Arc::new(master);
        let pool = Pool::open(&options, |client| prepare_database(client, &master))?;
        Ok(PostgresStore { pool, master })
    }

    /// How many key records the database holds, without a master key and changing nothing (0
    /// when it has no key table yet). Used before a master key is created: a store that holds
    /// records must never get a new one.
    pub fn count_records(options: &PostgresOptions) -> Result<u64, StoreError> {
        pool::with_connection(options, |client| {
            let exists: bool = client
                .query_one("SELECT to_regclass('parsec_keys') IS NOT NULL", &[])
                .map_err(pg_error)?
                .get(0);
            if !exists {
                return Ok(0);
            }
            let n: i64 = client
                .query_one("SELECT count(*) FROM parsec_keys", &[])
                .map_err(pg_error)?
                .get(0);
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Where the store is, for messages: host and database, never the password.
    pub fn place(&self) -> &str {
        self.pool.place()
    }

    /// Runs `work` on a connection (see [`Pool::call`]).
    fn call<T: Send + 'static>(
        &self,
        retry: bool,
        work: impl Fn(&mut Conn, &MasterKey) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let master = self.master.clone();
        self.pool.call(retry, move |conn| work(conn, &master))
    }
}

impl Prepared for Conn {
    fn prepare(mut client: Client) -> Result<Conn, StoreError> {
        pool::configure(&mut client)?;
        let mut prepare = |sql: &str| client.prepare(sql).map_err(pg_error);
        Ok(Conn {
            get: prepare(
                "SELECT provider, attributes, material, serial FROM parsec_keys
                 WHERE auth = $1 AND app = $2 AND name = $3",
            )?,
            version: prepare(
                "SELECT serial FROM parsec_keys WHERE auth = $1 AND app = $2 AND name = $3",
            )?,
            insert: prepare(
                "INSERT INTO parsec_keys (auth, app, name, provider, attributes, material)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )?,
            delete: prepare("DELETE FROM parsec_keys WHERE auth = $1 AND app = $2 AND name = $3")?,
            // Byte order, as SQLite's: the database's collation may sort otherwise.
            list: prepare(
                "SELECT name, provider, attributes FROM parsec_keys
                 WHERE auth = $1 AND app = $2 ORDER BY name COLLATE \"C\"",
            )?,
            clients: prepare(
                "SELECT DISTINCT app COLLATE \"C\" FROM parsec_keys WHERE auth = $1
                 ORDER BY 1",
            )?,
            delete_client: prepare("DELETE FROM parsec_keys WHERE auth = $1 AND app = $2")?,
            client,
        })
    }

    fn client(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Brings the schema to [`MIGRATIONS`]'s last version and checks (or records) the master key,
/// in one transaction under a lock that other nodes starting take too.
fn prepare_database(client: &mut Client, master: &MasterKey) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(pg_error)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&LOCK_SPACE, &LOCK_SCHEMA],
    )
    .map_err(pg_error)?;
    migrate(&mut tx, "schema_version", "key store", MIGRATIONS)?;
    let check: Option<Vec<u8>> = tx
        .query_opt(
            "SELECT data FROM parsec_meta WHERE name = 'master_key_check'",
            &[],
        )
        .map_err(pg_error)?
        .and_then(|row| row.get(0));
    match check {
        Some(sealed) => {
            let opened = master.open(&check_id(), 0, &[], &sealed, Accept::Current);
            if !opened.is_ok_and(|p| p.as_slice() == CHECK_PLAINTEXT) {
                return Err(StoreError::Io(
                    "this node's master key is not the one the database's keys are sealed \
                     with: every node must use the same master key file"
                        .into(),
                ));
            }
        }
        None => {
            let sealed = master.seal(&check_id(), 0, &[], CHECK_PLAINTEXT)?;
            tx.execute(
                "INSERT INTO parsec_meta (name, data) VALUES ('master_key_check', $1)",
                &[&sealed],
            )
            .map_err(pg_error)?;
        }
    }
    tx.commit().map_err(pg_error)
}

/// Whether PostgreSQL's text can hold the identity: it cannot hold NUL, so no record named
/// with one exists (the service refuses such names at creation).
fn storable(id: &KeyId) -> bool {
    !id.app.contains('\0') && !id.name.contains('\0')
}

fn small(n: u8) -> i16 {
    i16::from(n)
}

fn byte(n: i16) -> Result<u8, StoreError> {
    u8::try_from(n).map_err(|_| StoreError::Corrupt)
}

impl KeyStore for PostgresStore {
    fn create_within(
        &self,
        id: &KeyId,
        record: &KeyRecord,
        quota: Quota,
    ) -> Result<(), StoreError> {
        if !storable(id) {
            return Err(StoreError::Database(
                "a name with a NUL character cannot be stored".into(),
            ));
        }
        // The attributes are bound to the material: a record whose usage or algorithms were
        // changed in the database does not open.
        let sealed = self
            .master
            .seal(id, record.provider, &record.attributes, &record.material)?;
        let id = id.clone();
        let provider = record.provider;
        let attributes = record.attributes.clone();
        self.call(false, move |conn, _| {
            let mut tx = conn.client.transaction().map_err(pg_error)?;
            // Creates that count the same keys take turns: the counts and the insert then see
            // and make one state. Every counted create locks its kind (there are few kinds, and
            // that covers a count of one application too); the lock is the transaction's.
            if quota.per_app.is_some() || quota.per_auth.is_some() {
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1, $2)",
                    &[&LOCK_SPACE, &i32::from(id.auth)],
                )
                .map_err(pg_error)?;
            }
            for (limit, who) in quota.limits() {
                let held: i64 = match who {
                    QuotaScope::Application => tx.query_one(
                        "SELECT count(*) FROM parsec_keys WHERE auth = $1 AND app = $2",
                        &[&small(id.auth), &id.app],
                    ),
                    QuotaScope::AuthKind => tx.query_one(
                        "SELECT count(*) FROM parsec_keys WHERE auth = $1",
                        &[&small(id.auth)],
                    ),
                }
                .map_err(pg_error)?
                .get(0);
                if u64::try_from(held).unwrap_or(0) >= limit {
                    return Err(StoreError::QuotaExceeded { who, limit });
                }
            }
            let inserted = tx
                .execute(
                    &conn.insert,
                    &[
                        &small(id.auth),
                        &id.app,
                        &id.name,
                        &small(provider),
                        &attributes,
                        &sealed,
                    ],
                )
                .map_err(pg_error)?;
            if inserted != 1 {
                return Err(StoreError::AlreadyExists);
            }
            commit(tx)
        })
    }

    fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        Ok(self.get_versioned(id)?.map(|(record, _)| record))
    }

    fn get_versioned(&self, id: &KeyId) -> Result<Option<(KeyRecord, u64)>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        let key = id.clone();
        let row = self.call(true, move |conn, _| {
            let Some(r) = conn
                .client
                .query_opt(&conn.get, &[&small(key.auth), &key.app, &key.name])
                .map_err(pg_error)?
            else {
                return Ok(None);
            };
            let serial: i64 = r.get(3);
            Ok(Some((
                byte(r.get(0))?,
                r.get::<_, Vec<u8>>(1),
                r.get::<_, Vec<u8>>(2),
                serial as u64,
            )))
        })?;
        let Some((provider, attributes, sealed, version)) = row else {
            return Ok(None);
        };
        let material = self
            .master
            .open(id, provider, &attributes, &sealed, Accept::Current)?;
        let record = KeyRecord {
            provider,
            attributes,
            material,
        };
        Ok(Some((record, version)))
    }

    fn shared(&self) -> bool {
        true
    }

    fn version(&self, id: &KeyId) -> Result<Option<u64>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        let key = id.clone();
        self.call(true, move |conn, _| {
            Ok(conn
                .client
                .query_opt(&conn.version, &[&small(key.auth), &key.app, &key.name])
                .map_err(pg_error)?
                .map(|r| r.get::<_, i64>(0) as u64))
        })
    }

    fn delete(&self, id: &KeyId) -> Result<bool, StoreError> {
        if !storable(id) {
            return Ok(false);
        }
        let id = id.clone();
        self.call(false, move |conn, _| {
            let n = conn
                .client
                .execute(&conn.delete, &[&small(id.auth), &id.app, &id.name])
                .map_err(pg_error)?;
            Ok(n == 1)
        })
    }

    fn list(&self, auth: u8, app: &str) -> Result<Vec<Listed>, StoreError> {
        if app.contains('\0') {
            return Ok(Vec::new());
        }
        let app = app.to_string();
        self.call(true, move |conn, _| {
            conn.client
                .query(&conn.list, &[&small(auth), &app])
                .map_err(pg_error)?
                .iter()
                .map(|r| {
                    Ok(Listed {
                        name: r.get(0),
                        provider: byte(r.get(1))?,
                        attributes: r.get(2),
                    })
                })
                .collect()
        })
    }

    fn list_clients(&self, auth: u8) -> Result<Vec<String>, StoreError> {
        self.call(true, move |conn, _| {
            Ok(conn
                .client
                .query(&conn.clients, &[&small(auth)])
                .map_err(pg_error)?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn delete_client(&self, auth: u8, app: &str) -> Result<usize, StoreError> {
        if app.contains('\0') {
            return Ok(0);
        }
        let app = app.to_string();
        self.call(false, move |conn, _| {
            let n = conn
                .client
                .execute(&conn.delete_client, &[&small(auth), &app])
                .map_err(pg_error)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn probe(&self, sample: usize) -> Result<Probe, StoreError> {
        let limit = i64::try_from(sample).unwrap_or(i64::MAX);
        let opened = self.call(true, move |conn, master| open_each(conn, master, limit))?;
        Ok(Probe {
            sampled: opened.len(),
            opened: opened.iter().filter(|ok| **ok).count(),
        })
    }

    fn check_integrity(&self) -> Result<usize, StoreError> {
        let opened = self.call(true, move |conn, master| open_each(conn, master, i64::MAX))?;
        if opened.iter().all(|ok| *ok) {
            Ok(opened.len())
        } else {
            Err(StoreError::Corrupt)
        }
    }
}

/// Tries to unseal up to `limit` records: whether each opened.
fn open_each(conn: &mut Conn, master: &MasterKey, limit: i64) -> Result<Vec<bool>, StoreError> {
    let rows = conn
        .client
        .query(
            "SELECT auth, app, name, provider, material, attributes FROM parsec_keys LIMIT $1",
            &[&limit],
        )
        .map_err(pg_error)?;
    rows.iter()
        .map(|r| {
            let id = KeyId {
                auth: byte(r.get(0))?,
                app: r.get(1),
                name: r.get(2),
            };
            let sealed: Vec<u8> = r.get(4);
            let attributes: Vec<u8> = r.get(5);
            Ok(master
                .open(&id, byte(r.get(3))?, &attributes, &sealed, Accept::Current)
                .is_ok())
        })
        .collect()
}
