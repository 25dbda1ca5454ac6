//! Direct authentication (auth type 1): the application states its name, UTF-8, in the auth
//! part. Only for mutually trusted clients.

use parsec_wire::{AuthType, Status};

use super::{AppId, AuthKind, Authenticator, Peer};

/// Longest Direct application name accepted (the auth part allows 65535 bytes).
pub const MAX_APP_NAME_LEN: usize = 1024;

pub struct Direct;

impl Authenticator for Direct {
    fn auth_type(&self) -> AuthType {
        AuthType::Direct
    }

    fn description(&self) -> Option<&'static str> {
        Some(
            "Direct authentication: the application states its name. Only for mutually trusted clients.",
        )
    }

    fn authenticate(&self, auth: &[u8], _peer: Peer) -> Result<Option<AppId>, Status> {
        if auth.is_empty() || auth.len() > MAX_APP_NAME_LEN {
            return Err(Status::AuthenticationError);
        }
        let name = std::str::from_utf8(auth).map_err(|_| Status::AuthenticationError)?;
        // How ListClients and DeleteClient name remote applications: a Direct name of that form
        // would be listed twice and could never be deleted (the remote one would be).
        if name.starts_with(super::parsec1::REMOTE_PREFIX) {
            return Err(Status::AuthenticationError);
        }
        Ok(Some(AppId {
            auth: AuthKind::Direct,
            name: name.to_string(),
        }))
    }
}
