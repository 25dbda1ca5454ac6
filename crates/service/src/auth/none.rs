//! No authentication (auth type 0): the request carries no identity. Only the operations that
//! need none (Ping, ListProviders, ListOpcodes, ListAuthenticators) run for it; the dispatcher
//! refuses the others with NotAuthenticated. Always enabled and never listed, as upstream.

use parsec_wire::{AuthType, Status};

use super::{AppId, Authenticator, Peer};

pub struct NoAuth;

impl Authenticator for NoAuth {
    fn auth_type(&self) -> AuthType {
        AuthType::NoAuth
    }

    fn description(&self) -> Option<&'static str> {
        None
    }

    /// Whatever the auth part holds, there is no identity.
    fn authenticate(&self, _auth: &[u8], _peer: Peer) -> Result<Option<AppId>, Status> {
        Ok(None)
    }
}
