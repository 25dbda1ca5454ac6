//! The daemon's life: bind (or inherit) the socket, serve, reload on SIGHUP, drain on
//! SIGTERM/SIGINT, and tell systemd about each step.

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context};
use sd_notify::NotifyState;
use std::os::unix::net::UnixListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::config::Config;
use crate::dispatch::Service;
use parsec_keystore::KeyStore;

/// The service configuration in force, swapped whole on reload. Requests in flight keep the
/// snapshot they started with.
pub struct Shared {
    current: RwLock<Arc<Service>>,
}

impl Shared {
    pub fn new(service: Service) -> Shared {
        Shared {
            current: RwLock::new(Arc::new(service)),
        }
    }

    /// The service to use for the next request.
    pub fn current(&self) -> Arc<Service> {
        // A poisoned lock only means a panic elsewhere while swapping: the Arc is still whole.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the service for all later requests.
    pub fn replace(&self, service: Service) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(service);
    }
}

/// A listening socket and whether we own its path (and so remove it on exit).
pub struct Listener {
    pub listener: UnixListener,
    /// The path we bound, or `None` when systemd passed the socket to us.
    pub bound_path: Option<PathBuf>,
}

/// Takes the socket systemd passed (`LISTEN_FDS`), or binds `path`.
pub fn listen(path: &Path) -> anyhow::Result<Listener> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() > 0 {
        let std_listener = fds
            .take_unix_listener(0)
            .context("LISTEN_FDS is set but descriptor 3 is not a Unix stream socket")?
            .context("LISTEN_FDS is set but descriptor 3 was already taken")?;
        tracing::info!("using the socket passed by systemd");
        return Ok(Listener {
            listener: std_listener,
            bound_path: None,
        });
    }
    prepare_directory(path)?;
    remove_stale_socket(path)?;
    let listener = UnixListener::bind(path)
        .with_context(|| format!("cannot bind the socket {}", path.display()))?;
    // Access control rests on the directory (upstream deployment rule); the socket is 0666.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("cannot set the permissions of {}", path.display()))?;
    Ok(Listener {
        listener,
        bound_path: Some(path.to_path_buf()),
    })
}

/// Creates the socket's directory (0755) if missing; warns when others may write to it.
fn prepare_directory(path: &Path) -> anyhow::Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            let mode = meta.permissions().mode();
            if mode & 0o022 != 0 && mode & 0o1000 == 0 {
                tracing::warn!(
                    "the socket directory {} is writable by other users (mode {:o}): they could replace the socket",
                    dir.display(),
                    mode & 0o7777
                );
            }
            Ok(())
        }
        Ok(_) => bail!("{} exists and is not a directory", dir.display()),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the socket directory {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("cannot inspect {}", dir.display())),
    }
}

/// Removes a socket left by a service that is gone. Refuses to touch anything that is not a
/// socket, or a socket that a live service still answers on.
fn remove_stale_socket(path: &Path) -> anyhow::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", path.display())),
    };
    if !meta.file_type().is_socket() {
        bail!(
            "{} exists and is not a socket: refusing to replace it",
            path.display()
        );
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => bail!("another service is already listening on {}", path.display()),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            tracing::info!("removing the stale socket {}", path.display());
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove the stale socket {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot check the socket {}", path.display())),
    }
}

fn notify(state: NotifyState<'_>) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        if let Err(e) = sd_notify::notify(&[state]) {
            tracing::warn!("sd_notify failed: {e}");
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT. `config_path` is re-read on SIGHUP.
pub async fn run(config: Config, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    // aws-lc seeds its random generator on first use, which takes tens of milliseconds: do it
    // now, beside start-up, rather than in the first client's request.
    std::thread::Builder::new()
        .name("rng-warm-up".into())
        .spawn(|| {
            let mut byte = [0u8; 1];
            let _ = aws_lc_rs::rand::fill(&mut byte);
        })?;
    let store = crate::store::open(&config)?;
    // Providers first: a device that cannot be opened stops start-up before the socket
    // exists, so no client ever connects to a service about to exit. A live service on the
    // path is refused before that, so a second daemon never opens the first one's devices.
    if std::env::var_os("LISTEN_FDS").is_none()
        && std::os::unix::net::UnixStream::connect(&config.listener.socket_path).is_ok()
    {
        bail!(
            "another service is already listening on {}",
            config.listener.socket_path.display()
        );
    }
    let shared = Arc::new(Shared::new(Service::new(&config, store.clone())?));
    let Listener {
        listener,
        bound_path,
    } = listen(&config.listener.socket_path)?;
    let endpoint = match &bound_path {
        Some(p) => std::path::absolute(p).unwrap_or_else(|_| p.clone()),
        None => config.listener.socket_path.clone(),
    };
    println!("PARSEC_SERVICE_ENDPOINT=unix:{}", endpoint.display());
    tracing::info!("listening on {}", endpoint.display());

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut parsec1_server = None;
    let mut tls_certificates = None;
    let parsec1 = match (&config.parsec1, &store) {
        (Some(p1), Some(key_store)) => {
            let key_db = crate::store::store_paths(&config).map(|(db, _)| db);
            let server = crate::front::parsec1::build(p1, key_store, key_db, shared.clone())?;
            let listener = tokio::net::TcpListener::bind(p1.listen)
                .await
                .with_context(|| format!("cannot listen on {} (parsec1.listen)", p1.listen))?;
            let url = format!("http://{}{}", listener.local_addr()?, p1.path);
            let https = match &p1.tls {
                None => None,
                Some(tls) => {
                    let certificates = crate::front::parsec1::tls::Certificates::load(tls)?;
                    let acceptor = certificates.acceptor()?;
                    let listener = tokio::net::TcpListener::bind(tls.listen)
                        .await
                        .with_context(|| {
                            format!("cannot listen on {} (parsec1.tls_listen)", tls.listen)
                        })?;
                    tls_certificates = Some(certificates);
                    Some((listener, acceptor))
                }
            };
            println!("PARSEC1_ENDPOINT={url}");
            if let Some((listener, _)) = &https {
                let url = format!("https://{}{}", listener.local_addr()?, p1.path);
                println!("PARSEC1_HTTPS_ENDPOINT={url}");
                tracing::info!("Parsec.1 over HTTPS on {url}");
            }
            println!("PARSEC1_SERVICE_KEY={}", server.service_address());
            tracing::info!(
                "Parsec.1 on {url}, service key {}",
                server.service_address()
            );
            if let Some(contract) = server.service_contract() {
                println!(
                    "PARSEC1_SERVICE_CONTRACT={}",
                    parsec1::hash_id::to_base64(&contract.origin)
                );
            }
            let p1 = p1.clone();
            let stop = stop_rx.clone();
            let server = Arc::new(server);
            parsec1_server = Some(server.clone());
            Some(tokio::spawn(async move {
                let served = crate::front::parsec1::serve(listener, https, server, &p1, stop);
                if let Err(e) = served.await {
                    tracing::error!("Parsec.1 front stopped: {e}");
                }
            }))
        }
        (Some(_), None) => bail!("[parsec1] needs a key store for its service key"),
        (None, _) => None,
    };
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let signals = {
        let shared = shared.clone();
        let started = config.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                    _ = hup.recv() => {
                        if let Some(certificates) = &tls_certificates {
                            certificates.reload();
                        }
                        reload(
                            &shared,
                            config_path.as_deref(),
                            &started,
                            &store,
                            parsec1_server.as_deref(),
                        )
                    }
                }
            }
            tracing::info!("stopping");
            notify(NotifyState::Stopping);
            let _ = stop_tx.send(true);
        })
    };
    notify(NotifyState::Ready);
    let floor = config.core.thread_pool_size.unwrap_or_else(|| {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        cpus.max(crate::front::unix::DEFAULT_FLOOR)
    });
    let size = crate::front::unix::PoolSize {
        floor,
        max_connections: config.listener.max_connections,
        max_per_uid: config.listener.max_connections_per_uid,
    };
    let unix = crate::front::unix::Front::start(listener, shared, size)
        .context("cannot start the socket front end")?;
    let mut stop = stop_rx.clone();
    let _ = stop.wait_for(|stop| *stop).await;
    let owned = bound_path.is_some();
    if let Err(e) = tokio::task::spawn_blocking(move || unix.stop(owned)).await {
        tracing::error!("the socket front end failed to stop: {e}");
    }
    if let Some(parsec1) = parsec1 {
        let _ = parsec1.await;
    }
    signals.abort();
    if let Some(path) = bound_path {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!("stopped");
    Ok(())
}

fn reload(
    shared: &Shared,
    path: Option<&Path>,
    started: &Config,
    store: &Option<Arc<dyn KeyStore>>,
    parsec1: Option<&crate::front::parsec1::Parsec1Server>,
) {
    let Some(path) = path else {
        tracing::info!("SIGHUP: running with the embedded configuration, nothing to reload");
        return;
    };
    if let Ok(now) = sd_notify::NotifyState::monotonic_usec_now() {
        if std::env::var_os("NOTIFY_SOCKET").is_some() {
            let _ = sd_notify::notify(&[NotifyState::Reloading, now]);
        }
    }
    let result = Config::from_file(path)
        .map_err(anyhow::Error::from)
        .and_then(|loaded| {
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            if loaded.config.listener != started.listener {
                tracing::warn!("[listener] changes take effect only after a restart");
            }
            if loaded.config.core.thread_pool_size != started.core.thread_pool_size {
                tracing::warn!("a thread_pool_size change takes effect only after a restart");
            }
            if loaded.config.core.max_keys_per_application
                != started.core.max_keys_per_application
            {
                tracing::warn!(
                    "a max_keys_per_application change takes effect only after a restart"
                );
            }
            // The service contract is read again on every SIGHUP; other [parsec1] keys need a
            // restart.
            let without_contract = |c: &Config| {
                c.parsec1.clone().map(|mut p| {
                    p.service_contract = None;
                    p
                })
            };
            if without_contract(&loaded.config) != without_contract(started) {
                tracing::warn!("[parsec1] changes take effect only after a restart");
            }
            if let (Some(server), Some(p1)) = (parsec1, &loaded.config.parsec1) {
                crate::front::parsec1::reload_contract(server, p1.service_contract.as_deref());
            }
            if store.is_none() && !loaded.config.providers.is_empty() {
                anyhow::bail!(
                    "adding the first provider needs a restart (the key store is opened at start-up)"
                );
            }
            Service::rebuild(&loaded.config, store.clone(), Some(&shared.current()))
        });
    match result {
        Ok(service) => {
            shared.replace(service);
            tracing::info!("configuration reloaded from {}", path.display());
        }
        Err(e) => tracing::error!("reload failed, keeping the running configuration: {e:#}"),
    }
    notify(NotifyState::Ready);
}
