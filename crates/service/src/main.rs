//! `parsec`: the daemon binary (named as upstream's, so units and scripts keep working).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use parsec_service::config::{Config, Loaded};

/// The Parsec platform security service.
///
/// Without arguments it runs with an embedded configuration that needs neither root nor a
/// config file: the socket is created under $XDG_RUNTIME_DIR/parsec (or ./parsec-run) and the
/// PARSEC_SERVICE_ENDPOINT value to export is printed on standard output.
#[derive(Parser, Debug)]
#[command(name = "parsec", version)]
struct Args {
    /// An upstream-compatible config.toml. SIGHUP re-reads it.
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
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
    // Parsec.1 with one worker per CPU; without it, only signals, on one worker.
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all().thread_name("parsec-worker");
    if config.parsec1.is_none() {
        runtime.worker_threads(1);
    }
    let runtime = match runtime.build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(parsec_service::server::run(config, args.config));
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

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(config.core.log_level.as_deref().unwrap_or("info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if config.core.log_timestamp {
        builder.init();
    } else {
        builder.without_time().init();
    }
}
