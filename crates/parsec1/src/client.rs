//! The client side of the handshake and the tunnel (spec §5.3, §5.5), without I/O.
//!
//! Each step is a state named after the answer it waits for; `receive` consumes it, so a state
//! cannot be used twice. The caller sends the bytes each step returns to the service's URL and
//! feeds the answer body to the next state:
//!
//! ```text
//! register(sck) ─requestSCK─▶ AwaitingPowTask ─registerSCK─▶ AwaitingSessionId ─▶ Registered
//! create_tsk(..) ─createTSK─▶ AwaitingTsk ─▶ Tsk
//! seal(tsk, ..)  ─cmd──────▶ open(tsk, answer)
//! ```

use parsec_boss::{Time, Value};

use crate::message::{self, codes, RemoteError};
use crate::{pow, Error, KeyAddress, PrivateKey, SignedRecord, SymmetricKey};

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The service answered with an error.
    #[error("the service answered {0}")]
    Remote(RemoteError),
    /// The answer is not what the protocol says (not BOSS, a field missing): to the caller, the
    /// same as a network failure.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The `createTSK` answer is not signed by any of the trusted service keys.
    #[error("the service key {0} is not one of the trusted service keys")]
    UntrustedServiceKey(KeyAddress),
    /// The `createTSK` answer is for another request (client nonce differs).
    #[error("the createTSK answer does not carry our nonce")]
    NonceMismatch,
    /// The proof of work asked for is beyond what this client does.
    #[error("the service asks for a proof of work of {0} bits")]
    PowTooHard(u32),
    /// A cryptographic step failed (a bad signature, an undecryptable TSK, a bad key).
    #[error(transparent)]
    Crypto(#[from] Error),
}

impl ClientError {
    /// The errors after which a client drops its TSK, makes a new one and retries the call
    /// (spec §5.5 step 5).
    pub fn needs_new_tsk(&self) -> bool {
        match self {
            ClientError::Remote(e) => {
                e.code == codes::MISSING_TSK
                    || e.code == codes::SESSION_NOT_FOUND
                    || (e.code == codes::UNKNOWN_EXCEPTION && e.text.contains("HMAC"))
            }
            _ => false,
        }
    }

    /// Whether the service refused all of our trusted service keys.
    pub fn is_unknown_service_key(&self) -> bool {
        matches!(self, ClientError::Remote(e) if e.code == codes::UNKNOWN_SERVICE_KEY)
    }
}

/// Hardest proof of work a client does (2^28 hashes is minutes; the services ask for 16–20).
pub const MAX_POW_LENGTH: u32 = 28;

fn malformed(what: &str) -> ClientError {
    ClientError::Malformed(what.to_string())
}

/// Reads an answer body: the result, or the service's error.
fn result_of(answer: &[u8]) -> Result<Value, ClientError> {
    message::decode_answer(answer)
        .map_err(|e| ClientError::Malformed(format!("not BOSS: {e}")))?
        .map_err(ClientError::Remote)
}

fn bin(v: &Value, name: &str) -> Result<Vec<u8>, ClientError> {
    v.get(name)
        .and_then(Value::as_bytes)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| ClientError::Malformed(format!("`{name}` missing or not binary")))
}

fn random_bytes(buf: &mut [u8]) -> Result<(), ClientError> {
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, buf).map_err(|_| Error::Random)?;
    Ok(())
}

/// Starts registering `sck` as a session key: returns the `requestSCK` call.
pub fn register(sck: PrivateKey, test_mode: bool) -> Result<(AwaitingPowTask, Vec<u8>), Error> {
    register_with_max_pow(sck, test_mode, MAX_POW_LENGTH)
}

/// Like [`register`], refusing a proof of work longer than `max_pow` bits (the `requestSCK`
/// answer is not authenticated: a client that cannot spare the CPU time, such as a web page's
/// main thread, asks for less than [`MAX_POW_LENGTH`]).
pub fn register_with_max_pow(
    sck: PrivateKey,
    test_mode: bool,
    max_pow: u32,
) -> Result<(AwaitingPowTask, Vec<u8>), Error> {
    let address = sck.public_key().long_address()?;
    let call = message::encode_call(
        "requestSCK",
        Value::dict([
            ("SCKAddress", Value::Bin(address.as_bytes().to_vec())),
            ("testMode", Value::Bool(test_mode)),
        ]),
    );
    Ok((
        AwaitingPowTask {
            sck,
            max_pow: max_pow.min(MAX_POW_LENGTH),
        },
        call,
    ))
}

/// Waits for the `requestSCK` answer.
pub struct AwaitingPowTask {
    sck: PrivateKey,
    max_pow: u32,
}

impl AwaitingPowTask {
    /// Solves the proof of work (CPU time: 2^length hashes on average) and returns the
    /// `registerSCK` call.
    pub fn receive(self, answer: &[u8]) -> Result<(AwaitingSessionId, Vec<u8>), ClientError> {
        let result = result_of(answer)?;
        let context = result
            .get("context")
            .cloned()
            .ok_or_else(|| malformed("`context` missing"))?;
        let task = result
            .get("POWTask")
            .ok_or_else(|| malformed("`POWTask` missing"))?;
        if task.get("type").and_then(Value::as_int) != Some(1) {
            return Err(malformed("POWTask is not of type 1"));
        }
        let length = task
            .get("length")
            .and_then(Value::as_int)
            .and_then(|l| u32::try_from(l).ok())
            .ok_or_else(|| malformed("POWTask `length` missing"))?;
        if length > self.max_pow {
            return Err(ClientError::PowTooHard(length));
        }
        let source = bin(task, "source")?;
        let solution = pow::solve(&source, length).ok_or(ClientError::PowTooHard(length))?;
        let record = SignedRecord::pack(
            &self.sck,
            None,
            &Value::dict([("POWResult", Value::Bin(solution.to_vec()))]),
        )?;
        let call = message::encode_call(
            "registerSCK",
            Value::dict([("context", context), ("signedRecord", Value::Bin(record))]),
        );
        Ok((AwaitingSessionId { sck: self.sck }, call))
    }
}

/// Waits for the `registerSCK` answer.
pub struct AwaitingSessionId {
    sck: PrivateKey,
}

impl AwaitingSessionId {
    pub fn receive(self, answer: &[u8]) -> Result<Registered, ClientError> {
        let result = result_of(answer)?;
        let session_id = result
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("`sessionId` missing or not a string"))?
            .to_string();
        Ok(Registered {
            sck: self.sck,
            session_id,
        })
    }
}

/// A registered session key and its session.
#[derive(Debug)]
pub struct Registered {
    pub sck: PrivateKey,
    pub session_id: String,
}

/// Starts making a TSK for a session: returns the `createTSK` call. `trusted` are the long
/// addresses of the service keys the client accepts.
pub fn create_tsk(
    sck: &PrivateKey,
    session_id: &str,
    trusted: &[KeyAddress],
) -> Result<(AwaitingTsk, Vec<u8>), ClientError> {
    let mut nonce = [0u8; 32];
    random_bytes(&mut nonce)?;
    let payload = Value::dict([
        ("clientNonce", Value::Bin(nonce.to_vec())),
        ("sessionId", Value::Text(session_id.to_string())),
        (
            "knownServiceKeys",
            Value::List(
                trusted
                    .iter()
                    .map(|a| Value::Bin(a.as_bytes().to_vec()))
                    .collect(),
            ),
        ),
    ]);
    let record = SignedRecord::pack(sck, Some(&nonce), &payload)?;
    let call = message::encode_call(
        "createTSK",
        Value::dict([("signedRecord", Value::Bin(record))]),
    );
    let state = AwaitingTsk {
        sck: sck.clone(),
        nonce,
        trusted: trusted.to_vec(),
    };
    Ok((state, call))
}

/// Waits for the `createTSK` answer.
pub struct AwaitingTsk {
    sck: PrivateKey,
    nonce: [u8; 32],
    trusted: Vec<KeyAddress>,
}

impl AwaitingTsk {
    /// Checks the answer as uparsecjs does (our nonce, a trusted signer) and decrypts the TSK.
    pub fn receive(self, answer: &[u8]) -> Result<Tsk, ClientError> {
        let result = result_of(answer)?;
        let record = SignedRecord::unpack(&bin(&result, "signedEncryptedResult")?)?;
        let signer = record.key().long_address()?;
        if !self.trusted.contains(&signer) {
            return Err(ClientError::UntrustedServiceKey(signer));
        }
        let payload = record.payload();
        if bin(payload, "clientNonce")? != self.nonce {
            return Err(ClientError::NonceMismatch);
        }
        let secret = self.sck.decrypt_oaep(&bin(payload, "encryptedResult")?)?;
        let secret = parsec_boss::decode(&secret).map_err(Error::from)?;
        let key = SymmetricKey::from_slice(&bin(&secret, "TSK")?)?;
        let expires_at = secret
            .get("TSKExpiresAt")
            .and_then(Value::as_time)
            .unwrap_or(Time(0));
        Ok(Tsk {
            key,
            expires_at,
            service_address: signer,
        })
    }
}

/// A session's transport key.
#[derive(Clone, Debug)]
pub struct Tsk {
    pub key: SymmetricKey,
    /// Informational: the service decides when it expires.
    pub expires_at: Time,
    /// The service key that signed it.
    pub service_address: KeyAddress,
}

/// The `cmd` call carrying `{cmd, args}` encrypted with the TSK.
pub fn seal(
    tsk: &SymmetricKey,
    session_id: &str,
    cmd: &str,
    args: Value,
) -> Result<Vec<u8>, Error> {
    // The arguments and their encoding may carry key material or a plaintext: wiped.
    let mut call = Value::dict([("cmd", Value::Text(cmd.to_string())), ("args", args)]);
    let plain = zeroize::Zeroizing::new(message::encode(&call));
    zeroize::Zeroize::zeroize(&mut call);
    let params = tsk.encrypt(&plain)?;
    Ok(message::encode_call(
        "cmd",
        Value::dict([
            ("authToken", Value::Text(session_id.to_string())),
            ("params", Value::Bin(params)),
        ]),
    ))
}

/// Reads a `cmd` answer. Outer `Err`: the tunnel failed (see [`ClientError::needs_new_tsk`]);
/// inner `Err`: the command's own error.
pub fn open(tsk: &SymmetricKey, answer: &[u8]) -> Result<Result<Value, RemoteError>, ClientError> {
    let outer = result_of(answer)?;
    // The answer is {result: {result: <sealed>}} (uparsecjs reads `answer.result` of the
    // envelope's result).
    let sealed = outer
        .get("result")
        .and_then(Value::as_bytes)
        .ok_or_else(|| malformed("`result` of cmd is not binary"))?;
    let plain = tsk.decrypt(sealed)?;
    let inner = message::decode_answer(&plain)
        .map_err(|e| ClientError::Malformed(format!("tunnelled answer is not BOSS: {e}")))?;
    Ok(inner)
}
