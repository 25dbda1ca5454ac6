//! Unix peer credentials (auth type 3): the auth part states a UID (4 bytes, little endian),
//! which must be the UID the kernel reports for the socket peer (`SO_PEERCRED`). The
//! application's name is that UID in decimal.

use parsec_wire::{AuthType, Status};

use super::{AppId, AuthKind, Authenticator, Peer};

pub struct UnixPeer;

impl Authenticator for UnixPeer {
    fn auth_type(&self) -> AuthType {
        AuthType::UnixPeerCredentials
    }

    fn description(&self) -> Option<&'static str> {
        Some("Unix peer credentials: the application is identified by the UID of its socket peer.")
    }

    fn authenticate(&self, auth: &[u8], peer: Peer) -> Result<Option<AppId>, Status> {
        let claimed: [u8; 4] = auth.try_into().map_err(|_| Status::AuthenticationError)?;
        let claimed = u32::from_le_bytes(claimed);
        match peer.uid {
            Some(uid) if uid == claimed => Ok(Some(AppId {
                auth: AuthKind::UnixPeerCredentials,
                name: uid.to_string(),
            })),
            _ => Err(Status::AuthenticationError),
        }
    }
}
