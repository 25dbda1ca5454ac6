//! Authenticators: from a request's auth type and auth bytes to an application identity.
//!
//! Each authenticator is one file implementing [`Authenticator`]: [`none`] (auth type 0, no
//! identity), [`direct`], [`unix_peer`], the token authenticators [`jwt`] (auth type 2, from an
//! identity provider) and [`jwt_svid`] (auth type 4, SPIFFE), which share [`token`] and
//! [`keys`]; and [`parsec1`], the identity of remote applications over a Parsec.1 session,
//! which no socket request can select. Adding one is a new file, a variant of [`AuthKind`] and
//! its config entry.
//!
//! Several authenticators may be enabled at once; each request is checked by the one its auth
//! type names. Identities of different authenticators never meet: `AppId` carries the kind, so
//! Direct "1000" and UID 1000 are different applications with different keys and admin lists.
//!
//! This module imports only the wire crate: config, providers and fronts import it.

pub mod direct;
mod https;
pub mod jwt;
pub mod jwt_svid;
pub mod keys;
pub mod none;
pub mod parsec1;
pub mod token;
pub mod unix_peer;
mod workload;

use std::sync::Arc;

use parsec_wire::{AuthType, Status};

/// The kinds of identity: one per authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthKind {
    Direct,
    UnixPeerCredentials,
    /// A JWT from an identity provider.
    Jwt,
    JwtSvid,
    /// A remote application over a Parsec.1 session, named by its session key's long address.
    /// Not a configurable authenticator: `[parsec1]` enables it.
    Parsec1,
}

impl AuthKind {
    /// The name used in config files.
    pub fn config_name(self) -> &'static str {
        match self {
            AuthKind::Direct => "Direct",
            AuthKind::UnixPeerCredentials => "UnixPeerCredentials",
            AuthKind::Jwt => "Jwt",
            AuthKind::JwtSvid => "JwtSvid",
            AuthKind::Parsec1 => "Parsec1",
        }
    }

    /// The auth type byte that selects this authenticator on the socket (none for Parsec.1).
    pub fn auth_type(self) -> Option<AuthType> {
        match self {
            AuthKind::Direct => Some(AuthType::Direct),
            AuthKind::UnixPeerCredentials => Some(AuthType::UnixPeerCredentials),
            AuthKind::Jwt => Some(AuthType::Jwt),
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
}

/// One enabled authenticator, as configured (`[authenticator]` or one `[[authenticator]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticatorConfig {
    pub kind: AuthKind,
    /// Application names (decimal UIDs for UnixPeerCredentials, SPIFFE IDs for JwtSvid) that
    /// may call admin operations.
    pub admins: Vec<String>,
    /// The token authenticators' settings.
    pub tokens: Option<TokenSettings>,
}

/// What a token authenticator is configured with.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenSettings {
    Jwt(jwt::JwtConfig),
    JwtSvid(jwt_svid::JwtSvidConfig),
}

/// An application name taken from a token: not empty, at most
/// [`direct::MAX_APP_NAME_LEN`] bytes, without control characters (names are logged), and
/// never of the form ListClients gives remote applications.
pub fn checked_name(name: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > direct::MAX_APP_NAME_LEN {
        return Err(format!(
            "the application name is empty or longer than {} bytes",
            direct::MAX_APP_NAME_LEN
        ));
    }
    if name.starts_with(parsec1::REMOTE_PREFIX) || name.contains(char::is_control) {
        return Err("the application name has a reserved form".into());
    }
    Ok(name.to_string())
}

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

/// What ListAuthenticators reports for one authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthenticatorInfo {
    pub id: AuthType,
    pub description: &'static str,
}

/// One way of telling who sent a socket request.
pub trait Authenticator: Send + Sync {
    /// The auth type byte of the requests it checks.
    fn auth_type(&self) -> AuthType;
    /// What ListAuthenticators says of it; `None` for one that is never listed.
    fn description(&self) -> Option<&'static str>;
    /// The identity of one request (`Ok(None)`: a request without identity), or
    /// AuthenticationError.
    fn authenticate(&self, auth: &[u8], peer: Peer) -> Result<Option<AppId>, Status>;
    /// Called when a reload keeps this authenticator (its settings unchanged): a token
    /// authenticator reads its keys again.
    fn reloaded(&self) {}
}

/// The authenticator `config` enables; `None` for one no socket request can select.
fn build(config: &AuthenticatorConfig) -> Result<Option<Arc<dyn Authenticator>>, String> {
    let which = config.kind.config_name();
    Ok(match (config.kind, &config.tokens) {
        (AuthKind::Direct, _) => Some(Arc::new(direct::Direct)),
        (AuthKind::UnixPeerCredentials, _) => Some(Arc::new(unix_peer::UnixPeer)),
        (AuthKind::Jwt, Some(TokenSettings::Jwt(c))) => Some(Arc::new(
            jwt::Jwt::new(c).map_err(|e| format!("{which}: {e}"))?,
        )),
        (AuthKind::JwtSvid, Some(TokenSettings::JwtSvid(c))) => Some(Arc::new(
            jwt_svid::JwtSvid::new(c).map_err(|e| format!("{which}: {e}"))?,
        )),
        (AuthKind::Jwt | AuthKind::JwtSvid, _) => return Err(format!("{which}: no settings")),
        (AuthKind::Parsec1, _) => None,
    })
}

struct Enabled {
    authenticator: Arc<dyn Authenticator>,
    /// What it was built from (a reload keeps it, and the keys it holds, when unchanged).
    kind: AuthKind,
    tokens: Option<TokenSettings>,
    admins: Vec<String>,
}

/// The enabled authenticators, the preferred first; requests without identity (auth type 0)
/// are always accepted, for the operations that need none.
pub struct Authenticators {
    enabled: Vec<Enabled>,
    none: none::NoAuth,
}

impl Authenticators {
    /// The authenticators of `configs`; those `previous` already runs with the same settings
    /// are kept (a token authenticator keeps the keys it fetched). A token authenticator
    /// whose key file cannot be read is an error.
    pub fn new(
        configs: Vec<AuthenticatorConfig>,
        previous: Option<&Authenticators>,
    ) -> Result<Authenticators, String> {
        let mut enabled = Vec::with_capacity(configs.len());
        for c in configs {
            let kept = previous
                .into_iter()
                .flat_map(|p| &p.enabled)
                .find(|e| e.kind == c.kind && e.tokens == c.tokens)
                .map(|e| e.authenticator.clone());
            let authenticator = match kept {
                Some(a) => {
                    a.reloaded();
                    a
                }
                None => match build(&c)? {
                    Some(a) => a,
                    None => continue,
                },
            };
            enabled.push(Enabled {
                authenticator,
                kind: c.kind,
                tokens: c.tokens,
                admins: c.admins,
            });
        }
        Ok(Authenticators {
            enabled,
            none: none::NoAuth,
        })
    }

    /// For ListAuthenticators, in preference order.
    pub fn infos(&self) -> Vec<AuthenticatorInfo> {
        self.enabled
            .iter()
            .filter_map(|e| {
                Some(AuthenticatorInfo {
                    id: e.authenticator.auth_type(),
                    description: e.authenticator.description()?,
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
        if auth_type == self.none.auth_type() {
            return self.none.authenticate(auth, peer);
        }
        let enabled = self
            .enabled
            .iter()
            .find(|e| e.authenticator.auth_type() == auth_type)
            .ok_or(Status::AuthenticatorNotRegistered)?;
        enabled.authenticator.authenticate(auth, peer)
    }

    /// Whether `app` is in its authenticator's admin list.
    pub fn is_admin(&self, app: &AppId) -> bool {
        let Some(auth_type) = app.auth.auth_type() else {
            return false;
        };
        self.enabled
            .iter()
            .any(|e| e.authenticator.auth_type() == auth_type && e.admins.contains(&app.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> Authenticators {
        Authenticators::new(
            vec![
                AuthenticatorConfig {
                    kind: AuthKind::UnixPeerCredentials,
                    admins: vec!["0".into()],
                    tokens: None,
                },
                AuthenticatorConfig {
                    kind: AuthKind::Direct,
                    admins: vec!["boss".into()],
                    tokens: None,
                },
            ],
            None,
        )
        .unwrap()
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
        let direct_only = Authenticators::new(
            vec![AuthenticatorConfig {
                kind: AuthKind::Direct,
                admins: vec![],
                tokens: None,
            }],
            None,
        )
        .unwrap();
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
