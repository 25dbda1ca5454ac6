//! The Parsec.1 server (spec §5.8), without I/O: request bytes in, answer bytes out.
//!
//! The front end (HTTP in the service) hands every request body to [`Server::handle`] with the
//! peer's address and the time, and sends back the bytes it returns with HTTP 200. Sessions are
//! kept by a [`SessionStore`]; TSKs, pending SCK requests and the replay sets by a
//! [`LiveState`] (in memory unless several nodes share a database; see [`state`]).
//!
//! Beyond the protocol, the server
//! - rejects a tunnelled message whose IV or tag this session's TSK has already carried
//!   (replay),
//! - limits guest requests per peer, pending SCK requests, sessions per SCK, message sizes and
//!   the messages one TSK may carry (then the client transparently makes a new one).

mod commands;
#[doc(hidden)]
pub mod conformance;
mod contract;
mod guest;
mod limiter;
mod pending;
pub mod sessions;
pub mod state;
mod tunnel;

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use parsec_boss::{Limits, Value};

pub use commands::{Caller, Commands};
pub use contract::ServiceContract;
pub use limiter::{client_of, RateLimiter};
pub use pending::{Full, NonceRefused, Pending, MAX_NONCES_PER_SESSION};
pub use sessions::{MemorySessions, Session, SessionStore, StoreError};
pub use state::{LiveKeys, LiveState, LiveTsk, MemoryState, PendingLimits, Remembered};

use crate::message::{self, codes, RemoteError};
use crate::{Error, KeyAddress, PrivateKey};

/// The protocol versions a server can offer: 1.1 always; 1.2 with a service contract, 1.3
/// when that contract is a UNS2 name contract (see [`ServiceContract::versions`]).
pub const PARSEC_VERSIONS: &[&str] = &["1.1", "1.2", "1.3"];

/// Most items decoded from an unauthenticated message (see [`Server::guest_limits`]).
const GUEST_MAX_ELEMENTS: usize = 256;

/// Items a tunnelled command may decode to per byte of its encoding: an item takes at least
/// one byte, or a one-byte back-reference to a string; only references to containers copy more.
const ELEMENTS_PER_BYTE: usize = 8;

/// How the server behaves; [`Settings::default`] gives production values.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Reported by `info`.
    pub service_name: String,
    pub service_version: String,
    /// Zero bits the proof of work must have (spec §4.8), for normal and test-mode sessions.
    pub pow_length: u32,
    pub test_pow_length: u32,
    /// Seconds a TSK is valid, for normal and test-mode sessions.
    pub tsk_lifetime: u64,
    pub test_tsk_lifetime: u64,
    /// Seconds a session lives after registration.
    pub session_lifetime: u64,
    /// Live sessions one SCK may have, and sessions kept in all.
    pub max_sessions_per_key: usize,
    pub max_sessions: usize,
    /// `requestSCK` contexts waiting for `registerSCK`, in total and per client address (an
    /// IPv6 /64 counts as one), and how long they wait (seconds).
    pub max_pending: usize,
    pub max_pending_per_address: usize,
    pub pending_lifetime: u64,
    /// Largest request body, and largest answer, in bytes.
    pub max_message_size: usize,
    /// Tunnelled messages one TSK may carry; then the client is told to make a new TSK. Bounds
    /// the memory of the replay set (two 16-byte entries per message).
    pub max_messages_per_tsk: usize,
    /// Sessions one client address (an IPv6 /64) may register an hour (0: unlimited), so that
    /// no address fills `max_sessions` for the others.
    pub registrations_per_hour: u32,
    /// Guest requests per second per peer address (0: unlimited), and the burst allowed.
    pub guest_rate: u32,
    pub guest_burst: u32,
    /// The service contract served by `getServiceContract` (the sealed binary), if any.
    pub service_contract: Option<Vec<u8>>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            service_name: "parsec-rs".into(),
            service_version: env!("CARGO_PKG_VERSION").into(),
            pow_length: 16,
            test_pow_length: 16,
            tsk_lifetime: 3600,
            test_tsk_lifetime: 300,
            session_lifetime: 30 * 24 * 3600,
            max_sessions_per_key: 16,
            max_sessions: 100_000,
            max_pending: 4096,
            max_pending_per_address: 16,
            pending_lifetime: 300,
            max_message_size: 64 * 1024,
            max_messages_per_tsk: 100_000,
            registrations_per_hour: 60,
            guest_rate: 20,
            guest_burst: 40,
            service_contract: None,
        }
    }
}

/// When a request arrives and from where.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo {
    pub peer: IpAddr,
    /// Seconds since the Unix epoch.
    pub now: u64,
    /// Milliseconds on a monotonic clock (for rate limiting).
    pub now_ms: u64,
}

/// A Parsec.1 server over a session store.
pub struct Server<S> {
    settings: Settings,
    service_key: PrivateKey,
    service_address: KeyAddress,
    store: S,
    commands: Commands,
    limiter: RateLimiter,
    registrations: RateLimiter,
    /// SCK requests, createTSK nonces, live TSKs and replay sets.
    state: Box<dyn LiveState>,
    contract: RwLock<Option<Arc<ServiceContract>>>,
    offload: Option<Box<Offload>>,
}

/// Runs a long computation where it cannot hold up other work (e.g. tokio's `block_in_place`).
pub type Offload = dyn Fn(&mut dyn FnMut()) + Send + Sync;

fn random<const N: usize>() -> Result<[u8; N], RemoteError> {
    let mut buf = [0u8; N];
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut buf)
        .map_err(|_| RemoteError::new(codes::INTERNAL, "the system random generator failed"))?;
    Ok(buf)
}

fn internal(e: impl std::fmt::Display) -> RemoteError {
    RemoteError::new(codes::INTERNAL, e.to_string())
}

/// A store's failure as the client sees it: `parsec_unavailable` when the store cannot be
/// reached now (nothing was done: another node of the service may answer), else an internal
/// error. The details (where the database is, its messages) are logged, never sent.
fn store_error(e: StoreError) -> RemoteError {
    match e {
        StoreError::Unavailable(why) => {
            tracing::warn!("Parsec.1 state store unavailable: {why}");
            RemoteError::new(
                codes::UNAVAILABLE,
                "this node cannot reach its store now: try again, or another node",
            )
        }
        other => {
            tracing::error!("Parsec.1 state store: {other}");
            RemoteError::new(codes::INTERNAL, "the session store failed")
        }
    }
}

fn signature_error(e: Error) -> RemoteError {
    RemoteError::new(codes::BAD_SIGNATURE, format!("signed record: {e}"))
}

impl<S: SessionStore> Server<S> {
    /// A server answering with `service_key` (its long address is what clients must know).
    pub fn new(
        settings: Settings,
        service_key: PrivateKey,
        store: S,
        commands: Commands,
    ) -> Result<Server<S>, Error> {
        let service_address = service_key.public_key().long_address()?;
        let limiter = RateLimiter::new(settings.guest_rate, settings.guest_burst);
        let registrations = RateLimiter::per_hour(settings.registrations_per_hour);
        let contract = match &settings.service_contract {
            Some(bytes) => Some(Arc::new(ServiceContract::read(bytes.clone())?)),
            None => None,
        };
        Ok(Server {
            settings,
            service_key,
            service_address,
            store,
            commands,
            limiter,
            registrations,
            state: Box::new(MemoryState::default()),
            contract: RwLock::new(contract),
            offload: None,
        })
    }

    /// Keeps SCK requests, createTSK nonces and live TSKs in `state` instead of this
    /// process's memory (several nodes sharing them).
    pub fn set_live_state(&mut self, state: Box<dyn LiveState>) {
        self.state = state;
    }

    /// Sets how heavy work runs: `createTSK`'s RSA signature and commands registered as
    /// heavy. Without a hook it runs inline, on the caller's thread.
    pub fn set_offload(&mut self, offload: Box<Offload>) {
        self.offload = Some(offload);
    }

    fn offload(&self, work: &mut dyn FnMut()) {
        match &self.offload {
            Some(hook) => hook(work),
            None => work(),
        }
    }

    /// The service contract served, if any.
    pub fn service_contract(&self) -> Option<Arc<ServiceContract>> {
        self.contract
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serves another service contract (or none) from now on: a revision that rotates keys or
    /// URLs, without a restart. `info` and `getServiceContract` follow at once.
    pub fn set_service_contract(&self, contract: Option<ServiceContract>) {
        *self.contract.write().unwrap_or_else(|e| e.into_inner()) = contract.map(Arc::new);
    }

    /// The long address of the service key.
    pub fn service_address(&self) -> &KeyAddress {
        &self.service_address
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Answers one request body. Always returns a BOSS answer (errors included).
    pub fn handle(&self, body: &[u8], info: RequestInfo) -> Vec<u8> {
        let answer = self.answer(body, info);
        let bytes = message::encode_answer(&answer);
        if bytes.len() > self.settings.max_message_size {
            return message::encode_answer(&Err(too_large("answer", bytes.len())));
        }
        bytes
    }

    /// Limits for what anyone may send: the outer call and the guest commands' signed records.
    /// Every call the protocol defines has a few dozen items at most (the tunnel's command is
    /// one binary item), so a small element budget costs real clients nothing and keeps a
    /// short message with nested back-references from expanding into millions of items.
    fn guest_limits(&self) -> Limits {
        Limits {
            max_size: self.settings.max_message_size,
            max_elements: GUEST_MAX_ELEMENTS,
            ..Limits::default()
        }
    }

    /// Limits for a tunnelled command (authenticated by the session's TSK): items in
    /// proportion to the message's size.
    fn session_limits(&self, len: usize) -> Limits {
        let defaults = Limits::default();
        Limits {
            max_size: self.settings.max_message_size,
            max_elements: len
                .saturating_mul(ELEMENTS_PER_BYTE)
                .saturating_add(GUEST_MAX_ELEMENTS)
                .min(defaults.max_elements),
            ..defaults
        }
    }

    fn answer(&self, body: &[u8], info: RequestInfo) -> Result<Value, RemoteError> {
        if body.len() > self.settings.max_message_size {
            return Err(too_large("request", body.len()));
        }
        let call = parsec_boss::decode_with(body, self.guest_limits())
            .map_err(|e| RemoteError::new(codes::BAD_REQUEST, format!("not a BOSS call: {e}")))?;
        let (cmd, args) = message::decode_call(call)?;
        if cmd == "cmd" {
            return self.tunnel(&args, info);
        }
        if !self.limiter.allow(info.peer, info.now_ms) {
            return Err(too_many_requests());
        }
        match cmd.as_str() {
            "info" => Ok(self.info(info.now)),
            "requestSCK" => self.request_sck(&args, info.peer, info.now),
            "registerSCK" => self.register_sck(&args, info),
            "createTSK" => self.create_tsk(&args, info.now),
            "getServiceContract" => self.get_service_contract(&args),
            _ => Err(RemoteError::new(
                codes::UNKNOWN_COMMAND,
                format!("unknown command `{cmd}`"),
            )),
        }
    }

    /// Forgets expired sessions, TSKs and SCK requests. Call it now and then (the service does
    /// every minute).
    pub fn purge(&self, now: u64) -> Result<usize, StoreError> {
        self.state.purge(now)?;
        self.store.purge_expired(now)
    }

    /// Drops a session's TSK, as if it had expired (for tests and administration).
    pub fn drop_tsk(&self, session_id: &str) -> Result<bool, StoreError> {
        self.state.drop_tsk(session_id)
    }
}

/// The TimeService root (`…/api/p0`, spec §5.1): `time` answers `{time: <epoch seconds>}`, for
/// clients that check their clock against the service's. No sessions, no state.
pub fn time_service(body: &[u8], now: u64) -> Vec<u8> {
    let limits = Limits {
        max_size: 4096,
        ..Limits::default()
    };
    let answer = parsec_boss::decode_with(body, limits)
        .map_err(|e| RemoteError::new(codes::BAD_REQUEST, format!("not a BOSS call: {e}")))
        .and_then(message::decode_call)
        .and_then(|(cmd, _)| match cmd.as_str() {
            "time" => Ok(Value::dict([("time", Value::Int(now.into()))])),
            _ => Err(RemoteError::new(
                codes::UNKNOWN_COMMAND,
                format!("unknown command `{cmd}`"),
            )),
        });
    message::encode_answer(&answer)
}

fn too_large(what: &str, len: usize) -> RemoteError {
    RemoteError::new(
        codes::MESSAGE_TOO_LARGE,
        format!("the {what} is {len} bytes, more than this service accepts"),
    )
}

fn too_many_requests() -> RemoteError {
    RemoteError::new(
        codes::TOO_MANY_REQUESTS,
        "too many requests from this address: slow down",
    )
}

fn session_not_found() -> RemoteError {
    RemoteError::new(codes::SESSION_NOT_FOUND, "session not found")
}

fn missing_tsk() -> RemoteError {
    RemoteError::new(codes::MISSING_TSK, "the session has no valid TSK")
}

/// A new session id: 24 random bytes in Safe58.
fn session_id() -> Result<String, RemoteError> {
    Ok(crate::address::safe58_encode(&random::<24>()?))
}

/// `requestSCK`'s `SCKAddress`: the 53 address bytes (what uparsecjs sends), Safe58 text, or
/// the KeyAddress dictionary an older client sent (`{__type: "KeyAddress", uaddress: BIN}`).
fn sck_address(args: &Value) -> Result<KeyAddress, RemoteError> {
    let bad = || RemoteError::bad_argument("SCKAddress", "a long key address");
    let v = args.get("SCKAddress").ok_or_else(bad)?;
    let address = match v {
        Value::Bin(b) => KeyAddress::from_bytes(b),
        Value::Text(t) => KeyAddress::parse(t).or_else(|_| KeyAddress::from_bytes(t.as_bytes())),
        Value::Dict(_) => KeyAddress::from_bytes(
            v.get("uaddress")
                .and_then(Value::as_bytes)
                .ok_or_else(bad)?,
        ),
        _ => return Err(bad()),
    }
    .map_err(|_| bad())?;
    if !address.is_long() {
        return Err(bad());
    }
    Ok(address)
}

#[cfg(test)]
mod tests;
