//! The Parsec.1 server (spec §5.8), without I/O: request bytes in, answer bytes out.
//!
//! The front end (HTTP in the service) hands every request body to [`Server::handle`] with the
//! peer's address and the time, and sends back the bytes it returns with HTTP 200. Sessions are
//! kept by a [`SessionStore`]; TSKs, pending SCK requests and the replay sets live in memory
//! (see [`sessions`]).
//!
//! Beyond the protocol, the server
//! - rejects a tunnelled message whose IV or tag this session's TSK has already carried
//!   (replay),
//! - limits guest requests per peer, pending SCK requests, sessions per SCK, message sizes and
//!   the messages one TSK may carry (then the client transparently makes a new one).

mod commands;
mod contract;
mod limiter;
mod pending;
pub mod sessions;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use parsec_boss::{Limits, Time, Value};
use zeroize::Zeroizing;

pub use commands::{Caller, Commands};
pub use contract::ServiceContract;
pub use limiter::{client_of, RateLimiter};
pub use pending::MAX_NONCES_PER_SESSION;
pub use sessions::{MemorySessions, Session, SessionStore, StoreError};

use crate::message::{self, bin_arg, codes, str_arg, RemoteError};
use crate::{eta, pow, Error, KeyAddress, PrivateKey, SignedRecord, SymmetricKey};
use pending::{Full, NonceRefused, Pending, PendingTable, UsedNonces};

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

/// A session's live TSK, with what the tunnel needs without asking the store.
struct Live {
    /// Shared with the requests in flight, so that none copies the key schedule.
    keys: Arc<LiveKeys>,
    tsk_expires_at: u64,
    session_expires_at: u64,
    seen: HashSet<Seen>,
}

struct LiveKeys {
    tsk: SymmetricKey,
    address: KeyAddress,
    address_text: String,
    test: bool,
}

/// What the replay set remembers of each tunnelled message.
#[derive(PartialEq, Eq, Hash)]
enum Seen {
    Iv([u8; eta::IV_LEN]),
    /// The first half of the HMAC tag.
    Tag([u8; 16]),
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
    pending: Mutex<PendingTable>,
    nonces: Mutex<UsedNonces>,
    live: Mutex<HashMap<String, Live>>,
    contract: RwLock<Option<Arc<ServiceContract>>>,
    offload: Option<Box<Offload>>,
}

/// Runs a long computation where it cannot hold up other work (e.g. tokio's `block_in_place`).
pub type Offload = dyn Fn(&mut dyn FnMut()) + Send + Sync;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change under these locks is one insert, remove or field update.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn random<const N: usize>() -> Result<[u8; N], RemoteError> {
    let mut buf = [0u8; N];
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut buf)
        .map_err(|_| RemoteError::new(codes::INTERNAL, "the system random generator failed"))?;
    Ok(buf)
}

fn internal(e: impl std::fmt::Display) -> RemoteError {
    RemoteError::new(codes::INTERNAL, e.to_string())
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
            pending: Mutex::new(PendingTable::default()),
            nonces: Mutex::new(UsedNonces::default()),
            live: Mutex::new(HashMap::new()),
            contract: RwLock::new(contract),
            offload: None,
        })
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

    fn info(&self, now: u64) -> Value {
        Value::dict([
            (
                "parsecVersions",
                Value::List(
                    ServiceContract::versions(self.service_contract().as_deref())
                        .iter()
                        .map(|v| Value::Text(v.to_string()))
                        .collect(),
                ),
            ),
            (
                "serviceName",
                Value::Text(self.settings.service_name.clone()),
            ),
            (
                "serviceVersion",
                Value::Text(self.settings.service_version.clone()),
            ),
            ("localTime", Value::Time(Time(now))),
            (
                "serviceKeyAddress",
                Value::Text(self.service_address.to_string()),
            ),
        ])
    }

    fn request_sck(&self, args: &Value, peer: IpAddr, now: u64) -> Result<Value, RemoteError> {
        let address = sck_address(args)?;
        let test = args
            .get("testMode")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let length = if test {
            self.settings.test_pow_length
        } else {
            self.settings.pow_length
        };
        let source = random::<32>()?;
        let context = random::<16>()?;
        let pending = Pending::new(
            address,
            source,
            length,
            test,
            now.saturating_add(self.settings.pending_lifetime),
            peer,
        );
        let kept = lock(&self.pending).insert(
            context,
            pending,
            self.settings.max_pending,
            self.settings.max_pending_per_address,
            now,
        );
        match kept {
            Ok(()) => {}
            Err(Full::Client) => {
                return Err(RemoteError::new(
                    codes::TOO_MANY_REQUESTS,
                    "too many session requests in progress from this address: finish them \
                     (registerSCK) or wait for them to expire",
                ))
            }
            Err(Full::Total) => {
                return Err(RemoteError::new(
                    codes::TOO_MANY_REQUESTS,
                    "too many session requests in progress: try again later",
                ))
            }
        }
        let task = Value::dict([
            ("type", Value::Int(1)),
            ("length", Value::Int(length.into())),
            ("source", Value::Bin(source.to_vec())),
            // The KB's names for the same two fields (spec §5.3); clients read the above.
            ("count", Value::Int(length.into())),
            ("salt", Value::Bin(source.to_vec())),
        ]);
        Ok(Value::dict([
            ("context", Value::Bin(context.to_vec())),
            ("POWTask", task),
        ]))
    }

    fn register_sck(&self, args: &Value, info: RequestInfo) -> Result<Value, RemoteError> {
        let now = info.now;
        let unknown = || {
            RemoteError::new(
                codes::UNKNOWN_CONTEXT,
                "unknown, used or expired context: call requestSCK again",
            )
        };
        let context: [u8; 16] = bin_arg(args, "context")?
            .try_into()
            .map_err(|_| unknown())?;
        let record = bin_arg(args, "signedRecord")?;
        // Single use: taken before anything is checked, so a failed attempt cannot be retried.
        let pending = lock(&self.pending).take(&context).ok_or_else(unknown)?;
        if pending.expires_at <= now {
            return Err(unknown());
        }
        let record =
            SignedRecord::unpack_with(record, self.guest_limits()).map_err(signature_error)?;
        let key = record.key();
        let address = key.long_address().map_err(signature_error)?;
        if address != pending.address {
            return Err(RemoteError::new(
                codes::BAD_SIGNATURE,
                "the record is not signed by the key named in requestSCK",
            ));
        }
        let solution = bin_arg(record.payload(), "POWResult")?;
        if !pow::check(solution, &pending.source, pending.length) {
            return Err(RemoteError::new(
                codes::BAD_POW,
                format!(
                    "the proof of work does not have {} leading zero bits",
                    pending.length
                ),
            ));
        }
        if !self.registrations.allow(info.peer, info.now_ms) {
            return Err(RemoteError::new(
                codes::TOO_MANY_REQUESTS,
                format!(
                    "this address has registered {} sessions in the last hour: try again later",
                    self.settings.registrations_per_hour
                ),
            ));
        }
        let session = Session {
            id: session_id()?,
            key: key.clone(),
            address,
            test: pending.test,
            created_at: now,
            expires_at: now.saturating_add(self.settings.session_lifetime),
        };
        match self.store.create(
            &session,
            sessions::Limits {
                per_key: self.settings.max_sessions_per_key,
                total: self.settings.max_sessions,
            },
            now,
        ) {
            Ok(()) => {}
            Err(StoreError::TooManySessions(n)) => {
                return Err(RemoteError::new(
                    codes::TOO_MANY_SESSIONS,
                    format!("this session key already has {n} sessions"),
                ))
            }
            Err(StoreError::Full(n)) => {
                return Err(RemoteError::new(
                    codes::TOO_MANY_SESSIONS,
                    format!("the service holds {n} sessions, the most it keeps: try again later"),
                ))
            }
            Err(e) => return Err(internal(e)),
        }
        Ok(Value::dict([("sessionId", Value::Text(session.id))]))
    }

    fn create_tsk(&self, args: &Value, now: u64) -> Result<Value, RemoteError> {
        let record = SignedRecord::unpack_with(bin_arg(args, "signedRecord")?, self.guest_limits())
            .map_err(signature_error)?;
        let payload = record.payload();
        let session_id = str_arg(payload, "sessionId")?;
        let client_nonce = bin_arg(payload, "clientNonce")?;
        if client_nonce.len() > 1024 {
            return Err(RemoteError::bad_argument(
                "clientNonce",
                "at most 1024 bytes",
            ));
        }
        let session = self
            .store
            .get(session_id, now)
            .map_err(internal)?
            .ok_or_else(session_not_found)?;
        if record.key() != &session.key {
            return Err(RemoteError::new(
                codes::BAD_SIGNATURE,
                "the record is not signed by this session's key",
            ));
        }
        let known = payload
            .get("knownServiceKeys")
            .and_then(Value::as_list)
            .ok_or_else(|| RemoteError::bad_argument("knownServiceKeys", "a list"))?;
        let ours = known.iter().any(|k| {
            k.as_bytes()
                .and_then(|b| KeyAddress::from_bytes(b).ok())
                .is_some_and(|a| a == self.service_address)
        });
        if !ours {
            return Err(RemoteError::new(
                codes::UNKNOWN_SERVICE_KEY,
                format!(
                    "none of the {} known service keys is this service's key {}",
                    known.len(),
                    self.service_address
                ),
            ));
        }
        let lifetime = if session.test {
            self.settings.test_tsk_lifetime
        } else {
            self.settings.tsk_lifetime
        };
        let expires_at = now.saturating_add(lifetime).min(session.expires_at);
        // The record travels in the clear: without this, anyone who saw it could send it again
        // and replace the session's live TSK with one only the session key can read.
        match lock(&self.nonces).use_once(&session.id, client_nonce, expires_at, now) {
            Ok(()) => {}
            Err(NonceRefused::Replayed) => return Err(RemoteError::new(
                codes::REPLAYED_MESSAGE,
                "this createTSK record was already used: sign a new one with a fresh clientNonce",
            )),
            Err(NonceRefused::TooMany) => {
                return Err(RemoteError::new(
                    codes::TOO_MANY_REQUESTS,
                    format!(
                    "this session has made {MAX_NONCES_PER_SESSION} TSKs within one TSK lifetime"
                ),
                ))
            }
        }
        let tsk = SymmetricKey::random().map_err(internal)?;
        let secret = zeroize::Zeroizing::new(message::encode(&Value::dict([
            ("TSK", Value::Bin(tsk.as_bytes().to_vec())),
            ("TSKExpiresAt", Value::Time(Time(expires_at))),
        ])));
        let encrypted = session.key.encrypt_oaep(&secret).map_err(internal)?;
        let answer = Value::dict([
            ("clientNonce", Value::Bin(client_nonce.to_vec())),
            ("encryptedResult", Value::Bin(encrypted)),
        ]);
        let mut signed = None;
        self.offload(&mut || {
            signed = Some(SignedRecord::pack(
                &self.service_key,
                Some(client_nonce),
                &answer,
            ))
        });
        let signed = signed
            .ok_or_else(|| internal("signing did not run"))?
            .map_err(internal)?;
        lock(&self.live).insert(
            session.id.clone(),
            Live {
                keys: Arc::new(LiveKeys {
                    tsk,
                    address_text: session.address.to_string(),
                    address: session.address,
                    test: session.test,
                }),
                tsk_expires_at: expires_at,
                session_expires_at: session.expires_at,
                seen: HashSet::new(),
            },
        );
        Ok(Value::dict([("signedEncryptedResult", Value::Bin(signed))]))
    }

    fn get_service_contract(&self, args: &Value) -> Result<Value, RemoteError> {
        let Some(contract) = self.service_contract() else {
            return Err(RemoteError::new(
                codes::UNKNOWN_COMMAND,
                "this service has no service contract (Parsec 1.1 only)",
            ));
        };
        let known = args.get("knownHashId");
        let known = known
            .and_then(Value::as_str)
            .and_then(crate::hash_id::from_base64)
            .or_else(|| known.and_then(Value::as_bytes).map(<[u8]>::to_vec));
        if known.as_deref() == Some(&contract.hash_id[..]) {
            return Ok(Value::dict::<&str>([]));
        }
        Ok(Value::dict([(
            "serviceContract",
            Value::Bin(contract.bytes.clone()),
        )]))
    }

    /// `cmd`: the encrypted tunnel (spec §5.3). Tunnel errors go in the plain answer; the
    /// command's own answer travels encrypted.
    fn tunnel(&self, args: &Value, info: RequestInfo) -> Result<Value, RemoteError> {
        let now = info.now;
        let session_id = str_arg(args, "authToken")?;
        let params = bin_arg(args, "params")?;
        let (plain, keys) = {
            let mut live = lock(&self.live);
            let Some(state) = live.get_mut(session_id) else {
                drop(live);
                // No TSK in memory: tell apart a session without one from no session. That
                // reads the store, so it counts as a guest request (a made-up authToken costs
                // the sender nothing).
                if !self.limiter.allow(info.peer, info.now_ms) {
                    return Err(too_many_requests());
                }
                return match self.store.get(session_id, now).map_err(internal)? {
                    Some(_) => Err(missing_tsk()),
                    None => Err(session_not_found()),
                };
            };
            if state.session_expires_at <= now {
                live.remove(session_id);
                return Err(session_not_found());
            }
            if state.tsk_expires_at <= now
                || state.seen.len() >= 2 * self.settings.max_messages_per_tsk
            {
                live.remove(session_id);
                return Err(missing_tsk());
            }
            // The command in the clear: key material or a plaintext, wiped when dropped.
            let plain = state
                .keys
                .tsk
                .decrypt(params)
                .map(Zeroizing::new)
                .map_err(|_| {
                    RemoteError::new(
                        codes::UNKNOWN_EXCEPTION,
                        "HMAC authentication failed, data corrupted",
                    )
                })?;
            // Only authenticated messages enter the replay set, so nobody without the TSK can
            // fill it. The EtA tag does not cover the IV (spec §4.7): a captured message
            // resent with another IV still authenticates, so the tag is remembered as well.
            let iv = *eta::iv_of(params).ok_or_else(|| internal("short ciphertext"))?;
            let tag: [u8; 16] = params[params.len() - eta::TAG_LEN..][..16]
                .try_into()
                .map_err(internal)?;
            let fresh_iv = state.seen.insert(Seen::Iv(iv));
            let fresh_tag = state.seen.insert(Seen::Tag(tag));
            if !(fresh_iv && fresh_tag) {
                return Err(RemoteError::new(
                    codes::REPLAYED_MESSAGE,
                    "this message was already received in this session",
                ));
            }
            (plain, state.keys.clone())
        };
        let caller = Caller {
            session_id,
            address: &keys.address,
            address_text: &keys.address_text,
            test: keys.test,
        };
        // The answer in the clear may carry exported keys or plaintexts: wiped once encrypted.
        let mut answer = self.session_command(&caller, &plain, now);
        let mut bytes = Zeroizing::new(message::encode_answer(&answer));
        if let Ok(value) = &mut answer {
            zeroize::Zeroize::zeroize(value);
        }
        if bytes.len() + eta::OVERHEAD > self.settings.max_message_size {
            bytes = Zeroizing::new(message::encode_answer(&Err(too_large(
                "answer",
                bytes.len(),
            ))));
        }
        let encrypted = keys.tsk.encrypt(&bytes).map_err(internal)?;
        Ok(Value::dict([("result", Value::Bin(encrypted))]))
    }

    fn session_command(
        &self,
        caller: &Caller<'_>,
        plain: &[u8],
        now: u64,
    ) -> Result<Value, RemoteError> {
        let session_id = caller.session_id;
        let call = parsec_boss::decode_with(plain, self.session_limits(plain.len()))
            .map_err(|e| RemoteError::new(codes::BAD_REQUEST, format!("not a BOSS call: {e}")))?;
        let (cmd, args) = message::decode_call(call)?;
        match cmd.as_str() {
            "getSessionInfo" => {
                let session = self
                    .store
                    .get(session_id, now)
                    .map_err(internal)?
                    .ok_or_else(session_not_found)?;
                Ok(Value::dict([
                    ("expiresAt", Value::Time(Time(session.expires_at))),
                    ("isTest", Value::Bool(session.test)),
                    ("SCKAddress", Value::Text(session.address.to_string())),
                ]))
            }
            // The seed authors' services offer these two; their client makes a new TSK by
            // itself on the next call. The answer still travels under the dropped TSK.
            "logout" => {
                lock(&self.live).remove(session_id);
                Ok(Value::dict::<&str>([]))
            }
            "sessionDropTSK" if caller.test => {
                lock(&self.live).remove(session_id);
                Ok(Value::dict::<&str>([]))
            }
            "sessionDropTSK" => Err(RemoteError::new(
                codes::UNKNOWN_COMMAND,
                "`sessionDropTSK` is offered to test-mode sessions only",
            )),
            "destroySession" => {
                lock(&self.live).remove(session_id);
                lock(&self.nonces).forget(session_id);
                self.store.delete(session_id).map_err(internal)?;
                Ok(Value::dict::<&str>([]))
            }
            _ if self.commands.is_heavy(&cmd) => {
                let mut answer = None;
                let mut args = Some(args);
                self.offload(&mut || {
                    if let Some(args) = args.take() {
                        answer = Some(self.commands.call(caller, &cmd, args));
                    }
                });
                answer.unwrap_or_else(|| Err(internal("the command did not run")))
            }
            _ => self.commands.call(caller, &cmd, args),
        }
    }

    /// Forgets expired sessions, TSKs and SCK requests. Call it now and then (the service does
    /// every minute).
    pub fn purge(&self, now: u64) -> Result<usize, StoreError> {
        lock(&self.pending).purge(now);
        lock(&self.nonces).purge(now);
        lock(&self.live).retain(|_, l| l.tsk_expires_at > now && l.session_expires_at > now);
        self.store.purge_expired(now)
    }

    /// Drops a session's TSK, as if it had expired (for tests and administration).
    pub fn drop_tsk(&self, session_id: &str) -> bool {
        lock(&self.live).remove(session_id).is_some()
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
