//! The service's operations as Parsec.1 session commands, derived from the same operation
//! table as the Unix socket: every opcode with a contract becomes a command named by
//! [`Opcode::remote_name`] (`psaSignHash`), whose arguments and result are its
//! protobuf contract's fields as a BOSS dictionary (lower camel case names; bytes as binary;
//! enumerations as their protobuf numbers). An optional argument `provider` (an id) picks the
//! provider; the default is `[parsec1] provider`, else the first crypto provider.
//!
//! The caller's identity is the long address of its session key, under an authenticator kind
//! of its own ([`crate::auth::AuthKind::Parsec1`]): it shares no key with any local application.

use std::sync::Arc;

use parsec1::message::{codes, take};
use parsec1::server::{Caller, Commands};
use parsec1::RemoteError;
use parsec_boss::{EncodeOptions, Limits, Value};
use parsec_wire::{Opcode, ProviderId, Status};

use crate::dispatch::Current;

fn status_error(status: Status) -> RemoteError {
    RemoteError::new(status.remote_code(), status.to_string())
}

/// Registers one command per operation a remote application may call: every opcode except the
/// administrators' (remote applications are never administrators).
/// `default_provider` serves calls that name none (`[parsec1] provider`; `None`: the first
/// crypto provider).
pub fn register(
    commands: &mut Commands,
    shared: Arc<Current>,
    default_provider: Option<ProviderId>,
) {
    for opcode in Opcode::ALL {
        if opcode.is_admin() {
            continue;
        }
        let shared = shared.clone();
        // Key generation (RSA: up to seconds), every operation of a slow device (a TPM), and
        // listing keys (up to max_keys_per_session_key names matched against a pattern): they
        // run where they do not hold up other requests, as on the socket.
        let heavy = opcode == Opcode::ListKeys || shared.get().may_block(opcode);
        commands.register_raw_with(opcode.remote_name(), heavy, move |caller, args| {
            call(&shared, caller, opcode, args, default_provider)
        });
    }
}

fn call(
    shared: &Current,
    caller: &Caller<'_>,
    opcode: Opcode,
    args: Value,
    default_provider: Option<ProviderId>,
) -> Result<Value, RemoteError> {
    // The arguments may carry key material or a plaintext: wiped on every path.
    let mut args = zeroize::Zeroizing::new(args);
    let provider = match take(&mut args, "provider") {
        None | Some(Value::Null) => default_provider,
        Some(v) => Some(
            v.as_int()
                .and_then(|id| u8::try_from(id).ok())
                .and_then(ProviderId::from_u8)
                .ok_or_else(|| RemoteError::bad_argument("provider", "a provider id"))?,
        ),
    };
    // Arguments come from a decoded message: re-encoding them cannot exceed its limits.
    let unlimited = EncodeOptions {
        allow_large_integers: true,
        max_depth: usize::MAX,
    };
    let bytes = parsec_boss::encode_with(&args, unlimited)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| RemoteError::new(codes::BAD_ARGUMENTS, e.to_string()))?;
    let mut de = parsec_boss::Deserializer::with_limits(&bytes, Limits::default())
        .map_err(|e| RemoteError::new(codes::BAD_ARGUMENTS, e.to_string()))?;
    let operation = parsec_psa::deserialize_operation(opcode, &mut de)
        .map_err(|e| RemoteError::new(codes::BAD_ARGUMENTS, e.to_string()))?;
    let app = crate::auth::parsec1::remote_app(caller.address_text);
    let result = shared
        .get()
        .execute_remote(&app, provider, operation)
        .map_err(status_error)?;
    // JavaScript-safe integers: a result field of 2^31 or more is an error, not a wrong number.
    let mut ser = parsec_boss::Serializer::new(EncodeOptions::default());
    parsec_psa::serialize_result(&result, &mut ser)
        .map_err(|e| RemoteError::new(codes::INTERNAL, format!("result: {e}")))?;
    let bytes = zeroize::Zeroizing::new(ser.into_inner());
    parsec_boss::decode(&bytes).map_err(|e| RemoteError::new(codes::INTERNAL, e.to_string()))
}
