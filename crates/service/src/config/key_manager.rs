//! `[[key_manager]]`: where key records are stored (SQLite or on-disk) and the master key file.

use std::path::PathBuf;

use super::reader::Section;
use super::{unknown_key_warning, ConfigError};

/// One `[[key_manager]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyManagerConfig {
    pub name: String,
    pub kind: KeyManagerKind,
    /// The file holding the key that seals key material at rest (our key; default: the
    /// database path with `.master-key` appended). Created, mode 0600, when missing.
    pub master_key_path: Option<PathBuf>,
}

/// Upstream's default SQLite key info manager path.
pub const UPSTREAM_SQLITE_PATH: &str =
    "/var/lib/parsec/kim-mappings/sqlite/sqlite-key-info-manager.sqlite3";

/// Key manager types and their store locations.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyManagerKind {
    Sqlite { path: PathBuf },
    OnDisk { path: PathBuf },
}

pub(super) fn read_key_managers(
    root: &mut Section<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<KeyManagerConfig>, ConfigError> {
    let mut out: Vec<KeyManagerConfig> = Vec::new();
    for (i, table) in root.tables("key_manager")?.into_iter().enumerate() {
        let mut s = Section::new(format!("key_manager[{i}]"), table);
        let name = s.required_string("name")?.to_string();
        if out.iter().any(|m| m.name == name) {
            return Err(s.error("name", format!("`{name}` names two key managers")));
        }
        let kind = match s.required_string("manager_type")? {
            "SQLite" => {
                if s.ignore("store_path") {
                    warnings.push(format!(
                        "config key `{}` is ignored: a SQLite key manager reads `sqlite_db_path`",
                        s.key_path("store_path")
                    ));
                }
                KeyManagerKind::Sqlite {
                    path: s.path_value("sqlite_db_path")?.unwrap_or_else(|| {
                        PathBuf::from(
                            "/var/lib/parsec/kim-mappings/sqlite/sqlite-key-info-manager.sqlite3",
                        )
                    }),
                }
            }
            "OnDisk" => {
                if s.ignore("sqlite_db_path") {
                    warnings.push(format!(
                        "config key `{}` is ignored: an OnDisk key manager reads `store_path`",
                        s.key_path("sqlite_db_path")
                    ));
                }
                KeyManagerKind::OnDisk {
                    path: s
                        .path_value("store_path")?
                        .unwrap_or_else(|| PathBuf::from("/var/lib/parsec/mappings")),
                }
            }
            other => {
                return Err(s.error(
                    "manager_type",
                    format!("`{other}` is not one of \"SQLite\", \"OnDisk\""),
                ))
            }
        };
        let master_key_path = s.path_value("master_key_path")?;
        warnings.extend(s.unread().iter().map(|k| unknown_key_warning(k)));
        out.push(KeyManagerConfig {
            name,
            kind,
            master_key_path,
        });
    }
    Ok(out)
}
