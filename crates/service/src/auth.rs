//! Authenticators: from a request's auth type and auth bytes to an application identity.
//!
//! Several authenticators may be enabled at once; each request is checked by the one its auth
//! type names. Identities of different authenticators never meet: `AppId` carries the kind, so
//! Direct "1000" and UID 1000 are different applications with different keys and admin lists.

use parsec_wire::{AuthType, Status};

use crate::config::{AuthKind, AuthenticatorConfig};

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId {
    pub auth: AuthKind,
    /// The application name: as sent for Direct, the decimal UID for UnixPeerCredentials.
    pub name: String,
}

/// What the socket layer knows about the peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Peer {
    /// The peer's UID from `SO_PEERCRED`, when it could be read.
    pub uid: Option<u32>,
}

/// The key store's number for Parsec.1 applications: outside the wire's auth types (0–4), so a
/// remote application never shares keys with a local one of the same name.
pub const PARSEC1_STORE_TAG: u8 = 0x81;

/// Longest Direct application name accepted (the auth part allows 65535 bytes).
pub const MAX_APP_NAME_LEN: usize = 1024;

/// The enabled authenticators, the preferred first.
#[derive(Debug, Clone)]
pub struct Authenticators {
    enabled: Vec<AuthenticatorConfig>,
}

/// What ListAuthenticators reports for one authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatorInfo {
    pub id: AuthType,
    pub description: &'static str,
}

impl AuthKind {
    /// The auth type byte that selects this authenticator on the socket (none for Parsec.1).
    pub fn auth_type(self) -> Option<AuthType> {
        match self {
            AuthKind::Direct => Some(AuthType::Direct),
            AuthKind::UnixPeerCredentials => Some(AuthType::UnixPeerCredentials),
            AuthKind::JwtSvid => Some(AuthType::JwtSvid),
            AuthKind::Parsec1 => None,
        }
    }

    /// The number that keeps this kind's applications apart in the key store: the wire auth
    /// type, and [`PARSEC1_STORE_TAG`] for remote applications.
    pub fn store_tag(self) -> u8 {
        match self.auth_type() {
            Some(t) => t as u8,
            None => PARSEC1_STORE_TAG,
        }
    }

    fn description(self) -> &'static str {
        match self {
            AuthKind::Direct => {
                "Direct authentication: the application states its name. Only for mutually trusted clients."
            }
            AuthKind::UnixPeerCredentials => {
                "Unix peer credentials: the application is identified by the UID of its socket peer."
            }
            AuthKind::JwtSvid => "JWT-SVID authentication through the SPIFFE Workload API.",
            AuthKind::Parsec1 => "Parsec.1: remote applications named by their session key.",
        }
    }
}

impl Authenticators {
    pub fn new(enabled: Vec<AuthenticatorConfig>) -> Authenticators {
        Authenticators { enabled }
    }

    /// For ListAuthenticators, in preference order.
    pub fn infos(&self) -> Vec<AuthenticatorInfo> {
        self.enabled
            .iter()
            .filter_map(|a| {
                Some(AuthenticatorInfo {
                    id: a.kind.auth_type()?,
                    description: a.kind.description(),
                })
            })
            .collect()
    }

    /// Authenticates one request. `Ok(None)` is a request without identity (auth type 0).
    pub fn authenticate(
        &self,
        auth_type: AuthType,
        auth: &[u8],
        peer: Peer,
    ) -> Result<Option<AppId>, Status> {
        if auth_type == AuthType::NoAuth {
            return Ok(None);
        }
        let kind = self
            .enabled
            .iter()
            .map(|a| a.kind)
            .find(|k| k.auth_type() == Some(auth_type))
            .ok_or(Status::AuthenticatorNotRegistered)?;
        let name = match kind {
            AuthKind::Direct => direct_name(auth)?,
            AuthKind::UnixPeerCredentials => peer_uid(auth, peer)?.to_string(),
            // Not configurable yet (the config refuses it); kept so the match stays total.
            AuthKind::JwtSvid | AuthKind::Parsec1 => {
                return Err(Status::AuthenticatorNotRegistered)
            }
        };
        Ok(Some(AppId { auth: kind, name }))
    }

    /// Whether `app` is in its authenticator's admin list.
    pub fn is_admin(&self, app: &AppId) -> bool {
        self.enabled
            .iter()
            .any(|a| a.kind == app.auth && a.admins.contains(&app.name))
    }
}

fn direct_name(auth: &[u8]) -> Result<String, Status> {
    if auth.is_empty() || auth.len() > MAX_APP_NAME_LEN {
        return Err(Status::AuthenticationError);
    }
    let name = std::str::from_utf8(auth).map_err(|_| Status::AuthenticationError)?;
    // How ListClients and DeleteClient name remote applications: a Direct name of that form
    // would be listed twice and could never be deleted (the remote one would be).
    if name.starts_with(crate::providers::core::REMOTE_PREFIX) {
        return Err(Status::AuthenticationError);
    }
    Ok(name.to_string())
}

fn peer_uid(auth: &[u8], peer: Peer) -> Result<u32, Status> {
    let claimed: [u8; 4] = auth.try_into().map_err(|_| Status::AuthenticationError)?;
    let claimed = u32::from_le_bytes(claimed);
    match peer.uid {
        Some(uid) if uid == claimed => Ok(uid),
        _ => Err(Status::AuthenticationError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> Authenticators {
        Authenticators::new(vec![
            AuthenticatorConfig {
                kind: AuthKind::UnixPeerCredentials,
                admins: vec!["0".into()],
            },
            AuthenticatorConfig {
                kind: AuthKind::Direct,
                admins: vec!["boss".into()],
            },
        ])
    }

    const PEER: Peer = Peer { uid: Some(1000) };

    #[test]
    fn each_auth_type_reaches_its_authenticator() {
        let a = both();
        let direct = a
            .authenticate(AuthType::Direct, b"app", PEER)
            .unwrap()
            .unwrap();
        assert_eq!(
            direct,
            AppId {
                auth: AuthKind::Direct,
                name: "app".into()
            }
        );
        let uid = a
            .authenticate(AuthType::UnixPeerCredentials, &1000u32.to_le_bytes(), PEER)
            .unwrap()
            .unwrap();
        assert_eq!(
            uid,
            AppId {
                auth: AuthKind::UnixPeerCredentials,
                name: "1000".into()
            }
        );
        assert_eq!(a.authenticate(AuthType::NoAuth, b"ignored", PEER), Ok(None));
    }

    #[test]
    fn rejections_have_upstreams_statuses() {
        let a = both();
        let e = |t, bytes: &[u8], peer| a.authenticate(t, bytes, peer).unwrap_err();
        assert_eq!(e(AuthType::Direct, b"", PEER), Status::AuthenticationError);
        assert_eq!(
            e(AuthType::Direct, b"parsec1:2bXmWfz", PEER),
            Status::AuthenticationError,
            "the form of remote applications' names in ListClients"
        );
        assert_eq!(
            e(AuthType::Direct, &[0xff, 0xfe], PEER),
            Status::AuthenticationError
        );
        let other = 1001u32.to_le_bytes();
        assert_eq!(
            e(AuthType::UnixPeerCredentials, &other, PEER),
            Status::AuthenticationError
        );
        assert_eq!(
            e(AuthType::UnixPeerCredentials, &[0, 0, 0], PEER),
            Status::AuthenticationError
        );
        let mine = 1000u32.to_le_bytes();
        assert_eq!(
            e(AuthType::UnixPeerCredentials, &mine, Peer { uid: None }),
            Status::AuthenticationError
        );
        assert_eq!(
            e(AuthType::Jwt, b"x", PEER),
            Status::AuthenticatorNotRegistered
        );
        assert_eq!(
            e(AuthType::JwtSvid, b"x", PEER),
            Status::AuthenticatorNotRegistered
        );
        let direct_only = Authenticators::new(vec![AuthenticatorConfig {
            kind: AuthKind::Direct,
            admins: vec![],
        }]);
        assert_eq!(
            direct_only.authenticate(AuthType::UnixPeerCredentials, &mine, PEER),
            Err(Status::AuthenticatorNotRegistered)
        );
    }

    #[test]
    fn admin_lists_are_per_authenticator() {
        let a = both();
        let direct = |n: &str| AppId {
            auth: AuthKind::Direct,
            name: n.into(),
        };
        let uid = |n: &str| AppId {
            auth: AuthKind::UnixPeerCredentials,
            name: n.into(),
        };
        assert!(a.is_admin(&direct("boss")));
        assert!(a.is_admin(&uid("0")));
        // A Direct client cannot claim root's UID admin rights, nor the reverse.
        assert!(!a.is_admin(&direct("0")));
        assert!(!a.is_admin(&uid("boss")));
    }
}
