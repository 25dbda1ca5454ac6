//! Reading upstream parsec-service's SQLite key info manager (`sqlite-key-info-manager.sqlite3`),
//! read-only, for `parsec migrate`: its `key_mapping` rows as stored. What the blobs mean
//! (bincode of upstream's key IDs and attributes) is the service's to decode.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// One row of upstream's `key_mapping` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamMapping {
    /// The wire auth type (1 Direct, 3 Unix peer credentials, 4 JWT-SVID); 255 for upstream's
    /// own internal keys.
    pub authenticator_id: i64,
    pub application_name: String,
    pub key_name: String,
    pub provider_uuid: String,
    pub provider_name: String,
    pub key_id: Vec<u8>,
    pub key_id_version: i64,
    pub key_attributes: Vec<u8>,
    pub key_attributes_version: i64,
}

/// Most rows read (a guard against a file that is not what it says).
pub const MAX_MAPPINGS: usize = 1_000_000;

fn open_read_only(path: &Path) -> Result<Connection, String> {
    // Read-only, and without creating the file when it is missing.
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())
}

/// Whether the file at `path` is upstream's key info manager database (it has `key_mapping`)
/// and not a store of ours (`parsec_keys`). A missing file is not.
pub fn is_upstream_kim(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let Ok(conn) = open_read_only(path) else {
        return false;
    };
    // Upstream, still running, may hold a lock for a moment.
    let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
    let has = |table: &str| {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .unwrap_or(false)
    };
    has("key_mapping") && !has("parsec_keys")
}

/// Every mapping of upstream's database at `path`, which is opened read-only and left as it
/// is. Refuses a file that is not one (no `key_mapping` table, or a schema version other than
/// upstream 1.x's).
pub fn read_upstream_mappings(path: &Path) -> Result<Vec<UpstreamMapping>, String> {
    if !path.is_file() {
        return Err("no such file".into());
    }
    let conn = open_read_only(path)?;
    let version: i64 = conn
        .query_row(
            "SELECT int_value FROM kim_metadata WHERE id = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| format!("not upstream's key info manager database: {e}"))?;
    if version != 1 {
        return Err(format!(
            "schema version {version}: only upstream's version 1 is known"
        ));
    }
    let mut statement = conn
        .prepare(
            "SELECT authenticator_id, application_name, key_name, provider_uuid, provider_name, \
             key_id, key_id_version, key_attributes, key_attributes_version FROM key_mapping \
             ORDER BY authenticator_id, application_name, key_name",
        )
        .map_err(|e| format!("not upstream's key info manager database: {e}"))?;
    let rows = statement
        .query_map([], |r| {
            Ok(UpstreamMapping {
                authenticator_id: r.get(0)?,
                application_name: r.get(1)?,
                key_name: r.get(2)?,
                provider_uuid: r.get(3)?,
                provider_name: r.get(4)?,
                key_id: r.get(5)?,
                key_id_version: r.get(6)?,
                key_attributes: r.get(7)?,
                key_attributes_version: r.get(8)?,
            })
        })
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for row in rows {
        if out.len() == MAX_MAPPINGS {
            return Err(format!("more than {MAX_MAPPINGS} mappings"));
        }
        out.push(row.map_err(|e| format!("a row does not read: {e}"))?);
    }
    Ok(out)
}
