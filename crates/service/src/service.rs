//! The embeddable service: what a configuration describes, opened but not bound.
//!
//! [`Service::open`] opens the key store, the providers and the Parsec.1 server; it binds no
//! socket and installs no signal handler, so several services can run in one process (tests, a
//! multi-node simulation). [`run`] serves already-bound listeners until a shutdown future
//! completes, as mini-redis's `server::run` does. The binary (`main.rs`) binds, handles
//! signals and talks to systemd.

use std::future::Future;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use parsec_keystore::KeyStore;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::Authenticators;
use crate::config::{Config, Parsec1Config};
use crate::dispatch::{Current, Dispatcher};
use crate::front::parsec1::tls::Certificates;
use crate::front::parsec1::Parsec1Server;
use crate::front::unix::{PoolSize, DEFAULT_FLOOR};
use crate::providers::Providers;

/// A service opened from its configuration.
pub struct Service {
    /// The configuration it was opened with: a reload reports what needs a restart against it.
    started: Config,
    store: Option<Arc<dyn KeyStore>>,
    current: Arc<Current>,
    parsec1: Option<Parsec1>,
}

/// The Parsec.1 side of a service, when `[parsec1]` is configured.
struct Parsec1 {
    server: Arc<Parsec1Server>,
    config: Parsec1Config,
    /// The HTTPS certificate and key, when `tls_listen` is set.
    certificates: Option<Certificates>,
}

/// The sockets a service serves, bound by the caller.
pub struct Listeners {
    /// The Unix socket of the wire protocol (blocking or not: the front sets it up).
    pub unix: UnixListener,
    /// Whether stopping shuts the socket, so that waiting clients are refused at once. Not for
    /// a socket systemd passed: systemd keeps it for the next start.
    pub shut_unix_on_stop: bool,
    /// Plain HTTP for Parsec.1: required when `[parsec1]` is configured.
    pub parsec1: Option<TcpListener>,
    /// HTTPS for Parsec.1: required when `[parsec1] tls_listen` is set.
    pub parsec1_tls: Option<TcpListener>,
}

/// What a bound service prints for its clients to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsec1Endpoints {
    pub service_key: String,
    /// The service contract's origin (base64), when one is served.
    pub service_contract: Option<String>,
}

impl Service {
    /// Opens the store and providers `config` names, and the Parsec.1 server with its sessions
    /// beside the key store.
    pub fn open(config: Config) -> anyhow::Result<Service> {
        let store = crate::store::open(&config)?;
        let key_db = crate::store::store_paths(&config).map(|(db, _)| db);
        let master_key = crate::store::master_key_path(&config);
        Service::build(config, store, key_db, master_key)
    }

    /// Like [`Service::open`], over a store the caller opened (in memory, in tests); the
    /// Parsec.1 sessions are then kept in memory unless `[parsec1] session_store` names a file.
    pub fn with_store(config: Config, store: Option<Arc<dyn KeyStore>>) -> anyhow::Result<Service> {
        Service::build(config, store, None, None)
    }

    fn build(
        config: Config,
        store: Option<Arc<dyn KeyStore>>,
        key_db: Option<PathBuf>,
        master_key: Option<PathBuf>,
    ) -> anyhow::Result<Service> {
        // Store calls may block (a disk, a lock): none runs on an async worker as it is.
        let store = store.map(|s| Arc::new(crate::store::OffRuntime(s)) as Arc<dyn KeyStore>);
        let current = Arc::new(Current::new(dispatcher(&config, store.clone(), None)?));
        let parsec1 = match (&config.parsec1, &store) {
            (Some(p1), Some(key_store)) => {
                let server = crate::front::parsec1::build(
                    p1,
                    key_store,
                    key_db,
                    master_key,
                    current.clone(),
                )?;
                let certificates = match &p1.tls {
                    Some(tls) => Some(Certificates::load(tls)?),
                    None => None,
                };
                Some(Parsec1 {
                    server: Arc::new(server),
                    config: p1.clone(),
                    certificates,
                })
            }
            (Some(_), None) => bail!("[parsec1] needs a key store for its service key"),
            (None, _) => None,
        };
        Ok(Service {
            started: config,
            store,
            current,
            parsec1,
        })
    }

    /// The configuration the service was opened with.
    pub fn config(&self) -> &Config {
        &self.started
    }

    /// Releases what the providers' devices hold for this process (objects loaded in a TPM),
    /// before it exits; later operations on them fail.
    pub fn close(&self) {
        self.current.get().providers().close();
    }

    /// The dispatcher in force: what the fronts hand requests to.
    pub fn dispatcher(&self) -> &Arc<Current> {
        &self.current
    }

    /// The Parsec.1 service key's address and contract, when `[parsec1]` is configured.
    pub fn parsec1_endpoints(&self) -> Option<Parsec1Endpoints> {
        let p1 = self.parsec1.as_ref()?;
        Some(Parsec1Endpoints {
            service_key: p1.server.service_address().to_string(),
            service_contract: p1
                .server
                .service_contract()
                .map(|c| parsec1::hash_id::to_base64(&c.origin)),
        })
    }

    /// Reads the HTTPS certificate and key again; on an error the pair served is kept.
    pub fn reload_tls(&self) {
        if let Some(certificates) = self.parsec1.as_ref().and_then(|p| p.certificates.as_ref()) {
            certificates.reload();
        }
    }

    /// Applies a new configuration: authenticators, software providers and limits are rebuilt
    /// (hardware providers keep their open devices), and the Parsec.1 service contract is read
    /// again. Changes that need a restart are logged. On an error the running configuration is
    /// kept whole.
    pub fn reload(&self, config: &Config) -> anyhow::Result<()> {
        let started = &self.started;
        if config.listener != started.listener {
            tracing::warn!("[listener] changes take effect only after a restart");
        }
        if config.core.thread_pool_size != started.core.thread_pool_size {
            tracing::warn!("a thread_pool_size change takes effect only after a restart");
        }
        if config.core.max_keys_per_application != started.core.max_keys_per_application {
            tracing::warn!("a max_keys_per_application change takes effect only after a restart");
        }
        // The service contract is read again on every reload; other [parsec1] keys need a
        // restart.
        let without_contract = |c: &Config| {
            c.parsec1.clone().map(|mut p| {
                p.service_contract = None;
                p
            })
        };
        if without_contract(config) != without_contract(started) {
            tracing::warn!("[parsec1] changes take effect only after a restart");
        }
        if let (Some(p1), Some(new)) = (&self.parsec1, &config.parsec1) {
            crate::front::parsec1::reload_contract(&p1.server, new.service_contract.as_deref());
        }
        if self.store.is_none() && !config.providers.is_empty() {
            bail!(
                "adding the first provider needs a restart (the key store is opened at start-up)"
            );
        }
        let dispatcher = dispatcher(config, self.store.clone(), Some(&self.current.get()))?;
        self.current.replace(dispatcher);
        Ok(())
    }
}

/// The dispatcher of `config`, keeping the open devices of `previous`.
fn dispatcher(
    config: &Config,
    store: Option<Arc<dyn KeyStore>>,
    previous: Option<&Dispatcher>,
) -> anyhow::Result<Dispatcher> {
    let auth = Authenticators::new(
        config.authenticators.clone(),
        previous.map(Dispatcher::authenticators),
    )
    .map_err(|e| anyhow::anyhow!("[authenticator] {e}"))?;
    let previous = previous.map(Dispatcher::providers);
    let providers = Providers::open(config, store, auth.infos(), previous)?;
    Ok(Dispatcher::new(config, auth, providers))
}

/// Serves `listeners` until `shutdown` completes; then stops taking connections, lets the
/// requests in flight finish (Parsec.1 ones within `shutdown_timeout`) and returns.
pub async fn run(
    service: Arc<Service>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let config = &service.started;
    let (stop_tx, stop_rx) = watch::channel(false);
    let parsec1 = match (&service.parsec1, listeners.parsec1) {
        (Some(p1), Some(listener)) => {
            let https = match (&p1.certificates, listeners.parsec1_tls) {
                (Some(certificates), Some(listener)) => Some((listener, certificates.acceptor()?)),
                (Some(_), None) => bail!("[parsec1] tls_listen is set but no listener was given"),
                (None, Some(_)) => bail!("an HTTPS listener was given but tls_listen is not set"),
                (None, None) => None,
            };
            let (server, p1_config, stop) = (p1.server.clone(), p1.config.clone(), stop_rx.clone());
            Some(tokio::spawn(async move {
                let served =
                    crate::front::parsec1::serve(listener, https, server, &p1_config, stop);
                if let Err(e) = served.await {
                    tracing::error!("Parsec.1 front stopped: {e}");
                }
            }))
        }
        (Some(_), None) => bail!("[parsec1] is configured but no listener was given"),
        (None, Some(_)) => bail!("a Parsec.1 listener was given but [parsec1] is not configured"),
        (None, None) => None,
    };
    let floor = config.core.thread_pool_size.unwrap_or_else(|| {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        cpus.max(DEFAULT_FLOOR)
    });
    let size = PoolSize {
        floor,
        max_connections: config.listener.max_connections,
        max_per_uid: config.listener.max_connections_per_uid,
    };
    let unix = match crate::front::unix::Front::start(listeners.unix, service.current.clone(), size)
    {
        Ok(unix) => unix,
        Err(e) => {
            let _ = stop_tx.send(true);
            return Err(e).context("cannot start the socket front end");
        }
    };
    shutdown.await;
    let _ = stop_tx.send(true);
    let shut = listeners.shut_unix_on_stop;
    if let Err(e) = tokio::task::spawn_blocking(move || unix.stop(shut)).await {
        tracing::error!("the socket front end failed to stop: {e}");
    }
    if let Some(parsec1) = parsec1 {
        let _ = parsec1.await;
    }
    Ok(())
}
