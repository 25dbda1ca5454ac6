//! `[parsec1]`: the Parsec.1 HTTP front (spec parsec1.md §5). Absent from upstream files, so an
//! upstream `config.toml` never opens a TCP port; the embedded configuration enables it on
//! loopback.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::key_manager::{DatabaseUrl, DEFAULT_PG_CONNECTIONS};
use super::reader::Section;
use super::{unknown_key_warning, usize_of, ConfigError};

/// How many bits easier the proof of work of test-mode sessions is by default.
pub const TEST_POW_EASIER: u32 = 4;

/// Port of the embedded configuration's Parsec.1 endpoint.
pub const DEFAULT_PORT: u16 = 8373;

/// `session_store`: where the Parsec.1 state is kept.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionStoreConfig {
    /// An SQLite file of sessions (`:memory:`: in memory, lost on restart); TSKs, pending
    /// registrations and replay sets stay in this process.
    File(PathBuf),
    /// A PostgreSQL database (`postgres://` URL) holding all of the state, shared by the
    /// nodes that name it; TSKs are sealed under the key store's master key.
    Postgres {
        url: DatabaseUrl,
        /// `session_store_password_file`: the password, when the URL has none.
        password_file: Option<PathBuf>,
        /// `session_store_connections`: connections kept open.
        connections: usize,
    },
}

/// The validated `[parsec1]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsec1Config {
    /// Address and port to listen on (port 0: any free port, printed at start-up).
    pub listen: SocketAddr,
    /// HTTPS beside it: `tls_listen`, `tls_certificate`, `tls_private_key`.
    pub tls: Option<TlsConfig>,
    /// The URL path of the endpoint.
    pub path: String,
    /// Bits of a newly generated service key (kept in the key store once made).
    pub service_key_bits: usize,
    /// Zero bits of the proof of work asked at registration; for test-mode sessions.
    pub pow_difficulty: u32,
    pub test_pow_difficulty: u32,
    /// Seconds a TSK lives; for test-mode sessions.
    pub tsk_lifetime: u64,
    pub test_tsk_lifetime: u64,
    /// Seconds a session lives after registration.
    pub session_lifetime: u64,
    /// Where sessions are kept. `None`: a file beside the key store.
    pub session_store: Option<SessionStoreConfig>,
    pub max_message_size: usize,
    pub max_sessions_per_key: usize,
    /// HTTP connections served at once (more wait in the backlog), and seconds a connection
    /// may move no byte before it is closed.
    pub max_connections: usize,
    pub idle_timeout: u64,
    /// Connections one client address (an IPv6 /64) may hold at once; further ones are closed.
    pub max_connections_per_address: usize,
    /// Seconds a request's header may take from its first byte, and the whole request.
    pub header_timeout: u64,
    pub request_timeout: u64,
    /// Seconds requests in flight are given to finish on SIGTERM before their connections are
    /// closed.
    pub shutdown_timeout: u64,
    /// `requestSCK` calls waiting for their `registerSCK`, from one client address.
    pub max_pending_per_address: usize,
    /// Live sessions in all, and sessions one client address may register an hour.
    pub max_sessions: usize,
    pub registrations_per_address_per_hour: u32,
    /// Keys one remote application (one session key) may hold, and all of them together.
    pub max_keys_per_session_key: u64,
    pub max_remote_keys: u64,
    /// Guest requests per second per peer address (0: no limit), and the burst allowed.
    pub guest_requests_per_second: u32,
    pub guest_burst: u32,
    /// Origins allowed by CORS: `"*"` any, `"loopback"` pages served from this machine,
    /// anything else that exact origin.
    pub allowed_origins: Vec<String>,
    pub service_name: String,
    /// A sealed service contract file served by `getServiceContract` (Parsec 1.2).
    pub service_contract: Option<PathBuf>,
    /// The provider that serves remote PSA operations; `None`: the first crypto provider.
    pub provider: Option<u8>,
}

/// The HTTPS endpoint of the front: where it listens, and the PEM files of its certificate
/// chain (the server's certificate first) and private key, read again on SIGHUP.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    pub listen: SocketAddr,
    pub certificate: PathBuf,
    pub private_key: PathBuf,
}

impl Parsec1Config {
    /// The values used where the section leaves a key out.
    pub fn defaults() -> Parsec1Config {
        Parsec1Config {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            tls: None,
            path: "/api/p1".into(),
            service_key_bits: 4096,
            pow_difficulty: 16,
            test_pow_difficulty: 16 - TEST_POW_EASIER,
            tsk_lifetime: 3600,
            test_tsk_lifetime: 300,
            session_lifetime: 30 * 24 * 3600,
            session_store: None,
            max_message_size: 64 * 1024,
            max_sessions_per_key: 16,
            max_connections: 1024,
            idle_timeout: 30,
            max_connections_per_address: 64,
            header_timeout: 10,
            request_timeout: 30,
            shutdown_timeout: 10,
            max_pending_per_address: 16,
            max_sessions: 100_000,
            registrations_per_address_per_hour: 60,
            max_keys_per_session_key: 1_000,
            max_remote_keys: 100_000,
            guest_requests_per_second: 20,
            guest_burst: 40,
            allowed_origins: vec!["loopback".into()],
            service_name: "parsec-rs".into(),
            service_contract: None,
            provider: None,
        }
    }

    /// Reads the section; `Ok(None)` when it says `enabled = false`.
    pub(crate) fn read(
        mut s: Section<'_>,
        warnings: &mut Vec<String>,
    ) -> Result<Option<Parsec1Config>, ConfigError> {
        let d = Parsec1Config::defaults();
        let enabled = s.bool("enabled")?.unwrap_or(true);
        let listen = match s.string("listen")? {
            None => d.listen,
            Some(text) => text.parse().map_err(|_| {
                s.error(
                    "listen",
                    format!("`{text}` is not an address:port such as \"127.0.0.1:8373\""),
                )
            })?,
        };
        let tls_listen = match s.string("tls_listen")? {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| {
                s.error(
                    "tls_listen",
                    format!("`{text}` is not an address:port such as \"0.0.0.0:8443\""),
                )
            })?),
        };
        let tls = match (
            tls_listen,
            s.path_value("tls_certificate")?,
            s.path_value("tls_private_key")?,
        ) {
            (None, None, None) => None,
            (Some(listen), Some(certificate), Some(private_key)) => Some(TlsConfig {
                listen,
                certificate,
                private_key,
            }),
            (listen, certificate, _) => {
                let missing = if listen.is_none() {
                    "tls_listen"
                } else if certificate.is_none() {
                    "tls_certificate"
                } else {
                    "tls_private_key"
                };
                return Err(s.error(
                    missing,
                    "HTTPS needs all three of tls_listen, tls_certificate and tls_private_key",
                ));
            }
        };
        if tls
            .as_ref()
            .is_some_and(|t| t.listen == listen && listen.port() != 0)
        {
            return Err(s.error(
                "tls_listen",
                "HTTPS needs an address:port of its own, not that of `listen`",
            ));
        }
        let path = match s.string("path")? {
            None => d.path,
            Some(p) if p.starts_with('/') && !p.contains(['?', '#', ' ']) => p.to_string(),
            Some(p) => {
                return Err(s.error("path", format!("`{p}` is not a URL path (\"/api/p1\")")))
            }
        };
        let service_key_bits = match s.integer("service_key_bits", 0, u64::MAX)? {
            None => d.service_key_bits,
            Some(b @ (2048 | 4096 | 8192)) => usize_of(b),
            Some(b) => {
                return Err(s.error(
                    "service_key_bits",
                    format!("{b}: Parsec.1 key addresses exist for 2048, 4096 and 8192 bits only"),
                ))
            }
        };
        let difficulty = |s: &mut Section<'_>, key, default| -> Result<u32, ConfigError> {
            Ok(s.integer(key, 0, 28)?.map_or(default, |v| v as u32))
        };
        let pow_difficulty = difficulty(&mut s, "pow_difficulty", d.pow_difficulty)?;
        let test_pow_difficulty = difficulty(
            &mut s,
            "test_pow_difficulty",
            pow_difficulty.saturating_sub(TEST_POW_EASIER),
        )?;
        let seconds = |s: &mut Section<'_>, key, default| -> Result<u64, ConfigError> {
            Ok(s.integer(key, 1, 10 * 365 * 24 * 3600)?.unwrap_or(default))
        };
        let tsk_lifetime = seconds(&mut s, "tsk_lifetime", d.tsk_lifetime)?;
        let test_tsk_lifetime = seconds(&mut s, "test_tsk_lifetime", d.test_tsk_lifetime)?;
        let session_lifetime = seconds(&mut s, "session_lifetime", d.session_lifetime)?;
        let session_store = match s.path_value("session_store")? {
            Some(p)
                if p.to_str().is_some_and(|t| {
                    t.starts_with("postgres://") || t.starts_with("postgresql://")
                }) =>
            {
                Some(SessionStoreConfig::Postgres {
                    url: DatabaseUrl(p.to_str().unwrap_or_default().trim().to_string()),
                    password_file: s.path_value("session_store_password_file")?,
                    connections: s
                        .integer("session_store_connections", 1, 64)?
                        .map_or(DEFAULT_PG_CONNECTIONS, usize_of),
                })
            }
            file => {
                for key in ["session_store_password_file", "session_store_connections"] {
                    if s.ignore(key) {
                        return Err(s.error(
                            key,
                            "is read only when session_store is a postgres:// URL".to_string(),
                        ));
                    }
                }
                file.map(SessionStoreConfig::File)
            }
        };
        let config = Parsec1Config {
            listen,
            tls,
            path,
            service_key_bits,
            pow_difficulty,
            test_pow_difficulty,
            tsk_lifetime,
            test_tsk_lifetime,
            session_lifetime,
            session_store,
            // unicrypto cannot decode BOSS beyond about 128 KiB (spec §3.10): stay below.
            max_message_size: s
                .integer("max_message_size", 1024, 96 * 1024)?
                .map_or(d.max_message_size, usize_of),
            max_sessions_per_key: s
                .integer("max_sessions_per_key", 1, 1 << 20)?
                .map_or(d.max_sessions_per_key, usize_of),
            max_connections: s
                .integer("max_connections", 1, 65536)?
                .map_or(d.max_connections, usize_of),
            idle_timeout: s
                .integer("idle_timeout", 1, 3600)?
                .unwrap_or(d.idle_timeout),
            max_connections_per_address: s
                .integer("max_connections_per_address", 1, 65536)?
                .map_or(d.max_connections_per_address, usize_of),
            header_timeout: s
                .integer("header_timeout", 1, 3600)?
                .unwrap_or(d.header_timeout),
            request_timeout: s
                .integer("request_timeout", 1, 3600)?
                .unwrap_or(d.request_timeout),
            shutdown_timeout: s
                .integer("shutdown_timeout", 0, 3600)?
                .unwrap_or(d.shutdown_timeout),
            max_pending_per_address: s
                .integer("max_pending_per_address", 1, 1 << 20)?
                .map_or(d.max_pending_per_address, usize_of),
            max_sessions: s
                .integer("max_sessions", 1, 1 << 32)?
                .map_or(d.max_sessions, usize_of),
            registrations_per_address_per_hour: s
                .integer("registrations_per_address_per_hour", 0, 1 << 20)?
                .map_or(d.registrations_per_address_per_hour, |v| v as u32),
            max_keys_per_session_key: s
                .integer("max_keys_per_session_key", 1, 1 << 32)?
                .unwrap_or(d.max_keys_per_session_key),
            max_remote_keys: s
                .integer("max_remote_keys", 1, 1 << 32)?
                .unwrap_or(d.max_remote_keys),
            guest_requests_per_second: s
                .integer("guest_requests_per_second", 0, 1 << 20)?
                .map_or(d.guest_requests_per_second, |v| v as u32),
            guest_burst: s
                .integer("guest_burst", 1, 1 << 20)?
                .map_or(d.guest_burst, |v| v as u32),
            allowed_origins: match s.value("allowed_origins") {
                None => d.allowed_origins,
                Some(toml::Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| s.error("allowed_origins", "expected an array of strings"))?,
                Some(_) => return Err(s.error("allowed_origins", "expected an array of strings")),
            },
            service_name: s
                .string("service_name")?
                .map_or(d.service_name, str::to_string),
            service_contract: s.path_value("service_contract")?,
            provider: s.integer("provider", 1, 255)?.map(|v| v as u8),
        };
        // Each listener holds a connection slot while it waits for the next client.
        if config.tls.is_some() && config.max_connections < 2 {
            return Err(s.error(
                "max_connections",
                "with HTTPS beside HTTP, at least 2 (each listener waits with one slot)",
            ));
        }
        warnings.extend(s.unread().iter().map(|k| unknown_key_warning(k)));
        Ok(enabled.then_some(config))
    }
}
