//! Parsec.1 sessions in SQLite (the embedded default): one table, WAL, file mode 0600. The
//! store implements the Parsec.1 server's [`SessionStore`] (the protocol crate says what a
//! session store must do; the storage crate keeps them, as it keeps keys).
//!
//! Only what outlives a restart is stored: id, SCK (public), its address, test flag, times.
//! TSKs stay in the server's memory (see `parsec1::server::state`); for several nodes, the
//! PostgreSQL store keeps them too (`postgresql/parsec1.rs`).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use parsec1::server::sessions::Limits;
use parsec1::server::{Session, SessionStore, StoreError};
use parsec1::{KeyAddress, PublicKey};
use rusqlite::{params, Connection, OptionalExtension};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS parsec1_sessions (
    id         TEXT PRIMARY KEY,
    sck        BLOB    NOT NULL,
    address    BLOB    NOT NULL,
    test       INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parsec1_sessions_by_address ON parsec1_sessions (address, expires_at);
";

/// A session as a database row holds it: its key packed, its address's bytes, times in
/// seconds (checked: a row that does not decode is reported, never used).
pub(crate) fn stored_session(
    id: &str,
    sck: &[u8],
    address: &[u8],
    test: bool,
    created_at: i64,
    expires_at: i64,
) -> Result<Session, StoreError> {
    let corrupt = |what| StoreError::Backend(format!("session {id}: stored {what} is invalid"));
    Ok(Session {
        id: id.to_string(),
        key: PublicKey::unpack(sck).map_err(|_| corrupt("key"))?,
        address: KeyAddress::from_bytes(address).map_err(|_| corrupt("address"))?,
        test,
        created_at: u64::try_from(created_at).map_err(|_| corrupt("time"))?,
        expires_at: u64::try_from(expires_at).map_err(|_| corrupt("time"))?,
    })
}

/// Sessions in one SQLite database.
pub struct SqliteSessions {
    db: Mutex<Connection>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn secs(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

impl SqliteSessions {
    /// Opens (creating when missing) the database at `path`; `:memory:` keeps it in memory.
    pub fn open(path: &Path) -> Result<SqliteSessions, StoreError> {
        let conn = if path.as_os_str() == ":memory:" {
            Connection::open_in_memory().map_err(backend)?
        } else {
            // 0600 (directories 0700) before SQLite opens it; its -wal and -shm files take
            // the database file's mode.
            crate::files::create_private_file(path).map_err(backend)?;
            let conn = Connection::open(path).map_err(backend)?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(backend)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(backend)?;
            conn
        };
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        conn.execute_batch(SCHEMA).map_err(backend)?;
        Ok(SqliteSessions {
            db: Mutex::new(conn),
        })
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // Each change is one statement or one transaction: a panic cannot leave it half done.
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SessionStore for SqliteSessions {
    fn create(&self, session: &Session, limits: Limits, now: u64) -> Result<(), StoreError> {
        let mut db = self.db();
        let tx = db.transaction().map_err(backend)?;
        let live: i64 = tx
            .query_row(
                "SELECT count(*) FROM parsec1_sessions WHERE address = ?1 AND expires_at > ?2",
                params![session.address.as_bytes(), secs(now)],
                |row| row.get(0),
            )
            .map_err(backend)?;
        if usize::try_from(live).unwrap_or(usize::MAX) >= limits.per_key {
            return Err(StoreError::TooManySessions(limits.per_key));
        }
        // Expired sessions count until the minute's purge forgets them.
        let held: i64 = tx
            .query_row("SELECT count(*) FROM parsec1_sessions", [], |row| {
                row.get(0)
            })
            .map_err(backend)?;
        if usize::try_from(held).unwrap_or(usize::MAX) >= limits.total {
            return Err(StoreError::Full(limits.total));
        }
        tx.execute(
            "INSERT INTO parsec1_sessions (id, sck, address, test, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                session.id,
                session.key.pack(),
                session.address.as_bytes(),
                session.test,
                secs(session.created_at),
                secs(session.expires_at)
            ],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn get(&self, id: &str, now: u64) -> Result<Option<Session>, StoreError> {
        let row = self
            .db()
            .query_row(
                "SELECT sck, address, test, created_at, expires_at FROM parsec1_sessions
                 WHERE id = ?1 AND expires_at > ?2",
                params![id, secs(now)],
                |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, bool>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(backend)?;
        row.map(|(sck, address, test, created_at, expires_at)| {
            stored_session(id, &sck, &address, test, created_at, expires_at)
        })
        .transpose()
    }

    fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let n = self
            .db()
            .execute("DELETE FROM parsec1_sessions WHERE id = ?1", params![id])
            .map_err(backend)?;
        Ok(n > 0)
    }

    fn purge_expired(&self, now: u64) -> Result<usize, StoreError> {
        self.db()
            .execute(
                "DELETE FROM parsec1_sessions WHERE expires_at <= ?1",
                params![secs(now)],
            )
            .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, key: &parsec1::PrivateKey, expires_at: u64) -> Session {
        Session {
            id: id.into(),
            key: key.public_key().clone(),
            address: key.public_key().long_address().unwrap(),
            test: true,
            created_at: 10,
            expires_at,
        }
    }

    #[test]
    fn sessions_survive_reopening_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.sqlite3");
        let key = parsec1::PrivateKey::generate(2048).unwrap();
        {
            let store = SqliteSessions::open(&path).unwrap();
            let two = Limits {
                per_key: 2,
                total: 3,
            };
            store.create(&session("a", &key, 100), two, 50).unwrap();
            store.create(&session("b", &key, 200), two, 50).unwrap();
            let e = store.create(&session("c", &key, 200), two, 50).unwrap_err();
            assert!(matches!(e, StoreError::TooManySessions(2)));
            // Once "a" expired, the key may have another.
            store.create(&session("c", &key, 300), two, 100).unwrap();
            // Three held in all ("a" not purged yet): another key is refused too.
            let other = parsec1::PrivateKey::generate(2048).unwrap();
            let e = store
                .create(&session("d", &other, 300), two, 100)
                .unwrap_err();
            assert!(matches!(e, StoreError::Full(3)));
        }
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        let store = SqliteSessions::open(&path).unwrap();
        assert_eq!(store.get("b", 150).unwrap(), Some(session("b", &key, 200)));
        assert_eq!(store.get("a", 150).unwrap(), None, "expired");
        assert_eq!(store.get("zz", 0).unwrap(), None);
        assert_eq!(store.purge_expired(200).unwrap(), 2);
        assert!(store.delete("c").unwrap());
        assert!(!store.delete("c").unwrap());
    }
}
