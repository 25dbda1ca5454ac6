//! `parsec`: the daemon binary (named as upstream's, so units and scripts keep working).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Parser;
use parsec_service::config::{Config, Loaded};
use parsec_service::service::{Listeners, Service};
use sd_notify::NotifyState;
use tokio::signal::unix::{signal, SignalKind};

/// The Parsec platform security service.
///
/// Without arguments it runs with an embedded configuration that needs neither root nor a
/// config file: the socket is created under $XDG_RUNTIME_DIR/parsec (or ./parsec-run) and the
/// PARSEC_SERVICE_ENDPOINT value to export is printed on standard output.
#[derive(Parser, Debug)]
#[command(name = "parsec", version)]
struct Args {
    /// An upstream-compatible config.toml. SIGHUP re-reads it.
    #[arg(short, long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Takes over the keys of an upstream parsec-service installation, read from its
    /// config.toml (-c), while upstream is stopped: prints what it imported, skipped and why,
    /// and exits non-zero when a key could not be taken over. Upstream's files are not changed;
    /// running it again imports only what is missing.
    Migrate {
        /// Read and check upstream's side (mappings, key files) and say what would be done;
        /// nothing is written, and this service's store is not opened.
        #[arg(long)]
        dry_run: bool,
        /// Upstream's working directory, where its Mbed Crypto provider keeps its key files
        /// (`<id>.psa_its`). Default: the current directory, as upstream's.
        #[arg(long, value_name = "DIR")]
        upstream_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Command::Migrate {
        dry_run,
        upstream_dir,
    }) = &args.command
    {
        return migrate(args.config.as_deref(), *dry_run, upstream_dir.clone());
    }
    let loaded = match &args.config {
        Some(path) => match Config::from_file(path) {
            Ok(loaded) => loaded,
            Err(e) => {
                eprintln!("parsec: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => {
            if let Ok(listen) = std::env::var(parsec_service::config::LISTEN_ENV) {
                if listen.parse::<std::net::SocketAddr>().is_err() {
                    eprintln!(
                        "parsec: {}=`{listen}` is not an address:port such as 127.0.0.1:8373",
                        parsec_service::config::LISTEN_ENV
                    );
                    return ExitCode::FAILURE;
                }
            }
            Loaded {
                config: Config::embedded(),
                warnings: Vec::new(),
            }
        }
    };
    init_logging(&loaded.config);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let config = loaded.config;
    if rustix::process::geteuid().is_root() {
        if !config.core.allow_root {
            tracing::error!(
                "refusing to run as root: run as an unprivileged user (upstream deployments use `parsec`), or set core_settings.allow_root = true"
            );
            return ExitCode::FAILURE;
        }
        let why = if args.config.is_none() {
            "the embedded configuration allows it, to try the service out"
        } else {
            "core_settings.allow_root = true"
        };
        tracing::warn!(
            "running as root ({why}): any local process that can reach {} talks to a root \
             daemon, and the keys are root's. To run it for real, create a user for it \
             (`useradd --system parsec`), give that user the socket and state directories, and \
             start it as that user with a config file from config/config.toml, where \
             allow_root = false refuses root",
            config.listener.socket_path.display()
        );
    }
    // The socket front end has its own threads (`thread_pool_size`). The runtime serves
    // Parsec.1 with one worker per CPU; without it, only signals, on this thread (a worker
    // thread would cost memory and nothing else: BENCHMARKS.md, "Memory").
    let mut runtime = match config.parsec1 {
        Some(_) => tokio::runtime::Builder::new_multi_thread(),
        None => tokio::runtime::Builder::new_current_thread(),
    };
    runtime.enable_all().thread_name("parsec-worker");
    let runtime = match runtime.build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(daemon(config, args.config));
    // Whatever is still running (a Parsec.1 request past its shutdown_timeout) ends here:
    // dropping the runtime would wait for it without limit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The daemon's life: open the service, bind (or inherit) its sockets, serve until SIGTERM or
/// SIGINT, reload on SIGHUP, and tell systemd about each step.
async fn daemon(config: Config, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    // Providers first: a device that cannot be opened stops start-up before the socket
    // exists, so no client ever connects to a service about to exit. A live service on the
    // path is refused before that, so a second daemon never opens the first one's devices.
    let socket_path = config.listener.socket_path.clone();
    if std::env::var_os("LISTEN_FDS").is_none()
        && std::os::unix::net::UnixStream::connect(&socket_path).is_ok()
    {
        bail!(
            "another service is already listening on {}",
            socket_path.display()
        );
    }
    let service = Arc::new(Service::open(config)?);
    let unix = parsec_service::socket::listen(&socket_path)?;
    let endpoint = match &unix.bound_path {
        Some(p) => std::path::absolute(p).unwrap_or_else(|_| p.clone()),
        None => socket_path.clone(),
    };
    println!("PARSEC_SERVICE_ENDPOINT=unix:{}", endpoint.display());
    tracing::info!("listening on {}", endpoint.display());
    let (parsec1, parsec1_tls) = bind_parsec1(&service).await?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let reloads = {
        let service = service.clone();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                reload(&service, config_path.as_deref());
            }
        })
    };
    let shutdown = async move {
        // Polled first once the sockets are served. aws-lc seeds its random generator on first
        // use, which takes tens of milliseconds of CPU: done now, on this thread, rather than
        // in the first client's request (and not on a thread of its own, which would keep a
        // malloc arena of its own: BENCHMARKS.md, "Memory").
        let mut byte = [0u8; 1];
        let _ = aws_lc_rs::rand::fill(&mut byte);
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("stopping");
        notify(NotifyState::Stopping);
    };
    let listeners = Listeners {
        unix: unix.listener,
        shut_unix_on_stop: unix.bound_path.is_some(),
        parsec1,
        parsec1_tls,
    };
    notify(NotifyState::Ready);
    let closing = service.clone();
    let result = parsec_service::service::run(service, listeners, shutdown).await;
    reloads.abort();
    // A TPM's loaded objects are unloaded now, not left to whichever thread drops the service
    // last (which may be after this process has exited).
    closing.close();
    if let Some(path) = unix.bound_path {
        let _ = std::fs::remove_file(path);
    }
    result?;
    tracing::info!("stopped");
    Ok(())
}

/// Binds the Parsec.1 listeners `[parsec1]` names and prints their endpoints.
async fn bind_parsec1(
    service: &Service,
) -> anyhow::Result<(
    Option<tokio::net::TcpListener>,
    Option<tokio::net::TcpListener>,
)> {
    let (Some(p1), Some(endpoints)) = (&service.config().parsec1, service.parsec1_endpoints())
    else {
        return Ok((None, None));
    };
    let listener = tokio::net::TcpListener::bind(p1.listen)
        .await
        .with_context(|| format!("cannot listen on {} (parsec1.listen)", p1.listen))?;
    let url = format!("http://{}{}", listener.local_addr()?, p1.path);
    let https = match &p1.tls {
        None => None,
        Some(tls) => Some(
            tokio::net::TcpListener::bind(tls.listen)
                .await
                .with_context(|| format!("cannot listen on {} (parsec1.tls_listen)", tls.listen))?,
        ),
    };
    println!("PARSEC1_ENDPOINT={url}");
    if let Some(listener) = &https {
        let url = format!("https://{}{}", listener.local_addr()?, p1.path);
        println!("PARSEC1_HTTPS_ENDPOINT={url}");
        tracing::info!("Parsec.1 over HTTPS on {url}");
    }
    println!("PARSEC1_SERVICE_KEY={}", endpoints.service_key);
    tracing::info!("Parsec.1 on {url}, service key {}", endpoints.service_key);
    if let Some(contract) = endpoints.service_contract {
        println!("PARSEC1_SERVICE_CONTRACT={contract}");
    }
    Ok((Some(listener), https))
}

/// SIGHUP: the HTTPS pair is read again, and the config file when there is one.
fn reload(service: &Service, path: Option<&Path>) {
    service.reload_tls();
    let Some(path) = path else {
        tracing::info!("SIGHUP: running with the embedded configuration, nothing to reload");
        return;
    };
    if let Ok(now) = NotifyState::monotonic_usec_now() {
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
            service.reload(&loaded.config)
        });
    match result {
        Ok(()) => tracing::info!("configuration reloaded from {}", path.display()),
        Err(e) => tracing::error!("reload failed, keeping the running configuration: {e:#}"),
    }
    notify(NotifyState::Ready);
}

fn notify(state: NotifyState<'_>) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        if let Err(e) = sd_notify::notify(&[state]) {
            tracing::warn!("sd_notify failed: {e}");
        }
    }
}

/// Logging to stderr at the configured level. `RUST_LOG` overrides it with a level or
/// `target=level` directives (`info`, `parsec_service=debug,hyper=warn`), as env_logger reads
/// them for upstream, without its regular-expression filters: the filter is `Targets`, which
/// keeps the regex engine out of the daemon.
fn init_logging(config: &Config) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let configured = config.core.log_level.as_deref().unwrap_or("info");
    let mut warning = None;
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.trim().is_empty() => value.parse::<Targets>().unwrap_or_else(|e| {
            warning = Some(format!("RUST_LOG ignored ({e}); logging at {configured}"));
            configured.parse().unwrap_or_default()
        }),
        _ => configured.parse().unwrap_or_default(),
    };
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    if config.core.log_timestamp {
        tracing_subscriber::registry()
            .with(layer)
            .with(filter)
            .init();
    } else {
        tracing_subscriber::registry()
            .with(layer.without_time())
            .with(filter)
            .init();
    }
    if let Some(warning) = warning {
        tracing::warn!("{warning}");
    }
}

/// `parsec migrate`.
fn migrate(config: Option<&Path>, dry_run: bool, upstream_dir: Option<PathBuf>) -> ExitCode {
    use parsec_service::migrate::{self, Options, Outcome};
    let Some(path) = config else {
        eprintln!("parsec migrate: name upstream's config file with -c FILE");
        return ExitCode::FAILURE;
    };
    let loaded = match Config::from_file(path) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("parsec migrate: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    for warning in &loaded.warnings {
        eprintln!("parsec migrate: warning: {warning}");
    }
    let config = loaded.config;
    let socket = &config.listener.socket_path;
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        eprintln!(
            "parsec migrate: a service is listening on {}: stop it first (upstream's keys must not change while they are read)",
            socket.display()
        );
        return ExitCode::FAILURE;
    }
    let keys = match migrate::read_upstream(&config) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("parsec migrate: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let upstream_dir = upstream_dir.unwrap_or_else(|| PathBuf::from("."));
    // Our service, for its key store and providers only: no front end, no token
    // authenticator. A dry run opens nothing of ours (opening creates files).
    let mut ours = config.clone();
    ours.parsec1 = None;
    ours.authenticators = parsec_service::config::Config::embedded().authenticators;
    let service = if dry_run {
        None
    } else {
        match Service::open(ours) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("parsec migrate: opening this service's key store: {e:#}");
                return ExitCode::FAILURE;
            }
        }
    };
    let outcomes = migrate::migrate(
        &keys,
        service.as_ref(),
        &Options {
            dry_run,
            upstream_dir,
        },
    );
    let (mut imported, mut present, mut skipped, mut failed) = (0, 0, 0, 0);
    for (key, outcome) in keys.iter().zip(&outcomes) {
        match outcome {
            Outcome::Imported => {
                imported += 1;
                println!("imported: {key}");
            }
            Outcome::WouldImport => {
                imported += 1;
                println!("would import: {key}");
            }
            Outcome::Present => {
                present += 1;
                println!("already present, left as it is: {key}");
            }
            Outcome::NotApplications(why) => {
                skipped += 1;
                println!("skipped: {key}: {why}");
            }
            Outcome::Failed(why) => {
                failed += 1;
                println!("NOT TAKEN OVER: {key}: {why}");
            }
        }
    }
    if let Some(service) = &service {
        service.close();
    }
    let verb = if dry_run { "would import" } else { "imported" };
    println!(
        "{} keys: {imported} {verb}, {present} already present, {skipped} skipped, {failed} not taken over",
        keys.len()
    );
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
