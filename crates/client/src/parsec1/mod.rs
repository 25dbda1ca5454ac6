//! Parsec.1 sessions over HTTP (spec parsec1.md §5.5).
//!
//! A [`Session`] connects lazily on the first call:
//! 1. stored TSK and session id: check them with `getSessionInfo`;
//! 2. stored SCK: make a new TSK (`createTSK`);
//! 3. otherwise: a new RSA session key, `requestSCK`, proof of work, `registerSCK`, then 2.
//!
//! A call that fails with `parsec_missing_tsk`, `parsec_session_not_found` or an HMAC error
//! makes a new TSK (or session) and is retried once. When the service knows none of the
//! trusted service keys, the key source is asked to refresh once; if that does not help, the
//! call fails with [`Error::UnknownServiceKey`] (uparsecjs loops forever there).

mod http;
mod storage;

use std::future::Future;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use parsec1::client::{self as p1, ClientError};
use parsec1::message::codes;
use parsec1::{KeyAddress, PrivateKey, RemoteError, SymmetricKey};
use parsec_boss::Value;
use parsec_psa::{OpResult, Operation};
use parsec_wire::ProviderId;
use serde::{de::DeserializeOwned, Serialize};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

pub use http::{HttpTransport, TransportError};
pub use storage::{FileStorage, MemoryStorage, Storage, PBKDF2_ROUNDS};

/// Storage key of the session id, as uparsecjs names it.
pub const SID: &str = ".p1.SID";
/// Storage key of the TSK (the session's symmetric key, Base64), as uparsecjs names it.
pub const TSK: &str = ".p1.TSK";
/// Storage key of the SCK (the session's RSA private key, packed, Base64), as uparsecjs
/// names it.
pub const SCK: &str = ".p1.SCK";
/// Storage key of the address of the service key that made the stored TSK: a stored TSK is
/// resumed only while the key source still trusts that key.
pub const SIGNER: &str = ".p1.TSK.signer";

/// The source of the service keys a client trusts (Parsec 1.1: a fixed list; 1.2/1.3: from
/// a service contract). `refresh` asks for a fresh list after the service refused all.
pub trait ServiceKeys: Send + Sync {
    /// The addresses of the trusted service keys; `refresh` is true when the service refused
    /// the last list, so a source that can fetch a newer one should.
    fn addresses(
        &self,
        refresh: bool,
    ) -> impl Future<Output = Result<Vec<KeyAddress>, Error>> + Send;
}

/// Parsec 1.1: addresses known in advance.
#[derive(Debug, Clone)]
pub struct FixedServiceKeys(pub Vec<KeyAddress>);

impl ServiceKeys for FixedServiceKeys {
    async fn addresses(&self, _refresh: bool) -> Result<Vec<KeyAddress>, Error> {
        Ok(self.0.clone())
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command ran and answered with an error (an application error, or a PSA status as
    /// `psa_error_…`).
    #[error("remote error {}: {}", .0.code, .0.text)]
    Remote(RemoteError),
    /// No answer, or an answer that is not BOSS.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The service refused our trusted keys, or answered with another key, even after the key
    /// source was refreshed.
    #[error("the service does not have any of the trusted service keys ({0})")]
    UnknownServiceKey(String),
    /// The protocol failed in a way retrying did not fix.
    #[error("Parsec.1: {0}")]
    Protocol(#[from] ClientError),
    /// A command sent to a node that gave no answer, then to another that refused it: it may
    /// or may not have run (what, and why).
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(String),
    /// The session state could not be read or written.
    #[error("session storage: {0}")]
    Storage(#[from] std::io::Error),
    /// A Parsec.1 primitive failed (a key, a signature, EtA, RSA-OAEP, randomness).
    #[error(transparent)]
    Crypto(#[from] parsec1::Error),
    /// Arguments or result that do not fit the types asked for.
    #[error("BOSS: {0}")]
    Boss(#[from] parsec_boss::Error),
    /// An operation's result that does not decode as its contract says.
    #[error("result: {0}")]
    Result(#[from] parsec_psa::DecodeError),
    /// The service could not be trusted through the Universa network (Parsec 1.2/1.3).
    #[error("not trusted: {0}")]
    Trust(#[from] crate::universa::TrustError),
}

/// Options of a [`Session`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Bits of a new session key (uparsecjs: 4096).
    pub key_bits: usize,
    /// Ask the service for a test-mode session.
    pub test_mode: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            key_bits: 4096,
            test_mode: false,
        }
    }
}

struct Live {
    session_id: String,
    tsk: SymmetricKey,
}

/// A Parsec.1 session with one service. Its calls are made one at a time (a call waits for the
/// one before it); use several sessions for concurrent calls.
pub struct Session<S, K> {
    transport: HttpTransport,
    storage: S,
    keys: K,
    options: Options,
    live: Mutex<Option<Live>>,
}

impl<S: Storage, K: ServiceKeys> Session<S, K> {
    /// A session with the service at `transport`, keeping its state in `storage` and trusting
    /// the service keys of `keys`. Sends nothing yet: the first call connects.
    ///
    /// ```no_run
    /// use parsec_rs_client::parsec1::{
    ///     FixedServiceKeys, HttpTransport, MemoryStorage, Options, Session,
    /// };
    ///
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let keys = parsec_rs_client::parse_service_keys(&std::env::var("PARSEC1_SERVICE_KEY")?)?;
    /// let session = Session::new(
    ///     HttpTransport::new("http://127.0.0.1:8373/api/p1")?,
    ///     MemoryStorage::new(),
    ///     FixedServiceKeys(keys),
    ///     Options::default(),
    /// );
    /// let info = session.guest("info", parsec_boss::Value::dict::<&str>([])).await?;
    /// println!("{info:?}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(transport: HttpTransport, storage: S, keys: K, options: Options) -> Self {
        Session {
            transport,
            storage,
            keys,
            options,
            live: Mutex::new(None),
        }
    }

    /// Where the session keeps its state.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Sends a guest command (no session), e.g. `info`.
    pub async fn guest(&self, cmd: &str, args: Value) -> Result<Value, Error> {
        let answer = self.post(&parsec1::message::encode_call(cmd, args)).await?;
        parsec1::message::decode_answer(&answer)
            .map_err(|e| Error::Protocol(ClientError::Malformed(e.to_string())))?
            .map_err(Error::Remote)
    }

    /// Runs a session command with typed arguments and result.
    pub async fn call<A: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        cmd: &str,
        args: &A,
    ) -> Result<R, Error> {
        let result = self.call_value(cmd, parsec_boss::to_value(args)?).await?;
        Ok(parsec_boss::from_value(&result)?)
    }

    /// Runs one of the service's operations (`psaSignHash`, …) on the service's default
    /// provider: the arguments and result are the operation's contract, as the service's
    /// socket takes them.
    pub async fn operation(&self, op: &Operation) -> Result<OpResult, Error> {
        self.operation_on(op, None).await
    }

    /// Runs one of the service's operations on `provider` (`None`: the service's default).
    pub async fn operation_on(
        &self,
        op: &Operation,
        provider: Option<ProviderId>,
    ) -> Result<OpResult, Error> {
        let mut ser = parsec_boss::Serializer::new(parsec_boss::EncodeOptions::default());
        parsec_psa::serialize_operation(op, &mut ser)?;
        let mut args = parsec_boss::decode(&Zeroizing::new(ser.into_inner()))?;
        if let (Some(provider), Value::Dict(pairs)) = (provider, &mut args) {
            pairs.push((
                Value::Text("provider".into()),
                Value::Int(i128::from(provider as u8)),
            ));
        }
        let result = Zeroizing::new(self.call_value(op.opcode().remote_name(), args).await?);
        let bytes = Zeroizing::new(parsec_boss::encode(&result)?);
        let mut de = parsec_boss::Deserializer::new(&bytes)?;
        Ok(parsec_psa::deserialize_result(op.opcode(), &mut de)?)
    }

    /// Runs a session command; connects first when needed.
    pub async fn call_value(&self, cmd: &str, args: Value) -> Result<Value, Error> {
        // The arguments may carry key material or a plaintext: wiped on every path.
        let args = Zeroizing::new(args);
        let mut live = self.live.lock().await;
        // One retry after re-establishing: a second tunnel failure in a row is not a stale TSK.
        for attempt in 0..2 {
            if live.is_none() {
                *live = Some(self.establish().await?);
            }
            let state = live.as_ref().expect("established above");
            let sealed = p1::seal(&state.tsk, &state.session_id, cmd, (*args).clone())?;
            let (answer, resent) = self.transport.send_tracked(&sealed).await?;
            match p1::open(&state.tsk, &answer) {
                Ok(inner) => return inner.map_err(Error::Remote),
                // Sent again after a lost answer, and refused: the first node may have run it,
                // so it is not run again under a new TSK.
                Err(e) if resent => {
                    return Err(Error::OutcomeUnknown(format!(
                        "`{cmd}`: the node it was sent to gave no answer, and another refused \
                         it ({e}): it may or may not have run"
                    )))
                }
                Err(e) if e.needs_new_tsk() && attempt == 0 => {
                    *live = None;
                    self.storage.remove(TSK)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Ends the session on the service (errors ignored, as uparsecjs does) and forgets it.
    pub async fn destroy(&self) -> Result<(), Error> {
        let _ = self
            .call_value("destroySession", Value::dict::<&str>([]))
            .await;
        *self.live.lock().await = None;
        for key in [TSK, SIGNER, SID, SCK] {
            self.storage.remove(key)?;
        }
        Ok(())
    }

    async fn post(&self, block: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(self.transport.send(block).await?)
    }

    /// Steps 2–4 of spec §5.5.
    async fn establish(&self) -> Result<Live, Error> {
        // 2. Resume a stored TSK, made by a key the source still trusts (a key dropped from
        // the list, or rotated out of a service contract, no longer serves).
        if let (Some(sid), Some(tsk)) = (self.storage.get(SID), self.storage.get(TSK)) {
            let signer = self
                .storage
                .get(SIGNER)
                .and_then(|text| KeyAddress::parse(&text).ok());
            let trusted = match signer {
                Some(signer) => self.keys.addresses(false).await?.contains(&signer),
                None => false,
            };
            if let (true, Some(tsk)) = (trusted, decode_tsk(&tsk)) {
                let sealed = p1::seal(&tsk, &sid, "getSessionInfo", Value::dict::<&str>([]))?;
                match p1::open(&tsk, &self.post(&sealed).await?) {
                    Ok(Ok(_)) => {
                        return Ok(Live {
                            session_id: sid,
                            tsk,
                        })
                    }
                    Ok(Err(_)) | Err(ClientError::Remote(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            self.storage.remove(TSK)?;
        }
        // 3. A new TSK for the stored session key.
        let stored = self.storage.get(SCK).and_then(|text| decode_sck(&text));
        if let (Some(sid), Some(sck)) = (self.storage.get(SID), &stored) {
            match self.new_tsk(sck, &sid).await {
                Ok(live) => return Ok(live),
                // The service lost the session: register the same key again (step 4), which
                // keeps the remote application's identity, and so its keys.
                Err(Error::Protocol(ClientError::Remote(e)))
                    if e.code == codes::SESSION_NOT_FOUND =>
                {
                    self.storage.remove(SID)?;
                }
                // Anything else (a busy service, a network error) is reported; an
                // unauthenticated error answer must never cost the session key.
                Err(e) => return Err(e),
            }
        }
        // 4. A session for the stored session key, else for a new one.
        let sck = match stored {
            Some(sck) => sck,
            None => {
                let bits = self.options.key_bits;
                tokio::task::spawn_blocking(move || PrivateKey::generate(bits))
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))??
            }
        };
        let (state, call) = p1::register(sck, self.options.test_mode)?;
        let answer = self.post(&call).await?;
        // The proof of work is CPU time: off the runtime's threads.
        let (state, call) = tokio::task::spawn_blocking(move || state.receive(&answer))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))??;
        let registered = state.receive(&self.post(&call).await?)?;
        self.storage
            .set(SCK, &BASE64.encode(&*registered.sck.pack()))?;
        self.storage.set(SID, &registered.session_id)?;
        self.new_tsk(&registered.sck, &registered.session_id).await
    }

    /// `createTSK`, asking the key source to refresh once if the service refuses our keys.
    async fn new_tsk(&self, sck: &PrivateKey, sid: &str) -> Result<Live, Error> {
        let mut refused = String::new();
        for refresh in [false, true] {
            let trusted = self.keys.addresses(refresh).await?;
            let (state, call) = p1::create_tsk(sck, sid, &trusted)?;
            match state.receive(&self.post(&call).await?) {
                Ok(tsk) => {
                    self.storage.set(TSK, &BASE64.encode(tsk.key.as_bytes()))?;
                    self.storage.set(SIGNER, &tsk.service_address.to_string())?;
                    return Ok(Live {
                        session_id: sid.to_string(),
                        tsk: tsk.key,
                    });
                }
                Err(e) if e.is_unknown_service_key() => refused = e.to_string(),
                Err(ClientError::UntrustedServiceKey(a)) => {
                    refused = format!("the service signed with {a}")
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::UnknownServiceKey(refused))
    }
}

/// The TSK as stored under [`TSK`] (Base64).
pub fn decode_tsk(text: &str) -> Option<SymmetricKey> {
    let bytes = Zeroizing::new(BASE64.decode(text).ok()?);
    SymmetricKey::from_slice(&bytes).ok()
}

/// The session key as stored under [`SCK`] (Base64 of the packed private key).
pub fn decode_sck(text: &str) -> Option<PrivateKey> {
    let bytes = Zeroizing::new(BASE64.decode(text).ok()?);
    PrivateKey::unpack(&bytes).ok()
}
