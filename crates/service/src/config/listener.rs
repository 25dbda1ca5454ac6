//! `[listener]`: the Unix socket, its request timeout and the connection limits.

use std::path::PathBuf;
use std::time::Duration;

use super::reader::Section;
use super::{unknown_key_warning, usize_of, ConfigError};

/// Upstream's socket path, used when a config file names none.
pub const UPSTREAM_SOCKET_PATH: &str = "/run/parsec/parsec.sock";
/// Listener timeout when a config names none (upstream requires the key).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Connections served at once; more clients wait in the listen backlog.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// Connections one peer UID may hold when the config names no number: a quarter of all, so
/// that one UID leaves three quarters of the pool to the others.
pub fn default_per_uid(max_connections: usize) -> usize {
    (max_connections / 4).max(1)
}

/// `[listener]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ListenerConfig {
    pub socket_path: PathBuf,
    /// Read and write timeout of each request.
    pub timeout: Duration,
    /// Connections served at once (our key; upstream bounds this with its thread pool).
    pub max_connections: usize,
    /// Connections one peer UID may hold at once (our key; default a quarter of
    /// `max_connections`).
    pub max_connections_per_uid: usize,
}

impl ListenerConfig {
    pub(super) fn read(
        mut s: Section<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Self, ConfigError> {
        match s.string("listener_type")? {
            None | Some("DomainSocket") => {}
            Some(other) => {
                return Err(s.error(
                    "listener_type",
                    format!("`{other}` is not supported; the only listener is \"DomainSocket\""),
                ))
            }
        }
        let timeout = s
            .integer("timeout", 1, 24 * 3600 * 1000)?
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        let socket_path = s
            .path_value("socket_path")?
            .unwrap_or_else(|| PathBuf::from(UPSTREAM_SOCKET_PATH));
        let max_connections = s
            .integer("max_connections", 1, 65536)?
            .map_or(DEFAULT_MAX_CONNECTIONS, usize_of);
        let max_connections_per_uid = s
            .integer("max_connections_per_uid", 1, 65536)?
            .map_or(default_per_uid(max_connections), usize_of)
            .min(max_connections);
        warnings.extend(s.unread().iter().map(|k| unknown_key_warning(k)));
        Ok(ListenerConfig {
            socket_path,
            timeout,
            max_connections,
            max_connections_per_uid,
        })
    }
}
