//! The Parsec.1 front: one HTTP POST endpoint (default `/api/p1`) in front of a
//! [`parsec1::server::Server`] whose session commands are the service's operations.
//!
//! A request body is the BOSS call, either as the multipart file field `cmd` (what uparsecjs
//! sends) or as the raw body (`application/octet-stream`). Every answer is HTTP 200 with a BOSS
//! body, errors included, because clients ignore the status and decode the body (spec §5.1).
//! CORS headers let browser pages of other origins call it.

mod conn;
pub mod multipart;
mod psa;
mod service_key;
pub mod tls;

use parsec_wire::ProviderId;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::{to_bytes, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use parsec1::message::{self, codes};
use parsec1::server::{
    Commands, LiveState, RequestInfo, Server, ServiceContract, SessionStore, Settings,
};
use parsec1::RemoteError;
use parsec_keystore::{KeyStore, PostgresParsec1};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use parsec_keystore::SqliteSessions;

use crate::config::{Parsec1Config, SessionStoreConfig};
use crate::dispatch::Current;

/// The server type the service runs.
pub type Parsec1Server = Server<Box<dyn SessionStore>>;

/// Room for the multipart framing around the `cmd` field.
const MULTIPART_SLACK: usize = 4096;

/// Builds the Parsec.1 server of `config`: the service key from the key store (made on first
/// start), the session store, the service's operations as commands.
pub fn build(
    config: &Parsec1Config,
    key_store: &Arc<dyn KeyStore>,
    key_db: Option<PathBuf>,
    master_key: Option<PathBuf>,
    shared: Arc<Current>,
) -> anyhow::Result<Parsec1Server> {
    let service_key = service_key::load_or_create(key_store.as_ref(), config.service_key_bits)?;
    let (sessions, state) = open_state(config, key_db, master_key)?;
    let service_contract = match &config.service_contract {
        Some(path) => Some(read_contract_file(path)?),
        None => None,
    };
    let settings = Settings {
        service_name: config.service_name.clone(),
        pow_length: config.pow_difficulty,
        test_pow_length: config.test_pow_difficulty,
        tsk_lifetime: config.tsk_lifetime,
        test_tsk_lifetime: config.test_tsk_lifetime,
        session_lifetime: config.session_lifetime,
        max_sessions_per_key: config.max_sessions_per_key,
        max_pending_per_address: config.max_pending_per_address,
        max_sessions: config.max_sessions,
        registrations_per_hour: config.registrations_per_address_per_hour,
        max_message_size: config.max_message_size,
        guest_rate: config.guest_requests_per_second,
        guest_burst: config.guest_burst,
        service_contract,
        ..Settings::default()
    };
    let mut commands = Commands::new();
    let default_provider = config.provider.and_then(ProviderId::from_u8);
    psa::register(&mut commands, shared, default_provider);
    let mut server = Server::new(settings, service_key, sessions, commands).with_context(|| {
        match &config.service_contract {
            Some(path) => format!("the service contract {}", path.display()),
            None => "the Parsec.1 server".into(),
        }
    })?;
    if let Some(state) = state {
        server.set_live_state(state);
    }
    if let Some(contract) = server.service_contract() {
        report_contract(&contract, server.service_address());
    }
    // Requests are answered on the runtime's threads; RSA signatures and key generation hand
    // the thread's other work to another thread first. (The service runs a multi-thread
    // runtime, which block_in_place needs.)
    server.set_offload(Box::new(|work| tokio::task::block_in_place(work)));
    Ok(server)
}

/// A session store, and the server's state when it is kept with the sessions.
type SessionState = (Box<dyn SessionStore>, Option<Box<dyn LiveState>>);

/// The session store of `config`, and the state shared with other nodes when it is a
/// database (else the server keeps that state in memory). Every call runs off the runtime.
fn open_state(
    config: &Parsec1Config,
    key_db: Option<PathBuf>,
    master_key: Option<PathBuf>,
) -> anyhow::Result<SessionState> {
    use crate::store::OffRuntime;
    let path = match &config.session_store {
        Some(SessionStoreConfig::Postgres {
            url,
            password_file,
            connections,
        }) => {
            let master_path = master_key.context(
                "a PostgreSQL session_store seals TSKs under the key store's master key: \
                 configure a key manager with a master key (master_key_path)",
            )?;
            let master = parsec_keystore::MasterKey::load(&master_path)
                .with_context(|| format!("cannot use the master key {}", master_path.display()))?
                .with_context(|| format!("the master key {} is missing", master_path.display()))?;
            let options =
                crate::store::postgres_options(url, password_file.as_deref(), *connections)?;
            let state = Arc::new(
                PostgresParsec1::open(options, master)
                    .context("cannot open the Parsec.1 session store on PostgreSQL")?,
            );
            tracing::info!("Parsec.1 sessions and their state: {}", state.place());
            return Ok((
                Box::new(OffRuntime(state.clone())),
                Some(Box::new(OffRuntime(state))),
            ));
        }
        Some(SessionStoreConfig::File(p)) => p.clone(),
        None => match key_db {
            Some(db) => db.with_file_name("parsec1-sessions.sqlite3"),
            None => PathBuf::from(":memory:"),
        },
    };
    let sessions = SqliteSessions::open(&path)
        .with_context(|| format!("cannot open the Parsec.1 session store {}", path.display()))?;
    tracing::info!("Parsec.1 sessions: {}", path.display());
    Ok((Box::new(OffRuntime(sessions)), None))
}

/// Logs what a service contract says, and warns when clients would not trust this service
/// through it.
pub fn report_contract(contract: &ServiceContract, own: &parsec1::KeyAddress) {
    tracing::info!(
        "Parsec.1 service contract: origin {}, revision {}, HashId {}{}",
        parsec1::hash_id::to_base64(&contract.origin),
        contract.revision,
        parsec1::hash_id::to_base64(&contract.hash_id),
        if contract.uns2 {
            " (UNS2: Parsec 1.3)"
        } else {
            ""
        }
    );
    if !contract.lists(own) {
        tracing::warn!(
            "the service key {own} is not among the service contract's non-test addresses: \
             clients that trust the contract will refuse this service"
        );
    }
    if let Some(problem) = &contract.role_problem {
        tracing::warn!("clients will refuse the service contract: {problem}");
    }
}

/// The contract file's bytes, refused beyond the largest contract read.
fn read_contract_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let limit = parsec1::universa::MAX_CONTAINER;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit as u64 + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read the service contract {}", path.display()))?;
    if bytes.len() > limit {
        anyhow::bail!(
            "the service contract {} is larger than any contract ({limit} bytes at most)",
            path.display()
        );
    }
    Ok(bytes)
}

/// Reads the service contract file again (SIGHUP): a revision that rotates keys or URLs is
/// served from now on. On an error the contract served so far is kept.
pub fn reload_contract(server: &Parsec1Server, path: Option<&std::path::Path>) {
    let Some(path) = path else {
        if server.service_contract().is_some() {
            server.set_service_contract(None);
            tracing::info!("Parsec.1: no service contract any more (Parsec 1.1 only)");
        }
        return;
    };
    let read = read_contract_file(path)
        .and_then(|bytes| ServiceContract::read(bytes).map_err(anyhow::Error::from));
    match read {
        Ok(contract) => {
            report_contract(&contract, server.service_address());
            server.set_service_contract(Some(contract));
        }
        Err(e) => tracing::error!(
            "Parsec.1: the service contract {} cannot be used, keeping the one served: {e:#}",
            path.display()
        ),
    }
}

struct Front {
    server: Arc<Parsec1Server>,
    max_body: usize,
    /// The whole request (header and body) must arrive within this, from its first byte.
    request_timeout: Duration,
    started: Instant,
    /// The server's state is in a database: every request leaves the runtime's threads once
    /// (its two or three store calls then run where they are, instead of each leaving it).
    off_runtime: bool,
}

/// Serves the plain HTTP `listener`, and `https` (a listener and its TLS acceptor) when given,
/// until `shutdown` turns true, then gives the requests in flight `shutdown_timeout` to finish.
pub async fn serve(
    listener: TcpListener,
    https: Option<(TcpListener, TlsAcceptor)>,
    server: Arc<Parsec1Server>,
    config: &Parsec1Config,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let front = Arc::new(Front {
        max_body: config.max_message_size,
        request_timeout: Duration::from_secs(config.request_timeout),
        server: server.clone(),
        started: Instant::now(),
        off_runtime: matches!(
            config.session_store,
            Some(SessionStoreConfig::Postgres { .. })
        ),
    });
    let mut app = Router::new().route(&config.path, post(handle));
    if let Some(time_path) = time_path(&config.path) {
        app = app.route(&time_path, post(time));
    }
    let app = app
        .fallback(not_found)
        .layer(cors(&config.allowed_origins))
        .with_state(front);
    let purge = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            let server = server.clone();
            let now = parsec_boss::Time::now().seconds();
            let purged = tokio::task::spawn_blocking(move || server.purge(now)).await;
            if let Ok(Err(e)) = purged {
                tracing::warn!("Parsec.1: purging expired sessions failed: {e}");
            }
        }
    });
    let limits = conn::Limits::new(config.max_connections, config.max_connections_per_address);
    let timeouts = conn::Timeouts {
        idle: Duration::from_secs(config.idle_timeout),
        header: Duration::from_secs(config.header_timeout),
    };
    let mut stopped = shutdown.clone();
    let run = |listener: conn::LimitedListener| {
        let mut shutdown = shutdown.clone();
        let served = axum::serve(
            listener,
            app.clone()
                .into_make_service_with_connect_info::<conn::Peer>(),
        )
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        });
        tokio::spawn(async move { served.await })
    };
    let plain = run(conn::LimitedListener::new(
        listener,
        limits.clone(),
        timeouts,
        None,
    ));
    let https = https.map(|(listener, acceptor)| {
        run(conn::LimitedListener::new(
            listener,
            limits,
            timeouts,
            Some(acceptor),
        ))
    });
    let served = async move {
        let plain = plain.await.map_err(std::io::Error::other)?;
        match https {
            Some(https) => https.await.map_err(std::io::Error::other)?.and(plain),
            None => plain,
        }
    };
    let grace = Duration::from_secs(config.shutdown_timeout);
    let served = tokio::select! {
        served = served => served,
        _ = async {
            let _ = stopped.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        } => {
            // Their tasks end with the runtime.
            tracing::warn!(
                "Parsec.1: connections still open {} s after the stop: closing them",
                grace.as_secs()
            );
            Ok(())
        }
    };
    purge.abort();
    served
}

/// The TimeService path beside the endpoint: `/api/p1` → `/api/p0`.
pub fn time_path(path: &str) -> Option<String> {
    path.strip_suffix("p1").map(|root| format!("{root}p0"))
}

async fn time(
    State(front): State<Arc<Front>>,
    ConnectInfo(peer): ConnectInfo<conn::Peer>,
    request: Request,
) -> Response {
    match read_call(&front, &peer, request, 4096).await {
        Ok(call) => boss(parsec1::server::time_service(
            &call,
            parsec_boss::Time::now().seconds(),
        )),
        Err(refused) => refused,
    }
}

/// Any other path or method: a BOSS error (clients decode every body) with HTTP 404.
async fn not_found() -> Response {
    let mut response = error(codes::UNKNOWN_COMMAND, "no Parsec.1 endpoint here");
    *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
    response
}

/// The CORS layer for `origins`: `"*"` allows any page, `"loopback"` pages served from this
/// machine (`localhost`, 127.0.0.0/8, `[::1]`, any port), anything else that exact origin.
fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600));
    if origins.iter().any(|o| o == "*") {
        return layer.allow_origin(AllowOrigin::any());
    }
    let loopback = origins.iter().any(|o| o == LOOPBACK);
    let exact: Vec<HeaderValue> = origins
        .iter()
        .filter(|o| *o != LOOPBACK)
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    layer.allow_origin(AllowOrigin::predicate(move |origin, _| {
        exact.contains(origin) || (loopback && is_loopback_origin(origin))
    }))
}

/// The `allowed_origins` entry for pages served from this machine.
pub const LOOPBACK: &str = "loopback";

/// Whether `origin` (`scheme://host[:port]`) names this machine: `localhost`, an address of
/// 127.0.0.0/8 or `[::1]`, over http or https.
fn is_loopback_origin(origin: &HeaderValue) -> bool {
    let Ok(text) = origin.to_str() else {
        return false;
    };
    let Some(rest) = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
    else {
        return false;
    };
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, port)) => (host, port),
            None => return false,
        },
        None => match rest.find(':') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        },
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
        });
    let host_ok = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    port_ok && host_ok
}

fn boss(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

fn error(code: &str, text: impl Into<String>) -> Response {
    boss(message::encode_answer(&Err(RemoteError::new(code, text))))
}

/// The BOSS call a request carries (the raw body, or its multipart field `cmd`), at most
/// `max` bytes, read by the request's deadline; or the answer refusing it.
async fn read_call(
    front: &Front,
    peer: &conn::Peer,
    request: Request,
    max: usize,
) -> Result<Bytes, Response> {
    let (parts, body) = request.into_parts();
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(multipart::boundary);
    let limit = max
        + if boundary.is_some() {
            MULTIPART_SLACK
        } else {
            0
        };
    let deadline = peer.request_started() + front.request_timeout;
    let bytes = match tokio::time::timeout_at(deadline, to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return Err(error(
                codes::MESSAGE_TOO_LARGE,
                format!("the request is larger than {max} bytes"),
            ))
        }
        Err(_) => {
            let mut response = error(
                codes::BAD_REQUEST,
                format!(
                    "the request did not arrive within {} s",
                    front.request_timeout.as_secs()
                ),
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return Err(response);
        }
    };
    match boundary {
        None => Ok(bytes),
        Some(b) => match multipart::field(&bytes, b, "cmd") {
            Some(call) => Ok(bytes.slice_ref(call)),
            None => Err(error(
                codes::BAD_REQUEST,
                "the multipart body has no field `cmd`",
            )),
        },
    }
}

/// Calls larger than this are answered off the runtime's threads: decoding what a session
/// may send costs in proportion to its size.
const INLINE_MAX: usize = 4096;

async fn handle(
    State(front): State<Arc<Front>>,
    ConnectInfo(peer): ConnectInfo<conn::Peer>,
    request: Request,
) -> Response {
    let call = match read_call(&front, &peer, request, front.max_body).await {
        Ok(call) => call,
        Err(refused) => return refused,
    };
    let info = RequestInfo {
        peer: peer.addr.ip(),
        now: parsec_boss::Time::now().seconds(),
        now_ms: u64::try_from(front.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    // Small calls inline: the server offloads its heavy steps itself (see `build`), and each
    // store call leaves the runtime's threads on its own (`store::OffRuntime`).
    if call.len() <= INLINE_MAX && !front.off_runtime {
        boss(front.server.handle(&call, info))
    } else {
        boss(tokio::task::block_in_place(|| {
            front.server.handle(&call, info)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_origins_are_pages_of_this_machine_only() {
        for yes in [
            "http://localhost",
            "http://localhost:3000",
            "https://LOCALHOST:8443",
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:5173",
            "http://[::1]",
        ] {
            assert!(is_loopback_origin(&HeaderValue::from_static(yes)), "{yes}");
        }
        for no in [
            "http://page.example",
            "http://localhost.page.example",
            "http://127.0.0.1.page.example",
            "http://localhost:80/path",
            "http://localhost:",
            "http://10.0.0.1",
            "http://[::2]",
            "file://localhost",
            "null",
            "http://[::1",
        ] {
            assert!(!is_loopback_origin(&HeaderValue::from_static(no)), "{no}");
        }
    }
}
