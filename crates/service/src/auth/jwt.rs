//! JWT from an identity provider (auth type 2): the auth part is a signed JWT (JWS compact
//! form) that an OpenID Connect provider, or any issuer with a JWK set, gave the application.
//! It must verify with a key of the issuer's set, be issued by the configured issuer for the
//! configured audience, and be within its validity period; its `application_claim` (`sub` by
//! default) names the application.
//!
//! The keys come from a JWK set file (`jwks_path`) or the issuer's discovery document over
//! HTTPS, and are kept fresh in the background ([`keys`](super::keys)).

use parsec_wire::{AuthType, Status};

use super::keys::{Keys, Refresh, Source, PROVIDER};
use super::token::{self, Policy, Refused};
use super::{AppId, AuthKind, Authenticator, Peer};

/// The `Jwt` authenticator's settings, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtConfig {
    /// A JWK set file, or the issuer's discovery document.
    pub source: Source,
    /// `iss`, `aud`, algorithms, clock skew and maximum lifetime.
    pub policy: Policy,
    /// The claim whose value names the application.
    pub application_claim: String,
    pub refresh: Refresh,
}

pub struct Jwt {
    policy: Policy,
    claim: String,
    keys: Keys,
    verified: token::Verified,
}

impl Jwt {
    pub fn new(config: &JwtConfig) -> Result<Jwt, String> {
        Ok(Jwt {
            policy: config.policy.clone(),
            claim: config.application_claim.clone(),
            keys: Keys::start(config.source.clone(), config.refresh)?,
            verified: token::Verified::default(),
        })
    }

    fn check(&self, auth: &[u8]) -> Result<String, Refused> {
        let now = token::now();
        let mut sets = self.keys.current();
        if let Some(name) = self.verified.get(auth, &sets, now, self.policy.leeway) {
            return Ok(name);
        }
        let token = token::read(auth)?;
        let lacks = |s: &token::KeySets| {
            s.get(PROVIDER)
                .is_none_or(|k| k.lacks(token.kid.as_deref()))
        };
        if lacks(&sets) {
            sets = self.keys.fetch_again().ok_or(Refused::UnknownKey)?;
        }
        let keys = sets.get(PROVIDER).ok_or(Refused::UnknownKey)?;
        let claims = token::verify(&token, keys, &self.policy, now)?;
        let name = claims
            .get(&self.claim)
            .and_then(|v| v.as_str())
            .ok_or_else(|| Refused::Invalid(format!("no `{}` claim of a string", self.claim)))?;
        let name = super::checked_name(name).map_err(Refused::Invalid)?;
        self.verified
            .put(auth, &sets, &name, token::expiry(&claims));
        Ok(name)
    }
}

impl Authenticator for Jwt {
    fn auth_type(&self) -> AuthType {
        AuthType::Jwt
    }

    fn description(&self) -> Option<&'static str> {
        Some("JWT authentication: a token from an identity provider, checked with its public keys.")
    }

    fn reloaded(&self) {
        self.keys.reload();
    }

    fn authenticate(&self, auth: &[u8], _peer: Peer) -> Result<Option<AppId>, Status> {
        token::answer(AuthKind::Jwt, self.check(auth))
    }
}
