//! The service configuration: an upstream `config.toml` read unchanged, validated once.
//!
//! Raw TOML goes through [`Section`] readers into [`Config`]; defaults live here and nowhere
//! else. A bad value is an error naming the key; a key that is unknown or misplaced is a warning
//! naming it (upstream ignores both silently).

mod hardware;
mod parsec1;
mod reader;

pub use crate::auth::{AuthKind, AuthenticatorConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use hardware::{Pin, Pkcs11Config, ProviderSettings, TpmConfig};
pub use parsec1::{Parsec1Config, TlsConfig};
pub use reader::ConfigError;
use reader::Section;
use toml::Table;

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
const DEFAULT_LIMIT: usize = 1 << 20;
const MAX_LIMIT: u64 = 1 << 30;

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

/// Provider types of upstream config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderType {
    /// Upstream's `MbedCrypto`; ours is the software provider (`Software` selects it too).
    Software,
    Pkcs11,
    Tpm,
    TrustedService,
    CryptoAuthLib,
}

impl ProviderType {
    fn parse(name: &str) -> Option<ProviderType> {
        Some(match name {
            "MbedCrypto" | "Software" => ProviderType::Software,
            "Pkcs11" => ProviderType::Pkcs11,
            "Tpm" => ProviderType::Tpm,
            "TrustedService" => ProviderType::TrustedService,
            "CryptoAuthLib" => ProviderType::CryptoAuthLib,
            _ => return None,
        })
    }

    /// Upstream's default provider name.
    pub fn default_name(self) -> &'static str {
        match self {
            ProviderType::Software => "mbed-crypto-provider",
            ProviderType::Pkcs11 => "pkcs11-provider",
            ProviderType::Tpm => "tpm-provider",
            ProviderType::TrustedService => "trusted-service-provider",
            ProviderType::CryptoAuthLib => "cryptoauthlib-provider",
        }
    }

    /// The keys of this provider type besides the common ones.
    fn keys(self) -> &'static [&'static str] {
        match self {
            ProviderType::Software | ProviderType::TrustedService => &[],
            ProviderType::Pkcs11 => &[
                "library_path",
                "slot_number",
                "serial_number",
                "user_pin",
                "software_public_operations",
                "allow_export",
                "token_label",
            ],
            ProviderType::Tpm => &[
                "tcti",
                "owner_hierarchy_auth",
                "endorsement_hierarchy_auth",
                "skip_if_no_tpm",
            ],
            ProviderType::CryptoAuthLib => &[
                "device_type",
                "iface_type",
                "wake_delay",
                "rx_retries",
                "slave_address",
                "bus",
                "baud",
                "access_key_file_name",
            ],
        }
    }
}

/// One `[[provider]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub kind: ProviderType,
    pub name: String,
    pub key_info_manager: Option<String>,
    /// The provider's own keys.
    pub settings: ProviderSettings,
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
    (
        "[authenticator]",
        &["auth_type", "admins", "workload_endpoint"],
    ),
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

fn usize_of(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

impl CoreSettings {
    fn read(mut s: Section<'_>, warnings: &mut Vec<String>) -> Result<Self, ConfigError> {
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

impl ListenerConfig {
    fn read(mut s: Section<'_>, warnings: &mut Vec<String>) -> Result<Self, ConfigError> {
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

fn read_authenticators(
    root: &mut Section<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<AuthenticatorConfig>, ConfigError> {
    let tables = root.tables("authenticator")?;
    let single = tables.len() == 1;
    let mut out: Vec<AuthenticatorConfig> = Vec::new();
    for (i, table) in tables.into_iter().enumerate() {
        let path = if single {
            "authenticator".to_string()
        } else {
            format!("authenticator[{i}]")
        };
        let mut s = Section::new(path, table);
        let kind = match s.required_string("auth_type")? {
            "Direct" => AuthKind::Direct,
            "UnixPeerCredentials" => AuthKind::UnixPeerCredentials,
            "JwtSvid" => AuthKind::JwtSvid,
            other => {
                return Err(s.error(
                    "auth_type",
                    format!(
                        "`{other}` is not one of \"Direct\", \"UnixPeerCredentials\", \"JwtSvid\""
                    ),
                ))
            }
        };
        if kind == AuthKind::JwtSvid {
            return Err(s.error(
                "auth_type",
                "\"JwtSvid\" is not available in this version of the service",
            ));
        }
        if s.ignore("workload_endpoint") {
            warnings.push(format!(
                "config key `{}` is ignored: it is used only by the JwtSvid authenticator",
                s.key_path("workload_endpoint")
            ));
        }
        let admins = read_admins(&mut s, kind)?;
        if out.iter().any(|a| a.kind == kind) {
            return Err(s.error(
                "auth_type",
                format!("{} is configured twice", kind.config_name()),
            ));
        }
        warnings.extend(s.unread().iter().map(|k| unknown_key_warning(k)));
        out.push(AuthenticatorConfig { kind, admins });
    }
    if out.is_empty() {
        return Err(ConfigError {
            key: "authenticator".into(),
            reason: "is required: name at least one auth_type".into(),
        });
    }
    Ok(out)
}

fn read_admins(s: &mut Section<'_>, kind: AuthKind) -> Result<Vec<String>, ConfigError> {
    let Some(value) = s.value("admins") else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| s.error("admins", "expected an array of { name = \"...\" } tables"))?;
    let mut admins = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key = format!("admins[{i}]");
        let name = item
            .as_table()
            .and_then(|t| if t.len() == 1 { t.get("name") } else { None })
            .and_then(|n| n.as_str())
            .ok_or_else(|| s.error(&key, "expected a table { name = \"...\" }"))?;
        if name.is_empty() {
            return Err(s.error(&key, "the admin name must not be empty"));
        }
        if kind == AuthKind::UnixPeerCredentials && name.parse::<u32>().is_err() {
            return Err(s.error(
                &key,
                format!("`{name}` is not a UID: UnixPeerCredentials admins are decimal UIDs"),
            ));
        }
        admins.push(name.to_string());
    }
    Ok(admins)
}

fn read_key_managers(
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

fn read_providers(
    root: &mut Section<'_>,
    managers: &[KeyManagerConfig],
    warnings: &mut Vec<String>,
) -> Result<Vec<ProviderConfig>, ConfigError> {
    let mut out: Vec<ProviderConfig> = Vec::new();
    for (i, table) in root.tables("provider")?.into_iter().enumerate() {
        let mut s = Section::new(format!("provider[{i}]"), table);
        let type_name = s.required_string("provider_type")?;
        let kind = ProviderType::parse(type_name).ok_or_else(|| {
            s.error(
                "provider_type",
                format!("`{type_name}` is not one of \"MbedCrypto\" (or \"Software\"), \"Pkcs11\", \"Tpm\", \"TrustedService\", \"CryptoAuthLib\""),
            )
        })?;
        let name = s
            .string("name")?
            .map_or_else(|| kind.default_name().to_string(), str::to_string);
        if name.is_empty() {
            return Err(s.error("name", "must not be empty"));
        }
        if out.iter().any(|p| p.name == name) {
            return Err(s.error("name", format!("`{name}` names two providers")));
        }
        if out.iter().any(|p| p.kind == kind) {
            return Err(s.error(
                "provider_type",
                format!("`{type_name}` is configured twice"),
            ));
        }
        let key_info_manager = s.string("key_info_manager")?.map(str::to_string);
        if let Some(m) = &key_info_manager {
            if !managers.iter().any(|km| &km.name == m) {
                return Err(s.error(
                    "key_info_manager",
                    format!("no [[key_manager]] is named `{m}`"),
                ));
            }
            let other = out
                .iter()
                .find_map(|p| p.key_info_manager.as_ref().filter(|o| *o != m));
            if let Some(other) = other {
                return Err(s.error(
                    "key_info_manager",
                    format!(
                        "`{m}` differs from `{other}`: this service keeps all keys in one store, \
                         so every provider must name the same key manager"
                    ),
                ));
            }
        }
        let settings = match kind {
            ProviderType::Pkcs11 => ProviderSettings::Pkcs11(Pkcs11Config::read(&mut s)?),
            ProviderType::Tpm => ProviderSettings::Tpm(TpmConfig::read(&mut s)?),
            other => {
                // Upstream keys of providers this service does not have: known, unused.
                for key in other.keys() {
                    s.ignore(key);
                }
                ProviderSettings::None
            }
        };
        warnings.extend(s.unread().iter().map(|k| unknown_key_warning(k)));
        out.push(ProviderConfig {
            kind,
            name,
            key_info_manager,
            settings,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
