//! The command envelope of spec §5.2 and the error codes of §5.6.
//!
//! ```text
//! call:   {cmd: <string>, args: <dict>}
//! answer: {result: <any>}  or  {error: {code: <string>, text: <string>}}
//! ```

use parsec_boss::Value;

/// Error codes a Parsec.1 server answers with. The first four are the ones clients react to
/// (spec §5.6); the rest are ours and reach the caller as remote exceptions.
pub mod codes {
    /// `cmd`: the session has no TSK (never made, expired or dropped): make a new one.
    pub const MISSING_TSK: &str = "parsec_missing_tsk";
    /// `cmd`, `createTSK`: no such session (never made, expired or destroyed).
    pub const SESSION_NOT_FOUND: &str = "parsec_session_not_found";
    /// `createTSK`: none of `knownServiceKeys` is this server's key.
    pub const UNKNOWN_SERVICE_KEY: &str = "parsec_unknown_service_key";
    /// A failure without a specific code. With a text containing "HMAC" on `cmd`, it tells the
    /// client that the TSK is wrong.
    pub const UNKNOWN_EXCEPTION: &str = "unknown_exception";
    /// `cmd`: a tunnelled message this session has already seen (same IV).
    pub const REPLAYED_MESSAGE: &str = "parsec_replayed_message";
    /// A command name the server does not know.
    pub const UNKNOWN_COMMAND: &str = "unknown_command";
    /// Arguments missing or of the wrong type.
    pub const BAD_ARGUMENTS: &str = "parsec_bad_arguments";
    /// `registerSCK`: the context is unknown, already used or expired.
    pub const UNKNOWN_CONTEXT: &str = "parsec_unknown_context";
    /// `registerSCK`: the proof of work does not have the required zero bits.
    pub const BAD_POW: &str = "parsec_bad_pow";
    /// A SignedRecord that does not verify, or was signed by the wrong key.
    pub const BAD_SIGNATURE: &str = "parsec_bad_signature";
    /// `registerSCK`: this session key already has as many sessions as allowed.
    pub const TOO_MANY_SESSIONS: &str = "parsec_too_many_sessions";
    /// Guest requests from this peer exceed the configured rate; or too many SCK requests pending.
    pub const TOO_MANY_REQUESTS: &str = "parsec_too_many_requests";
    /// The request, or the answer it would get, exceeds the message size limit.
    pub const MESSAGE_TOO_LARGE: &str = "parsec_message_too_large";
    /// The request body is not a BOSS `{cmd, args}` dictionary.
    pub const BAD_REQUEST: &str = "parsec_bad_request";
    /// The server could not complete the request (store failure, out of randomness).
    pub const INTERNAL: &str = "parsec_internal_error";
    /// The node answering cannot reach the store it shares with the service's other nodes:
    /// nothing was done; the same request may be sent again, to this node or another.
    pub const UNAVAILABLE: &str = "parsec_unavailable";
}

/// An error answer: a code for programs and a text for people. Both are always sent (clients
/// read `text` unconditionally, spec §5.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {text}")]
pub struct RemoteError {
    pub code: String,
    pub text: String,
}

impl RemoteError {
    pub fn new(code: impl Into<String>, text: impl Into<String>) -> RemoteError {
        RemoteError {
            code: code.into(),
            text: text.into(),
        }
    }

    /// An argument error naming the argument.
    pub fn bad_argument(name: &str, expected: &str) -> RemoteError {
        RemoteError::new(
            codes::BAD_ARGUMENTS,
            format!("argument `{name}`: expected {expected}"),
        )
    }

    fn to_value(&self) -> Value {
        Value::dict([
            ("code", Value::Text(self.code.clone())),
            ("text", Value::Text(self.text.clone())),
        ])
    }

    fn from_value(v: &Value) -> RemoteError {
        let field = |k| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        RemoteError {
            code: field("code"),
            text: field("text"),
        }
    }
}

/// Encodes a call `{cmd, args}`.
pub fn encode_call(cmd: &str, args: Value) -> Vec<u8> {
    let call = Value::dict([("cmd", Value::Text(cmd.to_string())), ("args", args)]);
    encode(&call)
}

/// Encodes an answer: `{result}` or `{error: {code, text}}`.
pub fn encode_answer(answer: &Result<Value, RemoteError>) -> Vec<u8> {
    // The copy of the result it wraps may carry key material or a plaintext.
    let mut value = answer_value(answer);
    let bytes = encode(&value);
    zeroize::Zeroize::zeroize(&mut value);
    bytes
}

/// The answer as a value.
pub fn answer_value(answer: &Result<Value, RemoteError>) -> Value {
    match answer {
        Ok(result) => Value::dict([("result", result.clone())]),
        Err(e) => Value::dict([("error", e.to_value())]),
    }
}

/// Reads an answer. The outer `Err`: not BOSS at all (to the caller, a network error).
pub fn decode_answer(bytes: &[u8]) -> Result<Result<Value, RemoteError>, parsec_boss::Error> {
    let v = parsec_boss::decode(bytes)?;
    Ok(answer_from_value(v))
}

/// Reads an answer value; a missing `result` is an empty dictionary, as clients take it.
pub fn answer_from_value(mut v: Value) -> Result<Value, RemoteError> {
    if let Some(e) = v.get("error") {
        return Err(RemoteError::from_value(e));
    }
    match take(&mut v, "result") {
        Some(result) => Ok(result),
        None => Ok(Value::Dict(Vec::new())),
    }
}

/// Reads a call: the command name and its arguments (an absent `args` is an empty dict).
pub fn decode_call(v: Value) -> Result<(String, Value), RemoteError> {
    let Value::Dict(mut entries) = v else {
        return Err(RemoteError::new(
            codes::BAD_REQUEST,
            "a call must be a dictionary {cmd, args}",
        ));
    };
    let mut cmd = None;
    let mut args = Value::Dict(Vec::new());
    for (k, value) in entries.drain(..) {
        match (k.as_str(), value) {
            (Some("cmd"), Value::Text(name)) => cmd = Some(name),
            (Some("args"), value @ Value::Dict(_)) => args = value,
            (Some("args"), Value::Null) => {}
            (Some("args"), _) => {
                return Err(RemoteError::new(
                    codes::BAD_REQUEST,
                    "`args` must be a dictionary",
                ))
            }
            _ => {}
        }
    }
    let cmd = cmd.ok_or_else(|| RemoteError::new(codes::BAD_REQUEST, "`cmd` is missing"))?;
    Ok((cmd, args))
}

/// Removes and returns the entry with a text key `key` of a dictionary.
pub fn take(v: &mut Value, key: &str) -> Option<Value> {
    let Value::Dict(entries) = v else {
        return None;
    };
    let i = entries.iter().position(|(k, _)| k.as_str() == Some(key))?;
    Some(entries.swap_remove(i).1)
}

/// The bytes of a binary argument (a text is accepted as its UTF-8 bytes, the JavaScript
/// writer's habit, spec §3.7).
pub fn bin_arg<'a>(args: &'a Value, name: &str) -> Result<&'a [u8], RemoteError> {
    args.get(name)
        .and_then(Value::as_bytes)
        .ok_or_else(|| RemoteError::bad_argument(name, "binary"))
}

/// A text argument.
pub fn str_arg<'a>(args: &'a Value, name: &str) -> Result<&'a str, RemoteError> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| RemoteError::bad_argument(name, "a string"))
}

pub(crate) fn encode(v: &Value) -> Vec<u8> {
    // JavaScript-safe: an integer of 2^31 or more in a result becomes an error answer rather
    // than a number the JavaScript client would misread (spec §3.10).
    parsec_boss::encode(v).unwrap_or_else(|e| {
        encode_fallback(&RemoteError::new(
            codes::INTERNAL,
            format!("answer cannot be encoded: {e}"),
        ))
    })
}

fn encode_fallback(e: &RemoteError) -> Vec<u8> {
    parsec_boss::encode(&Value::dict([("error", e.to_value())])).unwrap_or_default()
}
