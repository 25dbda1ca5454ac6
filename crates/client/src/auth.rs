//! How the client tells the service who it is.

use std::fmt;
use std::sync::Arc;

use parsec_psa::ops::AuthenticatorInfo;
use parsec_wire::AuthType;
use zeroize::Zeroizing;

use crate::Error;

/// A source of authentication tokens (a JWT for auth type 2, a JWT-SVID for auth type 4),
/// asked for a token before every request so that it can renew them.
pub trait TokenSource: Send + Sync {
    /// The auth type its tokens are for.
    fn auth_type(&self) -> AuthType;
    /// The token to send now.
    fn token(&self) -> Result<Zeroizing<Vec<u8>>, Error>;
}

/// The identity a request carries.
#[derive(Clone)]
#[non_exhaustive]
pub enum Auth {
    /// None: only the operations that need no identity (ping, listing providers, …).
    None,
    /// Direct authentication: the application's name, trusted as given.
    Direct(String),
    /// The calling process's effective UID, which the service checks against the socket.
    UnixPeerCredentials,
    /// A token from a [`TokenSource`].
    Token(Arc<dyn TokenSource>),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Direct(name) => f.debug_tuple("Direct").field(name).finish(),
            Auth::UnixPeerCredentials => f.write_str("UnixPeerCredentials"),
            Auth::Token(source) => write!(f, "Token({:?})", source.auth_type()),
        }
    }
}

impl Auth {
    /// The auth type of the request header.
    pub fn auth_type(&self) -> AuthType {
        match self {
            Auth::None => AuthType::NoAuth,
            Auth::Direct(_) => AuthType::Direct,
            Auth::UnixPeerCredentials => AuthType::UnixPeerCredentials,
            Auth::Token(source) => source.auth_type(),
        }
    }

    /// The auth part of a request.
    pub(crate) fn bytes(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        Ok(match self {
            Auth::None => Zeroizing::new(Vec::new()),
            Auth::Direct(name) => Zeroizing::new(name.as_bytes().to_vec()),
            Auth::UnixPeerCredentials => {
                Zeroizing::new(rustix::process::geteuid().as_raw().to_le_bytes().to_vec())
            }
            Auth::Token(source) => source.token()?,
        })
    }

    /// The first of the service's authenticators (in the order it lists them, its order of
    /// preference) that this client can use: Direct when an application name is given,
    /// Unix peer credentials, or a token type that `tokens` serves.
    pub fn choose(
        offered: &[AuthenticatorInfo],
        app_name: Option<&str>,
        tokens: &[Arc<dyn TokenSource>],
    ) -> Result<Auth, Error> {
        for info in offered {
            match AuthType::from_u8(info.id) {
                Some(AuthType::Direct) => {
                    if let Some(name) = app_name {
                        return Ok(Auth::Direct(name.to_string()));
                    }
                }
                Some(AuthType::UnixPeerCredentials) => return Ok(Auth::UnixPeerCredentials),
                Some(t @ (AuthType::Jwt | AuthType::JwtSvid)) => {
                    if let Some(source) = tokens.iter().find(|s| s.auth_type() == t) {
                        return Ok(Auth::Token(source.clone()));
                    }
                }
                Some(AuthType::NoAuth) | None => {}
            }
        }
        let offered = offered
            .iter()
            .map(|i| match AuthType::from_u8(i.id) {
                Some(t) => format!("{t:?}"),
                None => format!("auth type {}", i.id),
            })
            .collect::<Vec<_>>();
        let offered = if offered.is_empty() {
            "none".to_string()
        } else {
            offered.join(", ")
        };
        Err(Error::NoAuthenticator {
            offered,
            needs: "Direct needs an application name, token types a token source".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: AuthType) -> AuthenticatorInfo {
        AuthenticatorInfo {
            description: String::new(),
            version_maj: 1,
            version_min: 0,
            version_rev: 0,
            id: id as u8,
        }
    }

    #[test]
    fn the_first_usable_authenticator_wins() {
        let both = [info(AuthType::Direct), info(AuthType::UnixPeerCredentials)];
        assert!(matches!(
            Auth::choose(&both, Some("app"), &[]).unwrap(),
            Auth::Direct(n) if n == "app"
        ));
        // Without a name, Direct is skipped.
        assert!(matches!(
            Auth::choose(&both, None, &[]).unwrap(),
            Auth::UnixPeerCredentials
        ));
        let direct_only = [info(AuthType::Direct)];
        let e = Auth::choose(&direct_only, None, &[]).unwrap_err();
        assert!(e.to_string().contains("Direct"), "{e}");
        assert!(Auth::choose(&[], Some("app"), &[]).is_err());
    }

    #[test]
    fn peer_credentials_carry_the_effective_uid() {
        let bytes = Auth::UnixPeerCredentials.bytes().unwrap();
        let uid = u32::from_le_bytes(bytes[..].try_into().unwrap());
        assert_eq!(uid, rustix::process::geteuid().as_raw());
    }
}
