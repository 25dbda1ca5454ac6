//! The identity of a remote application over a Parsec.1 session: the long address of its
//! session key, under a kind of its own ([`AuthKind::Parsec1`]), so that it shares no key with
//! any local application. The Parsec.1 server authenticates the session (its handshake and
//! every message's authenticity); no socket request can select this identity.

use super::{AppId, AuthKind};

/// How ListClients and DeleteClient name a remote application: this prefix, then the long
/// address of its session key.
pub const REMOTE_PREFIX: &str = "parsec1:";

/// The application a Parsec.1 session with the key of `address` (long address, text) acts as.
pub fn remote_app(address: &str) -> AppId {
    AppId {
        auth: AuthKind::Parsec1,
        name: address.to_string(),
    }
}

/// The remote application ListClients names `client` (`parsec1:<address>`), if it is one.
pub fn from_listed(client: &str) -> Option<AppId> {
    client.strip_prefix(REMOTE_PREFIX).map(remote_app)
}

/// How ListClients names the remote application of `address`.
pub fn listed(address: &str) -> String {
    format!("{REMOTE_PREFIX}{address}")
}
