//! Why a call failed.

use std::path::PathBuf;
use std::time::Duration;

use parsec_wire::{Opcode, Status};

/// Why a call failed. The service's own answers keep their status ([`Error::status`]);
/// [`Error::hint`] says what to do where that is known.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Nothing accepts connections at the socket path.
    #[error("cannot connect to the Parsec service at {}: {source} (is it running? the endpoint comes from PARSEC_SERVICE_ENDPOINT)", path.display())]
    NotRunning {
        /// The socket path tried.
        path: PathBuf,
        /// Why connecting failed.
        source: std::io::Error,
    },
    /// The connection failed during a call.
    #[error("connection to the Parsec service at {} failed: {source}", path.display())]
    Io {
        /// The socket path of the connection.
        path: PathBuf,
        /// The read or write error.
        source: std::io::Error,
    },
    /// No answer in time.
    #[error("the Parsec service did not answer within {after:?}")]
    Timeout {
        /// How long the client waited.
        after: Duration,
    },
    /// The service answered with an error status.
    #[error("{}: {status}{}", opcode.remote_name(), hint_suffix(*status))]
    Service {
        /// The operation called.
        opcode: Opcode,
        /// The status the service answered with.
        status: Status,
    },
    /// The answer broke the protocol (wrong framing, another opcode, a body that does not
    /// decode).
    #[error("the Parsec service's answer is malformed: {0}")]
    Protocol(String),
    /// None of the service's authenticators is one this client can use.
    #[error("no usable authenticator: the service offers {offered}; {needs}")]
    NoAuthenticator {
        /// The authenticators the service lists, comma-separated (`none` when it lists none).
        offered: String,
        /// What this client would need to use one of them.
        needs: String,
    },
    /// The service has no provider that can do what was asked.
    #[error("no provider of the service can {0}")]
    NoProvider(String),
    /// A key of an unsuitable kind for the call.
    #[error("key `{key}`: {why}")]
    UnsuitableKey {
        /// The key's name.
        key: String,
        /// Why it does not suit the call.
        why: String,
    },
    /// Bad input from the caller (an endpoint, an argument).
    #[error("{0}")]
    InvalidInput(String),
    /// The operation may not be made over a Parsec.1 session (administrators' operations).
    #[error("{} cannot be called over a Parsec.1 session: remote applications are never administrators", .0.remote_name())]
    NotRemote(Opcode),
    /// A Parsec.1 session failed (transport, trust, protocol).
    #[error(transparent)]
    Remote(#[from] crate::parsec1::Error),
}

impl Error {
    /// The status the service answered with, if the service answered.
    pub fn status(&self) -> Option<Status> {
        match self {
            Error::Service { status, .. } => Some(*status),
            Error::Remote(crate::parsec1::Error::Remote(e)) => Status::from_remote_code(&e.code),
            _ => None,
        }
    }

    /// What the caller can do about this error, where that is known.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::NotRunning { .. } => {
                Some("start the service, or set PARSEC_SERVICE_ENDPOINT=unix:/path/to/parsec.sock")
            }
            Error::Timeout { .. } => Some("the service is busy or stalled; try again later"),
            _ => self.status().and_then(hint),
        }
    }
}

/// What to do about a status, where that is known.
pub fn hint(status: Status) -> Option<&'static str> {
    Some(match status {
        Status::PsaErrorDoesNotExist => "no key of that name for this application: see list-keys",
        Status::PsaErrorAlreadyExists => {
            "a key of that name exists: choose another name, or delete it first"
        }
        Status::PsaErrorNotPermitted => {
            "the key's policy does not allow this use or algorithm: see list-keys"
        }
        Status::PsaErrorNotSupported => {
            "this provider does not support it: see list-opcodes, or pick another provider"
        }
        Status::PsaErrorInvalidSignature => "the signature does not match the message and key",
        Status::PsaErrorInsufficientStorage => {
            "the service's key quota is reached: delete keys you no longer need"
        }
        Status::NotAuthenticated | Status::AuthenticationError => {
            "the service did not accept this client's identity: check its authenticator"
        }
        Status::AdminOperation => "only the service's administrators may do this",
        Status::ProviderNotRegistered | Status::ProviderDoesNotExist => {
            "no such provider on this service: see list-providers"
        }
        Status::AuthenticatorNotRegistered => {
            "the service does not run that authenticator: see list-authenticators"
        }
        Status::DeprecatedPrimitive => "the algorithm is deprecated: use a stronger one",
        _ => return None,
    })
}

fn hint_suffix(status: Status) -> String {
    hint(status).map(|h| format!(" ({h})")).unwrap_or_default()
}
