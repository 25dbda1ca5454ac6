//! JWT-SVID (auth type 4): the auth part is a JWT-SVID, the token form of a SPIFFE identity,
//! which the workload got from its SPIFFE agent (SPIRE in Kubernetes, for one). It must verify
//! with a key of the bundle of the trust domain its `sub` names, hold the configured audience
//! (`parsec`, as upstream) and be within its validity period; the SPIFFE ID is the
//! application's name.
//!
//! Upstream asks the agent to validate each token; here the bundles are followed in the
//! background (the Workload API's stream, or a bundle file read again), so checking a token
//! never waits on the agent.

use parsec_wire::{AuthType, Status};

use super::keys::{Keys, Refresh, Source};
use super::token::{self, Policy, Refused};
use super::{AppId, AuthKind, Authenticator, Peer};

/// The audience JWT-SVIDs are checked for unless the config says otherwise: upstream's.
pub const DEFAULT_AUDIENCE: &str = "parsec";

/// The `JwtSvid` authenticator's settings, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct JwtSvidConfig {
    /// The Workload API, or a bundle file.
    pub source: Source,
    /// Audience, algorithms, clock skew and maximum lifetime (no issuer: the trust domain
    /// comes from `sub`).
    pub policy: Policy,
    pub refresh: Refresh,
}

pub struct JwtSvid {
    policy: Policy,
    keys: Keys,
    verified: token::Verified,
}

impl JwtSvid {
    pub fn new(config: &JwtSvidConfig) -> Result<JwtSvid, String> {
        Ok(JwtSvid {
            policy: config.policy.clone(),
            keys: Keys::start(config.source.clone(), config.refresh)?,
            verified: token::Verified::default(),
        })
    }

    fn check(&self, auth: &[u8]) -> Result<String, Refused> {
        let now = token::now();
        if let Some(name) = self
            .verified
            .get(auth, &self.keys.current(), now, self.policy.leeway)
        {
            return Ok(name);
        }
        let token = token::read(auth)?;
        if token.kid.is_none() {
            return Err(Refused::Malformed(
                "a JWT-SVID names its key (`kid`)".into(),
            ));
        }
        let sub = token
            .claims
            .get("sub")
            .and_then(|s| s.as_str())
            .ok_or_else(|| Refused::Malformed("no `sub` claim".into()))?;
        let id = spiffe::SpiffeId::new(sub)
            .map_err(|e| Refused::Malformed(format!("`sub` is not a SPIFFE ID: {e}")))?;
        let domain = id.trust_domain().as_str().to_string();
        let mut sets = self.keys.current();
        let lacks =
            |s: &token::KeySets| s.get(&domain).is_none_or(|k| k.lacks(token.kid.as_deref()));
        if lacks(&sets) {
            sets = self.keys.fetch_again().ok_or(Refused::UnknownKey)?;
        }
        let keys = sets.get(&domain).ok_or(Refused::UnknownKey)?;
        // The claims checked are those of the same bytes, so `sub` is the one read above.
        let claims = token::verify(&token, keys, &self.policy, now)?;
        let name = super::checked_name(&id.to_string()).map_err(Refused::Invalid)?;
        self.verified
            .put(auth, &sets, &name, token::expiry(&claims));
        Ok(name)
    }
}

impl Authenticator for JwtSvid {
    fn auth_type(&self) -> AuthType {
        AuthType::JwtSvid
    }

    fn description(&self) -> Option<&'static str> {
        Some("JWT-SVID authentication: a SPIFFE identity, checked with its trust domain's bundle.")
    }

    fn reloaded(&self) {
        self.keys.reload();
    }

    fn authenticate(&self, auth: &[u8], _peer: Peer) -> Result<Option<AppId>, Status> {
        token::answer(AuthKind::JwtSvid, self.check(auth))
    }
}
