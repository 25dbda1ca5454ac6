//! The service configuration: an upstream `config.toml` read unchanged, validated once.
//!
//! Raw TOML goes through [`Section`] readers into [`Config`]; defaults live here and nowhere
//! else. A bad value is an error naming the key; a key that is unknown or misplaced is a warning
//! naming it (upstream ignores both silently).
//!
//! The sections' readers: `core` (`[core_settings]`), `listener` (`[listener]`),
//! `authenticator` (`[authenticator]`), `key_manager` (`[[key_manager]]`), `provider` and
//! `hardware` (`[[provider]]`), `parsec1` (`[parsec1]`).

mod authenticator;
mod core;
mod hardware;
mod key_manager;
mod listener;
mod parsec1;
mod provider;
mod reader;

pub use crate::auth::{AuthKind, AuthenticatorConfig};
use std::path::{Path, PathBuf};

pub use self::core::{CoreSettings, DEFAULT_MAX_KEYS_PER_APPLICATION};
use authenticator::read_authenticators;
pub use hardware::{Pin, Pkcs11Config, ProviderSettings, TpmConfig};
use key_manager::read_key_managers;
pub use key_manager::{DatabaseUrl, KeyManagerConfig, KeyManagerKind, UPSTREAM_SQLITE_PATH};
pub use listener::{
    default_per_uid, ListenerConfig, DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT, UPSTREAM_SOCKET_PATH,
};
pub use parsec1::{Parsec1Config, SessionStoreConfig, TlsConfig};
use provider::read_providers;
pub use provider::{ProviderConfig, ProviderType};
pub use reader::ConfigError;
use reader::Section;
use toml::Table;

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub core: CoreSettings,
    pub listener: ListenerConfig,
    /// Enabled authenticators, the preferred first.
    pub authenticators: Vec<AuthenticatorConfig>,
    pub key_managers: Vec<KeyManagerConfig>,
    /// Crypto providers in priority order.
    pub providers: Vec<ProviderConfig>,
    /// The Parsec.1 front, when enabled.
    pub parsec1: Option<Parsec1Config>,
}

/// Where the embedded configuration keeps its keys: `$XDG_DATA_HOME/parsec`, else
/// `~/.local/share/parsec`, else `./parsec-data`. Persistent, unlike the runtime directory.
fn data_dir() -> PathBuf {
    let non_empty = |v: &str| {
        std::env::var_os(v)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    };
    non_empty("XDG_DATA_HOME")
        .or_else(|| non_empty("HOME").map(|h| h.join(".local").join("share")))
        .map(|d| d.join("parsec"))
        .unwrap_or_else(|| PathBuf::from("parsec-data"))
}

/// A config and the warnings found while reading it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Where each known key belongs, to tell a misplaced key from an unknown one.
const KNOWN_KEYS: &[(&str, &[&str])] = &[
    (
        "[core_settings]",
        &[
            "allow_root",
            "thread_pool_size",
            "idle_listener_sleep_duration",
            "log_level",
            "log_timestamp",
            "body_len_limit",
            "log_error_details",
            "buffer_size_limit",
            "allow_deprecated",
            "max_keys_per_application",
        ],
    ),
    (
        "[listener]",
        &[
            "listener_type",
            "timeout",
            "socket_path",
            "max_connections",
            "max_connections_per_uid",
        ],
    ),
    ("[authenticator]", &["auth_type", "admins"]),
    ("[authenticator]", authenticator::TOKEN_KEYS),
    (
        "[[key_manager]]",
        &[
            "name",
            "manager_type",
            "store_path",
            "sqlite_db_path",
            "master_key_path",
        ],
    ),
    (
        "[[provider]]",
        &["name", "provider_type", "key_info_manager"],
    ),
];

fn unknown_key_warning(path: &str) -> String {
    let key = path.rsplit('.').next().unwrap_or(path);
    match KNOWN_KEYS.iter().find(|(_, keys)| keys.contains(&key)) {
        Some((section, _)) => {
            format!("config key `{path}` is misplaced and ignored: it belongs in {section}")
        }
        None => format!("config key `{path}` is unknown and ignored"),
    }
}

/// The environment variable that moves the embedded configuration's Parsec.1 endpoint
/// (`address:port`; port 0 takes any free port) off 127.0.0.1:8373.
pub const LISTEN_ENV: &str = "PARSEC1_LISTEN";

impl Config {
    /// The configuration used when no file is given: a socket in the user's runtime directory
    /// (or `./parsec-run` without one), peer-credential authentication. It is meant for a user
    /// trying the service on their own account, so it also starts as root (with a warning);
    /// a config file is needed to refuse that.
    pub fn embedded() -> Config {
        let dir = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|d| !d.is_empty())
            .map(|d| PathBuf::from(d).join("parsec"))
            .unwrap_or_else(|| PathBuf::from("parsec-run"));
        Config {
            core: CoreSettings {
                allow_root: true,
                ..CoreSettings::default()
            },
            listener: ListenerConfig {
                socket_path: dir.join("parsec.sock"),
                timeout: DEFAULT_TIMEOUT,
                max_connections: DEFAULT_MAX_CONNECTIONS,
                max_connections_per_uid: default_per_uid(DEFAULT_MAX_CONNECTIONS),
            },
            authenticators: vec![AuthenticatorConfig {
                kind: AuthKind::UnixPeerCredentials,
                admins: Vec::new(),
                tokens: None,
            }],
            key_managers: vec![KeyManagerConfig {
                name: "embedded".into(),
                kind: KeyManagerKind::Sqlite {
                    path: data_dir().join("keys.sqlite3"),
                },
                master_key_path: None,
            }],
            providers: vec![ProviderConfig {
                kind: ProviderType::Software,
                name: ProviderType::Software.default_name().into(),
                key_info_manager: Some("embedded".into()),
                settings: ProviderSettings::None,
            }],
            parsec1: Some(Parsec1Config {
                listen: std::env::var(LISTEN_ENV)
                    .ok()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(Parsec1Config::defaults().listen),
                ..Parsec1Config::defaults()
            }),
        }
    }

    /// The key manager whose store holds the providers' keys: the one they name, else the first
    /// configured, else upstream's default SQLite file. `None` without providers.
    pub fn store_manager(&self) -> Option<KeyManagerConfig> {
        self.providers.first()?;
        let named = self
            .providers
            .iter()
            .find_map(|p| p.key_info_manager.as_ref())
            .and_then(|name| self.key_managers.iter().find(|m| &m.name == name));
        Some(
            named
                .or(self.key_managers.first())
                .cloned()
                .unwrap_or(KeyManagerConfig {
                    name: "default".into(),
                    kind: KeyManagerKind::Sqlite {
                        path: PathBuf::from(UPSTREAM_SQLITE_PATH),
                    },
                    master_key_path: None,
                }),
        )
    }

    /// Reads and validates a config file.
    pub fn from_file(path: &Path) -> Result<Loaded, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            key: String::new(),
            reason: format!("cannot read {}: {e}", path.display()),
        })?;
        Config::parse(&text)
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Loaded, ConfigError> {
        let table: Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            key: String::new(),
            reason: format!("not valid TOML: {}", e.message()),
        })?;
        let mut warnings = Vec::new();
        let mut root = Section::new("", &table);

        let core = match root.table("core_settings")? {
            Some(t) => CoreSettings::read(Section::new("core_settings", t), &mut warnings)?,
            None => CoreSettings::default(),
        };
        let listener = match root.table("listener")? {
            Some(t) => ListenerConfig::read(Section::new("listener", t), &mut warnings)?,
            None => ListenerConfig {
                socket_path: PathBuf::from(UPSTREAM_SOCKET_PATH),
                timeout: DEFAULT_TIMEOUT,
                max_connections: DEFAULT_MAX_CONNECTIONS,
                max_connections_per_uid: default_per_uid(DEFAULT_MAX_CONNECTIONS),
            },
        };
        let authenticators = read_authenticators(&mut root, &mut warnings)?;
        let key_managers = read_key_managers(&mut root, &mut warnings)?;
        let providers = read_providers(&mut root, &key_managers, &mut warnings)?;
        let parsec1 = match root.table("parsec1")? {
            Some(t) => Parsec1Config::read(Section::new("parsec1", t), &mut warnings)?,
            None => None,
        };
        if parsec1.is_some() && providers.is_empty() {
            return Err(ConfigError {
                key: "parsec1".into(),
                reason: "Parsec.1 serves the providers' operations: configure a [[provider]]"
                    .into(),
            });
        }
        warnings.extend(root.unread().iter().map(|k| unknown_key_warning(k)));
        Ok(Loaded {
            config: Config {
                core,
                listener,
                authenticators,
                key_managers,
                providers,
                parsec1,
            },
            warnings,
        })
    }
}

fn usize_of(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests;
