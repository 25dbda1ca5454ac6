//! `[[key_manager]]`: where key records are stored (SQLite, on-disk, or a PostgreSQL database
//! shared by several nodes) and the master key file.

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
    Sqlite {
        path: PathBuf,
    },
    OnDisk {
        path: PathBuf,
    },
    /// A PostgreSQL database that several nodes may share (ours).
    Postgres {
        url: DatabaseUrl,
        /// A file holding the password, when the URL has none.
        password_file: Option<PathBuf>,
        /// Connections kept open, each on a thread of its own.
        connections: usize,
    },
}

/// A database URL, which may hold a password: shown without it.
#[derive(Clone, PartialEq)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // scheme://user:password@rest -> scheme://user:***@rest
        let url = &self.0;
        let shown = match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let userinfo = &url[scheme + 3..at];
                match userinfo.find(':') {
                    Some(colon) => format!(
                        "{}{}:***{}",
                        &url[..scheme + 3],
                        &userinfo[..colon],
                        &url[at..]
                    ),
                    None => url.clone(),
                }
            }
            _ => url.clone(),
        };
        // A `password=` parameter too, up to the next `&`.
        let mut redacted = String::with_capacity(shown.len());
        let mut rest = shown.as_str();
        while let Some(at) = rest.find("password=") {
            let value = at + "password=".len();
            redacted.push_str(&rest[..value]);
            redacted.push_str("***");
            rest = &rest[value..];
            rest = rest.find('&').map_or("", |amp| &rest[amp..]);
        }
        redacted.push_str(rest);
        write!(f, "{redacted:?}")
    }
}

/// Connections a PostgreSQL key manager keeps unless `connections` says otherwise.
pub const DEFAULT_PG_CONNECTIONS: usize = 8;

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
            "PostgreSQL" => {
                let url = s.required_string("url")?.trim().to_string();
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(s.error(
                        "url",
                        "a PostgreSQL key manager's url starts with postgres:// or postgresql://"
                            .to_string(),
                    ));
                }
                KeyManagerKind::Postgres {
                    url: DatabaseUrl(url),
                    password_file: s.path_value("password_file")?,
                    connections: s
                        .integer("connections", 1, 64)?
                        .map_or(DEFAULT_PG_CONNECTIONS, |n| usize::try_from(n).unwrap_or(64)),
                }
            }
            other => {
                return Err(s.error(
                    "manager_type",
                    format!("`{other}` is not one of \"SQLite\", \"OnDisk\", \"PostgreSQL\""),
                ))
            }
        };
        let master_key_path = s.path_value("master_key_path")?;
        if matches!(kind, KeyManagerKind::Postgres { .. }) && master_key_path.is_none() {
            return Err(s.error(
                "master_key_path",
                "a PostgreSQL key manager needs master_key_path: the master key file, the same \
                 on every node that shares the database"
                    .to_string(),
            ));
        }
        warnings.extend(s.unread().iter().map(|k| unknown_key_warning(k)));
        out.push(KeyManagerConfig {
            name,
            kind,
            master_key_path,
        });
    }
    Ok(out)
}
