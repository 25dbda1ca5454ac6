//! `[core_settings]`: the service's general settings and their defaults.

use super::reader::Section;
use super::{unknown_key_warning, usize_of, ConfigError};

const DEFAULT_LIMIT: usize = 1 << 20;
const MAX_LIMIT: u64 = 1 << 30;

/// `[core_settings]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreSettings {
    pub allow_root: bool,
    /// Threads kept ready to serve socket connections; `None` means
    /// [`DEFAULT_FLOOR`](crate::front::unix::DEFAULT_FLOOR), or one per CPU if more.
    pub thread_pool_size: Option<usize>,
    pub log_level: Option<String>,
    pub log_timestamp: bool,
    pub log_error_details: bool,
    pub body_len_limit: usize,
    pub buffer_size_limit: usize,
    pub allow_deprecated: bool,
    /// Keys one local application may hold (our key).
    pub max_keys_per_application: u64,
}

/// Keys one application may hold when the config names no number.
pub const DEFAULT_MAX_KEYS_PER_APPLICATION: u64 = 10_000;

impl Default for CoreSettings {
    fn default() -> Self {
        CoreSettings {
            allow_root: false,
            thread_pool_size: None,
            log_level: None,
            log_timestamp: false,
            log_error_details: false,
            body_len_limit: DEFAULT_LIMIT,
            buffer_size_limit: DEFAULT_LIMIT,
            allow_deprecated: false,
            max_keys_per_application: DEFAULT_MAX_KEYS_PER_APPLICATION,
        }
    }
}

impl CoreSettings {
    pub(super) fn read(
        mut s: Section<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Self, ConfigError> {
        let d = CoreSettings::default();
        let log_level = match s.string("log_level")? {
            None => None,
            Some(l @ ("off" | "error" | "warn" | "info" | "debug" | "trace")) => {
                Some(l.to_string())
            }
            Some(other) => {
                return Err(s.error(
                    "log_level",
                    format!("`{other}` is not one of off, error, warn, info, debug, trace"),
                ))
            }
        };
        // Upstream's accept loop sleeps this long when idle; ours waits on the socket instead.
        s.integer("idle_listener_sleep_duration", 0, u64::MAX)?;
        let settings = CoreSettings {
            allow_root: s.bool("allow_root")?.unwrap_or(d.allow_root),
            thread_pool_size: s.integer("thread_pool_size", 1, 1024)?.map(usize_of),
            log_level,
            log_timestamp: s.bool("log_timestamp")?.unwrap_or(d.log_timestamp),
            log_error_details: s.bool("log_error_details")?.unwrap_or(d.log_error_details),
            body_len_limit: s
                .integer("body_len_limit", 1, MAX_LIMIT)?
                .map_or(d.body_len_limit, usize_of),
            buffer_size_limit: s
                .integer("buffer_size_limit", 1, MAX_LIMIT)?
                .map_or(d.buffer_size_limit, usize_of),
            allow_deprecated: s.bool("allow_deprecated")?.unwrap_or(d.allow_deprecated),
            max_keys_per_application: s
                .integer("max_keys_per_application", 1, 1 << 32)?
                .unwrap_or(d.max_keys_per_application),
        };
        warnings.extend(s.unread().iter().map(|k| unknown_key_warning(k)));
        Ok(settings)
    }
}
