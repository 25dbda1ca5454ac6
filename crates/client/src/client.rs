//! The client: one API over the Unix socket and over Parsec.1.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use parsec_psa::glob::MAX_PATTERN_LEN;
use parsec_psa::ops::CheckType;
use parsec_psa::ops::{self, KeyInfo};
use parsec_psa::{KeyAttributes, OpResult, Operation};
use parsec_wire::{Opcode, ProviderId, Request, RequestHeader, Status};
use zeroize::{Zeroize, Zeroizing};

use crate::auth::{Auth, TokenSource};
use crate::endpoint::Endpoint;
use crate::remote::{Remote, RemoteOptions};
use crate::unix::UnixTransport;
use crate::Error;

/// Time allowed for a call, by default (upstream's client: 60 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest answer body read, by default (the service's own default limit is 1 MiB; a service
/// configured for more is served up to this).
pub const DEFAULT_MAX_ANSWER_LEN: usize = 16 << 20;

/// How long a lone caller polls for its answer before sleeping, by default (see
/// [`Builder::spin`]).
pub const DEFAULT_SPIN: Duration = Duration::from_micros(100);

pub(crate) enum Transport {
    Unix(UnixTransport),
    Remote(Box<Remote>),
}

/// A client of the Parsec service, local (wire protocol 1.0 on a Unix socket) or remote (a
/// Parsec.1 session), with the same calls either way.
///
/// It is `Send + Sync`: share one between threads (`Arc<Client>`); on the Unix socket each
/// concurrent call takes a connection of its own and connections are kept for the next calls.
///
/// The authenticator and the provider are found on the first call that needs them (one
/// request each), unless the [`Builder`] names them.
pub struct Client {
    transport: Transport,
    app_name: Option<String>,
    tokens: Vec<Arc<dyn TokenSource>>,
    auth: OnceLock<Auth>,
    provider: OnceLock<ProviderId>,
    timeout: Option<Duration>,
    max_answer_len: usize,
    /// Keys' providers and attributes, as last listed (see [`Client::key_info`]).
    keys: Mutex<HashMap<String, KeyInfo>>,
}

/// Options of a [`Client`]; [`Client::builder`] starts with the defaults.
#[derive(Default)]
pub struct Builder {
    endpoint: Option<Endpoint>,
    app_name: Option<String>,
    auth: Option<Auth>,
    tokens: Vec<Arc<dyn TokenSource>>,
    provider: Option<ProviderId>,
    timeout: Option<Option<Duration>>,
    max_answer_len: Option<usize>,
    spin: Option<Duration>,
    remote: RemoteOptions,
}

impl Builder {
    /// The service's endpoint (default: [`Endpoint::from_env`]).
    pub fn endpoint(mut self, endpoint: Endpoint) -> Builder {
        self.endpoint = Some(endpoint);
        self
    }

    /// The application name sent under Direct authentication (the service uses Direct only
    /// when it lists it before the authenticators this client can use without a name).
    pub fn app_name(mut self, name: impl Into<String>) -> Builder {
        self.app_name = Some(name.into());
        self
    }

    /// Authenticate this way, without asking the service which authenticators it has.
    pub fn auth(mut self, auth: Auth) -> Builder {
        self.auth = Some(auth);
        self
    }

    /// A token source, used when the service lists an authenticator of its auth type (the
    /// first given of each type). Without one, the environment's are used
    /// ([`tokens::from_env`](crate::tokens::from_env)).
    pub fn token_source(mut self, source: Arc<dyn TokenSource>) -> Builder {
        self.tokens.push(source);
        self
    }

    /// The provider of crypto operations (default: the service's first crypto provider).
    pub fn provider(mut self, provider: ProviderId) -> Builder {
        self.provider = Some(provider);
        self
    }

    /// Time allowed for each read and write of a call (`None`: wait without end; default
    /// [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Builder {
        self.timeout = Some(timeout);
        self
    }

    /// Largest answer body accepted from the service (default [`DEFAULT_MAX_ANSWER_LEN`]); a
    /// larger one is refused before it is read.
    pub fn max_answer_len(mut self, bytes: usize) -> Builder {
        self.max_answer_len = Some(bytes);
        self
    }

    /// How long a call polls for its answer before it sleeps (default [`DEFAULT_SPIN`];
    /// zero: never). Only a call with no other call of this client in flight polls, and it
    /// yields the CPU between polls. Sleeping costs a scheduler wake-up when the answer comes,
    /// which on a virtual machine can take longer than the service's answer itself.
    pub fn spin(mut self, spin: Duration) -> Builder {
        self.spin = Some(spin);
        self
    }

    /// Parsec.1: the service key addresses trusted (default: `PARSEC1_SERVICE_KEY`).
    pub fn service_keys(mut self, keys: Vec<parsec1::KeyAddress>) -> Builder {
        self.remote.service_keys = Some(keys);
        self
    }

    /// Parsec.1: the file that keeps the session between runs (default: under the user's
    /// data directory, one per endpoint).
    pub fn session_file(mut self, path: impl Into<PathBuf>) -> Builder {
        self.remote.session_file = Some(path.into());
        self
    }

    /// Parsec.1 over `https://`: trust the certificates of this PEM file besides the system's
    /// roots (default: the file named by `PARSEC1_TLS_CA`, if any).
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> Builder {
        self.remote.tls_ca = Some(path.into());
        self
    }

    /// Parsec.1: keep the session in memory only (it ends with the client).
    pub fn session_in_memory(mut self) -> Builder {
        self.remote.in_memory = true;
        self
    }

    /// Parsec 1.2: trust the service through its service contract of this origin (the root's
    /// HashId; default: the Base64 HashId in `PARSEC1_SERVICE_CONTRACT`).
    pub fn service_contract(mut self, origin: Vec<u8>) -> Builder {
        self.remote.contract_origin = Some(origin);
        self
    }

    /// Parsec 1.2/1.3: the Universa nodes to ask (default: the file named by
    /// `UNIVERSA_TOPOLOGY`, else the built-in mainnet list).
    pub fn universa_topology(mut self, topology: crate::universa::Topology) -> Builder {
        self.remote.topology = Some(topology);
        self
    }

    /// Parsec 1.2/1.3: how the Universa network is asked (trust level, timeouts; default:
    /// [`crate::universa::NetworkOptions::from_env`]).
    pub fn universa_options(mut self, options: crate::universa::NetworkOptions) -> Builder {
        self.remote.network = Some(options);
        self
    }

    /// The client. Sends nothing yet (except for a UNS2 name endpoint, which is looked up on
    /// the Universa network first); fails on bad options (endpoint, trusted keys).
    pub fn build(self) -> Result<Client, Error> {
        let endpoint = match self.endpoint {
            Some(e) => e,
            None => Endpoint::from_env()?,
        };
        let timeout = self.timeout.unwrap_or(Some(DEFAULT_TIMEOUT));
        let transport = match endpoint {
            Endpoint::Unix(path) => {
                Transport::Unix(UnixTransport::new(path, self.spin.unwrap_or(DEFAULT_SPIN)))
            }
            Endpoint::Parsec1(url) => {
                Transport::Remote(Box::new(Remote::new(&url, self.remote, timeout)?))
            }
            Endpoint::Name(name) => {
                Transport::Remote(Box::new(Remote::by_name(&name, self.remote, timeout)?))
            }
        };
        let auth = OnceLock::new();
        if let Some(a) = self.auth {
            let _ = auth.set(a);
        } else if matches!(transport, Transport::Remote(_)) {
            // The session is the identity.
            let _ = auth.set(Auth::None);
        }
        let provider = OnceLock::new();
        if let Some(p) = self.provider {
            let _ = provider.set(p);
        }
        Ok(Client {
            transport,
            app_name: self.app_name,
            tokens: if self.tokens.is_empty() {
                crate::tokens::from_env()
            } else {
                self.tokens
            },
            auth,
            provider,
            timeout,
            max_answer_len: self.max_answer_len.unwrap_or(DEFAULT_MAX_ANSWER_LEN),
            keys: Mutex::new(HashMap::new()),
        })
    }
}

impl Client {
    /// A client with the defaults: the endpoint from `PARSEC_SERVICE_ENDPOINT`, the first
    /// authenticator of the service this client can use, its first crypto provider.
    pub fn new() -> Result<Client, Error> {
        Builder::default().build()
    }

    /// Options for a client.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use parsec_rs_client::{Client, Endpoint};
    ///
    /// let client = Client::builder()
    ///     .endpoint(Endpoint::parse("unix:/run/parsec/parsec.sock")?)
    ///     .app_name("my-app")
    ///     .timeout(Some(Duration::from_secs(5)))
    ///     .build()?;
    /// # Ok::<(), parsec_rs_client::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Whether this client talks to a remote service over Parsec.1.
    pub fn is_remote(&self) -> bool {
        matches!(self.transport, Transport::Remote(_))
    }

    /// Whether connections are kept between calls (false against a service that closes them
    /// after each answer, as upstream's does, or remotely).
    pub fn keeps_connections(&self) -> bool {
        match &self.transport {
            Transport::Unix(t) => t.keeps_connections(),
            Transport::Remote(_) => true,
        }
    }

    /// The identity the client sends (asks the service for its authenticators the first time).
    pub fn auth(&self) -> Result<&Auth, Error> {
        if let Some(auth) = self.auth.get() {
            return Ok(auth);
        }
        let offered = self.list_authenticators()?;
        let chosen = Auth::choose(&offered, self.app_name.as_deref(), &self.tokens)?;
        Ok(self.auth.get_or_init(|| chosen))
    }

    /// The provider of crypto operations (asks the service for its providers the first
    /// time; remotely, `None` lets the service choose).
    pub fn provider(&self) -> Result<Option<ProviderId>, Error> {
        if let Some(p) = self.provider.get() {
            return Ok(Some(*p));
        }
        if self.is_remote() {
            return Ok(None);
        }
        let first = self
            .list_providers()?
            .into_iter()
            .filter_map(|p| ProviderId::from_u8(p.id))
            .find(|p| *p != ProviderId::Core)
            .ok_or_else(|| Error::NoProvider("do crypto operations (it lists none)".into()))?;
        Ok(Some(*self.provider.get_or_init(|| first)))
    }

    /// The first crypto provider whose CanDoCrypto accepts these attributes for `check`.
    pub fn provider_for(
        &self,
        check: CheckType,
        attributes: KeyAttributes,
    ) -> Result<ProviderId, Error> {
        for info in self.list_providers()? {
            let Some(id) = ProviderId::from_u8(info.id).filter(|p| *p != ProviderId::Core) else {
                continue;
            };
            let op = Operation::CanDoCrypto(ops::CanDoCrypto {
                check_type: check,
                attributes,
            });
            match self.call_on(Some(id), &op) {
                Ok(_) => return Ok(id),
                Err(Error::Service { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::NoProvider(format!(
            "{check:?} a key of {attributes:?}"
        )))
    }

    /// Runs one operation on the client's provider (core operations go to the core provider).
    pub fn call(&self, op: &Operation) -> Result<OpResult, Error> {
        let provider = if op.opcode().is_core() {
            Some(ProviderId::Core)
        } else {
            self.provider()?
        };
        self.call_on(provider, op)
    }

    /// Runs one operation on `provider` (`None`: the service's choice, remotely).
    pub fn call_on(&self, provider: Option<ProviderId>, op: &Operation) -> Result<OpResult, Error> {
        let opcode = op.opcode();
        match &self.transport {
            Transport::Remote(remote) => {
                if opcode.is_admin() {
                    return Err(Error::NotRemote(opcode));
                }
                let provider = provider.filter(|p| *p != ProviderId::Core);
                remote.call(provider, op)
            }
            Transport::Unix(unix) => {
                let provider = provider.unwrap_or(ProviderId::Core);
                let auth = if opcode.runs_without_identity() && self.auth.get().is_none() {
                    // Ping and the listings need no identity: no need to find one first.
                    Auth::None
                } else {
                    self.auth()?.clone()
                };
                let mut request = Request {
                    header: RequestHeader {
                        provider,
                        session: 0,
                        auth_type: auth.auth_type(),
                        opcode,
                    },
                    body: parsec_psa::encode_operation(op),
                    auth: auth.bytes()?.to_vec(),
                };
                let bytes = request.encode().map(Zeroizing::new);
                request.body.zeroize();
                request.auth.zeroize();
                let bytes = bytes.map_err(|_| {
                    Error::InvalidInput(format!("{}: request too large", opcode.remote_name()))
                })?;
                let response = unix.round_trip(&bytes, self.timeout, self.max_answer_len)?;
                let header = response.header;
                let body = Zeroizing::new(response.body);
                if header.status != Status::Success {
                    return Err(Error::Service {
                        opcode,
                        status: header.status,
                    });
                }
                if header.opcode != opcode.to_u32() || header.provider != provider as u8 {
                    return Err(Error::Protocol(format!(
                        "asked {} of provider {}, answered opcode {} of provider {}",
                        opcode.remote_name(),
                        provider as u8,
                        header.opcode,
                        header.provider
                    )));
                }
                parsec_psa::decode_result(opcode, &body)
                    .map_err(|e| Error::Protocol(format!("{}: {e}", opcode.remote_name())))
            }
        }
    }

    /// The key `name` of this application on the client's provider: its attributes as
    /// ListKeys reports them (kept for later calls; refreshed by [`Client::forget_key`]).
    pub fn key_info(&self, name: &str) -> Result<KeyInfo, Error> {
        if let Some(info) = lock(&self.keys).get(name) {
            return Ok(info.clone());
        }
        let provider = self.provider()?;
        // A name whose escaped form is longer than a pattern may be is looked for in the
        // whole list.
        let pattern = Some(escape_pattern(name)).filter(|p| p.len() <= MAX_PATTERN_LEN);
        let found = self
            .list_keys_matching(pattern.as_deref())?
            .into_iter()
            .find(|k| k.name == name && provider.is_none_or(|p| k.provider_id == p as u8))
            .ok_or(Error::Service {
                opcode: Opcode::ListKeys,
                status: Status::PsaErrorDoesNotExist,
            })?;
        let mut keys = lock(&self.keys);
        if keys.len() >= 1024 {
            keys.clear();
        }
        keys.insert(name.to_string(), found.clone());
        Ok(found)
    }

    /// Forgets what [`Client::key_info`] kept of `name` (after the key changed elsewhere).
    pub fn forget_key(&self, name: &str) {
        lock(&self.keys).remove(name);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A ListKeys pattern that matches `name` only (`*`, `?` and `\` made literal).
pub fn escape_pattern(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_metacharacters() {
        assert_eq!(escape_pattern("app/k1"), "app/k1");
        assert_eq!(escape_pattern("a*b?c\\d"), "a\\*b\\?c\\\\d");
    }
}
