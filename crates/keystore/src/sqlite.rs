//! The embedded store: one SQLite file (WAL, schema versioned, mode 0600).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

/// A database error as the store reports it: a full disk apart, as the database's message, so
/// that no database type reaches the [`KeyStore`] trait.
pub(crate) fn db_error(e: rusqlite::Error) -> StoreError {
    if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        StoreError::Full
    } else {
        StoreError::Database(e.to_string())
    }
}
use zeroize::Zeroizing;

use crate::sealing::Accept;
use crate::{KeyId, KeyRecord, KeyStore, Listed, MasterKey, Probe, Quota, QuotaScope, StoreError};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS parsec_meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parsec_keys (
    auth       INTEGER NOT NULL,
    app        TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    provider   INTEGER NOT NULL,
    attributes BLOB    NOT NULL,
    material   BLOB    NOT NULL,
    PRIMARY KEY (auth, app, name)
) WITHOUT ROWID;
";

/// A key store in one SQLite database file.
pub struct SqliteStore {
    db: Mutex<Connection>,
    master: MasterKey,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `path`, sealing material with `master`.
    pub fn open(path: &Path, master: MasterKey) -> Result<SqliteStore, StoreError> {
        // Created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the
        // database file's mode.
        crate::files::create_private_file(path)?;
        let conn = Connection::open(path).map_err(db_error)?;
        SqliteStore::with_connection(conn, master)
    }

    /// How many key records the database at `path` holds, without a master key and without
    /// changing anything (0 when there is no file or no table yet). Used before a master key
    /// is created: a store that holds records must never get a new one.
    pub fn count_records(path: &Path) -> Result<u64, StoreError> {
        if !path.exists() {
            return Ok(0);
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(db_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        let has_table: bool = conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'parsec_keys'",
            [],
            |r| r.get(0),
        ).map_err(db_error)?;
        if !has_table {
            return Ok(0);
        }
        let n: i64 = conn
            .query_row("SELECT count(*) FROM parsec_keys", [], |r| r.get(0))
            .map_err(db_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// A store in memory (tests).
    pub fn in_memory(master: MasterKey) -> Result<SqliteStore, StoreError> {
        SqliteStore::with_connection(Connection::open_in_memory().map_err(db_error)?, master)
    }

    fn with_connection(conn: Connection, master: MasterKey) -> Result<SqliteStore, StoreError> {
        // WAL: readers do not block the writer; FULL: a create acknowledged to a client survives
        // a crash of the process and of the machine.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_error)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db_error)?;
        conn.execute_batch(SCHEMA).map_err(db_error)?;
        let version: Option<i64> = conn
            .query_row(
                "SELECT value FROM parsec_meta WHERE name = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_error)?;
        match version {
            None => {
                conn.execute(
                    "INSERT INTO parsec_meta (name, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION],
                ).map_err(db_error)?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(StoreError::Io(format!(
                    "the key store has schema version {other}; this service reads version {SCHEMA_VERSION}"
                )))
            }
        }
        Ok(SqliteStore {
            db: Mutex::new(conn),
            master,
        })
    }

    /// Tries to unseal up to `limit` records (-1: all), telling `each` whether each opened;
    /// returns how many were read.
    fn open_each(
        &self,
        db: &Connection,
        limit: i64,
        mut each: impl FnMut(bool) -> Result<(), StoreError>,
    ) -> Result<usize, StoreError> {
        let mut stmt = db
            .prepare(
                "SELECT auth, app, name, provider, material, attributes FROM parsec_keys LIMIT ?1",
            )
            .map_err(db_error)?;
        let mut rows = stmt.query([limit]).map_err(db_error)?;
        let mut count = 0;
        while let Some(row) = rows.next().map_err(db_error)? {
            let id = KeyId {
                auth: row.get(0).map_err(db_error)?,
                app: row.get(1).map_err(db_error)?,
                name: row.get(2).map_err(db_error)?,
            };
            let sealed: Vec<u8> = row.get(4).map_err(db_error)?;
            let attributes: Vec<u8> = row.get(5).map_err(db_error)?;
            let opened: Result<Zeroizing<Vec<u8>>, _> = self.master.open(
                &id,
                row.get(3).map_err(db_error)?,
                &attributes,
                &sealed,
                Accept::Legacy,
            );
            each(opened.is_ok())?;
            count += 1;
        }
        Ok(count)
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-done write: SQLite rolls back.
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl KeyStore for SqliteStore {
    fn create_within(
        &self,
        id: &KeyId,
        record: &KeyRecord,
        quota: Quota,
    ) -> Result<(), StoreError> {
        let sealed = self
            .master
            .seal(id, record.provider, &record.attributes, &record.material)?;
        let mut db = self.db();
        // IMMEDIATE: the counts and the insert see and make one state, whatever other
        // connections to the file do meanwhile.
        let tx = db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db_error)?;
        for (limit, who) in quota.limits() {
            let held: i64 = match who {
                QuotaScope::Application => tx
                    .query_row(
                        "SELECT count(*) FROM parsec_keys WHERE auth = ?1 AND app = ?2",
                        params![id.auth, id.app],
                        |r| r.get(0),
                    )
                    .map_err(db_error)?,
                QuotaScope::AuthKind => tx
                    .query_row(
                        "SELECT count(*) FROM parsec_keys WHERE auth = ?1",
                        params![id.auth],
                        |r| r.get(0),
                    )
                    .map_err(db_error)?,
            };
            if u64::try_from(held).unwrap_or(0) >= limit {
                return Err(StoreError::QuotaExceeded { who, limit });
            }
        }
        let inserted = tx
            .execute(
                "INSERT INTO parsec_keys (auth, app, name, provider, attributes, material)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                params![
                    id.auth,
                    id.app,
                    id.name,
                    record.provider,
                    record.attributes,
                    sealed
                ],
            )
            .map_err(db_error)?;
        if inserted != 1 {
            return Err(StoreError::AlreadyExists);
        }
        tx.commit().map_err(db_error)?;
        Ok(())
    }

    fn get(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let row: Option<(u8, Vec<u8>, Vec<u8>)> = self
            .db()
            .query_row(
                "SELECT provider, attributes, material FROM parsec_keys
                 WHERE auth = ?1 AND app = ?2 AND name = ?3",
                params![id.auth, id.app, id.name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db_error)?;
        let Some((provider, attributes, sealed)) = row else {
            return Ok(None);
        };
        let material = self
            .master
            .open(id, provider, &attributes, &sealed, Accept::Legacy)?;
        Ok(Some(KeyRecord {
            provider,
            attributes,
            material,
        }))
    }

    fn delete(&self, id: &KeyId) -> Result<bool, StoreError> {
        let n = self
            .db()
            .execute(
                "DELETE FROM parsec_keys WHERE auth = ?1 AND app = ?2 AND name = ?3",
                params![id.auth, id.app, id.name],
            )
            .map_err(db_error)?;
        Ok(n == 1)
    }

    fn list(&self, auth: u8, app: &str) -> Result<Vec<Listed>, StoreError> {
        let db = self.db();
        let mut stmt = db
            .prepare_cached(
                "SELECT name, provider, attributes FROM parsec_keys
             WHERE auth = ?1 AND app = ?2 ORDER BY name",
            )
            .map_err(db_error)?;
        let rows = stmt
            .query_map(params![auth, app], |r| {
                Ok(Listed {
                    name: r.get(0)?,
                    provider: r.get(1)?,
                    attributes: r.get(2)?,
                })
            })
            .map_err(db_error)?;
        rows.collect::<Result<_, _>>().map_err(db_error)
    }

    fn list_clients(&self, auth: u8) -> Result<Vec<String>, StoreError> {
        let db = self.db();
        let mut stmt = db
            .prepare_cached("SELECT DISTINCT app FROM parsec_keys WHERE auth = ?1 ORDER BY app")
            .map_err(db_error)?;
        let rows = stmt.query_map([auth], |r| r.get(0)).map_err(db_error)?;
        rows.collect::<Result<_, _>>().map_err(db_error)
    }

    fn delete_client(&self, auth: u8, app: &str) -> Result<usize, StoreError> {
        self.db()
            .execute(
                "DELETE FROM parsec_keys WHERE auth = ?1 AND app = ?2",
                params![auth, app],
            )
            .map_err(db_error)
    }

    fn probe(&self, sample: usize) -> Result<Probe, StoreError> {
        let mut probe = Probe::default();
        let limit = i64::try_from(sample).unwrap_or(i64::MAX);
        self.open_each(&self.db(), limit, |opened| {
            probe.sampled += 1;
            probe.opened += usize::from(opened);
            Ok(())
        })?;
        Ok(probe)
    }

    fn check_integrity(&self) -> Result<usize, StoreError> {
        let db = self.db();
        let verdict: String = db
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(db_error)?;
        if verdict != "ok" {
            return Err(StoreError::Io(format!(
                "database integrity check: {verdict}"
            )));
        }
        self.open_each(&db, -1, |opened| {
            if opened {
                Ok(())
            } else {
                Err(StoreError::Corrupt)
            }
        })
    }
}

#[cfg(test)]
mod tests;
