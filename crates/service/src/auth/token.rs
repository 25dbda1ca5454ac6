//! What the two token authenticators share: reading JWK sets, and checking a signed JWT
//! (JWS compact form) against one. [`jwt`](super::jwt) (auth type 2) takes its keys from an
//! identity provider, [`jwt_svid`](super::jwt_svid) (auth type 4) from SPIFFE trust bundles.
//!
//! The signature is checked by `jsonwebtoken` (on aws-lc); what it decides on comes from here:
//! the algorithm must be in the configured allowlist, which holds asymmetric algorithms only, and
//! fit the key the token names; the key must be a public signing key (a symmetric `oct` key is
//! never read, so no token can be checked with an HMAC over a public key); and the token must
//! name the configured audience (and issuer), be within its validity period give or take the
//! clock skew, and live no longer than the maximum lifetime.
//!
//! Every size is capped before parsing: a token, a key set and its number of keys. Why a token
//! was refused is logged at debug level, never the token.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Longest token read (JWT-SVIDs are about 1 KiB, identity providers' tokens a few).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Largest JWK set (or SPIFFE bundle set) read from a file, the Workload API or the network.
pub const MAX_KEY_SET_BYTES: usize = 1024 * 1024;
/// Most keys kept from one JWK set.
pub const MAX_KEYS: usize = 256;

/// The algorithms accepted when the config names none: every asymmetric one.
pub const DEFAULT_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// An algorithm name from the config: an asymmetric JWS algorithm, or why not.
pub fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    match name.parse::<Algorithm>() {
        Ok(a) if DEFAULT_ALGORITHMS.contains(&a) => Ok(a),
        Ok(_) => Err(format!(
            "`{name}` is an HMAC algorithm: tokens are checked with public keys only"
        )),
        Err(_) if name.eq_ignore_ascii_case("none") => {
            Err("`none` would accept unsigned tokens".to_string())
        }
        Err(_) => Err(format!(
            "`{name}` is not one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"
        )),
    }
}

/// One public signing key of a set.
struct Key {
    kid: Option<String>,
    /// The one algorithm the key is for, when its JWK says.
    alg: Option<Algorithm>,
    decoding: DecodingKey,
}

/// The public keys a token may be signed with.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|k| k.kid.as_deref()).collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

/// What a JWK set held that was not kept, for the log.
#[derive(Debug, Default, PartialEq)]
pub struct Skipped(pub Vec<String>);

impl KeySet {
    /// The signing keys of a JWK set (`{"keys": [...]}`, RFC 7517, or a SPIFFE bundle, whose
    /// JWT authorities have `"use": "jwt-svid"`). Keys that are not public signing keys (a
    /// symmetric key, an encryption key, an X.509 authority, an unknown type) are skipped and
    /// said in [`Skipped`]; a set that is not JSON, or too large, is an error.
    pub fn from_jwks(json: &[u8], use_: KeyUse) -> Result<(KeySet, Skipped), String> {
        if json.len() > MAX_KEY_SET_BYTES {
            return Err(format!(
                "the key set is {} bytes, more than the {MAX_KEY_SET_BYTES} read",
                json.len()
            ));
        }
        let value: Value =
            serde_json::from_slice(json).map_err(|e| format!("the key set is not JSON: {e}"))?;
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the key set has no `keys` array")?;
        let mut set = KeySet::default();
        let mut skipped = Skipped::default();
        for (i, jwk) in keys.iter().enumerate() {
            if set.keys.len() == MAX_KEYS {
                skipped
                    .0
                    .push(format!("keys after the first {MAX_KEYS} are not read"));
                break;
            }
            match Key::from_jwk(jwk, use_) {
                Ok(key) => set.keys.push(key),
                Err(why) => skipped.0.push(format!("key {i}: {why}")),
            }
        }
        Ok((set, skipped))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key a token names by `kid`; without a `kid`, the only key of a one-key set.
    fn find(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }

    /// Whether a token's `kid` names none of these keys (so fetching them again may help).
    pub fn lacks(&self, kid: Option<&str>) -> bool {
        self.find(kid).is_none()
    }
}

/// Which `use` a key set's signing keys have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// An identity provider's JWKS: `"use": "sig"`, or none.
    Signature,
    /// A SPIFFE bundle: `"use": "jwt-svid"` (its X.509 authorities are skipped).
    JwtSvid,
}

impl Key {
    fn from_jwk(jwk: &Value, use_: KeyUse) -> Result<Key, String> {
        let kty = jwk.get("kty").and_then(Value::as_str).unwrap_or("");
        if kty != "RSA" && kty != "EC" && kty != "OKP" {
            return Err(format!("key type `{kty}` is not a public signing key type"));
        }
        // No private part is ever kept, nor accepted: a set that carries one is a mistake.
        if jwk.get("d").is_some() {
            return Err("it holds a private key".into());
        }
        let jwk: Jwk = serde_json::from_value(jwk.clone()).map_err(|e| e.to_string())?;
        let use_ok = match (&jwk.common.public_key_use, use_) {
            (None, KeyUse::Signature) | (Some(PublicKeyUse::Signature), KeyUse::Signature) => true,
            (Some(PublicKeyUse::Other(u)), KeyUse::JwtSvid) => u == "jwt-svid",
            // The Workload API's bundles name it; a bundle file's key may leave it out.
            (None, KeyUse::JwtSvid) => true,
            _ => false,
        };
        if !use_ok {
            return Err(format!(
                "its `use` is {:?}, not a JWT signing key",
                jwk.common.public_key_use
            ));
        }
        let alg = match jwk.common.key_algorithm {
            None => None,
            Some(a) => {
                let name = serde_json::to_value(a).map_err(|e| e.to_string())?;
                let name = name.as_str().unwrap_or_default();
                Some(
                    name.parse::<Algorithm>()
                        .ok()
                        .filter(|a| DEFAULT_ALGORITHMS.contains(a))
                        .ok_or_else(|| format!("its `alg` {name} is not a signing algorithm"))?,
                )
            }
        };
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| e.to_string())?;
        Ok(Key {
            kid: jwk.common.key_id.clone(),
            alg,
            decoding,
        })
    }
}

/// What a token must satisfy, besides a good signature.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The allowlist; asymmetric algorithms only ([`parse_algorithm`]).
    pub algorithms: Vec<Algorithm>,
    /// A value the token's `aud` must hold.
    pub audience: String,
    /// The token's `iss`, when required.
    pub issuer: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway: u64,
    /// Longest accepted lifetime (`exp` − `iat`, or `exp` − now without `iat`), in seconds.
    pub max_lifetime: Option<u64>,
}

/// Why a token was refused (the client only ever sees AuthenticationError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    TooLarge,
    Malformed(String),
    Algorithm(String),
    UnknownKey,
    Invalid(String),
    Lifetime,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::TooLarge => write!(f, "longer than {MAX_TOKEN_BYTES} bytes"),
            Refused::Malformed(why) => write!(f, "malformed: {why}"),
            Refused::Algorithm(why) => write!(f, "algorithm refused: {why}"),
            Refused::UnknownKey => f.write_str("signed by a key the service does not know"),
            Refused::Invalid(why) => f.write_str(why),
            Refused::Lifetime => f.write_str("lives longer than the maximum token lifetime"),
        }
    }
}

/// The parts of a token read before its signature is checked: its `kid`, and its claims (to
/// pick the key set by, never to trust).
pub struct Unverified<'a> {
    pub token: &'a str,
    pub kid: Option<String>,
    pub alg: Algorithm,
    pub claims: Map<String, Value>,
}

/// Reads a token's header and claims, unchecked.
pub fn read(auth: &[u8]) -> Result<Unverified<'_>, Refused> {
    if auth.len() > MAX_TOKEN_BYTES {
        return Err(Refused::TooLarge);
    }
    let token = std::str::from_utf8(auth).map_err(|_| Refused::Malformed("not UTF-8".into()))?;
    let token = token.trim_end_matches(['\n', '\r', '\0']);
    if token.split('.').count() != 3 {
        return Err(Refused::Malformed("not three dot-separated parts".into()));
    }
    // `decode_header` refuses an unknown `alg`, so `none` ends here.
    let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => {
            Refused::Algorithm("not an algorithm this service knows (`none` is refused)".into())
        }
        _ => Refused::Malformed(format!("header: {e}")),
    })?;
    let claims: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode(token)
        .map(|d| d.claims)
        .map_err(|e| Refused::Malformed(format!("claims: {e}")))?;
    Ok(Unverified {
        token,
        kid: header.kid,
        alg: header.alg,
        claims,
    })
}

/// Checks a token read by [`read`] against `keys` and `policy`: its claims, once verified.
pub fn verify(
    token: &Unverified<'_>,
    keys: &KeySet,
    policy: &Policy,
    now: u64,
) -> Result<Map<String, Value>, Refused> {
    if !policy.algorithms.contains(&token.alg) {
        return Err(Refused::Algorithm(format!(
            "{:?} is not allowed",
            token.alg
        )));
    }
    let key = keys.find(token.kid.as_deref()).ok_or(Refused::UnknownKey)?;
    if key.alg.is_some_and(|a| a != token.alg) || key.decoding.family() != token.alg.family() {
        return Err(Refused::Algorithm(format!(
            "{:?} does not fit the key it names",
            token.alg
        )));
    }
    let mut validation = Validation::new(token.alg);
    validation.leeway = policy.leeway;
    validation.validate_nbf = true;
    validation.set_audience(&[&policy.audience]);
    let mut required = vec!["exp", "aud"];
    if let Some(issuer) = &policy.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    validation.set_required_spec_claims(&required);
    let claims =
        jsonwebtoken::decode::<Map<String, Value>>(token.token, &key.decoding, &validation)
            .map_err(|e| Refused::Invalid(format!("{e}")))?
            .claims;
    // An `iat` in the future is refused; the lifetime counts from `iat`, or from now when
    // that is earlier (so a future `iat` cannot shorten it).
    let iat = match claims.get("iat") {
        None => None,
        Some(iat) => Some(
            iat.as_u64()
                .ok_or_else(|| Refused::Invalid("`iat` is not a number of seconds".into()))?,
        ),
    };
    if iat.is_some_and(|iat| iat > now.saturating_add(policy.leeway)) {
        return Err(Refused::Invalid("issued in the future (`iat`)".into()));
    }
    if let Some(max) = policy.max_lifetime {
        let exp = claims
            .get("exp")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX);
        let from = iat.map_or(now, |iat| iat.min(now));
        if exp.saturating_sub(from) > max.saturating_add(policy.leeway) {
            return Err(Refused::Lifetime);
        }
    }
    Ok(claims)
}

/// A token authenticator's answer: the application `checked` named, or AuthenticationError
/// (why is logged at debug level, never the token).
pub fn answer(
    kind: super::AuthKind,
    checked: Result<String, Refused>,
) -> Result<Option<super::AppId>, parsec_wire::Status> {
    match checked {
        Ok(name) => Ok(Some(super::AppId { auth: kind, name })),
        Err(why) => {
            tracing::debug!("{} token refused: {why}", kind.config_name());
            Err(parsec_wire::Status::AuthenticationError)
        }
    }
}

/// The seconds since the Unix epoch now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Key sets by trust domain (SPIFFE), or under one name (an identity provider).
pub type KeySets = HashMap<String, KeySet>;

/// Tokens already verified, so that a client sending the same token with every request (as
/// clients do, for the token's lifetime) pays for its signature once: by the SHA-256 of the
/// token's bytes, the application it names and its `exp`, for as long as the keys it was
/// verified with are the ones held (a refresh or a reload that replaces them forgets it).
/// Only verified tokens enter, so no client can fill it with garbage; it holds at most
/// [`Verified::MAX`] tokens and is emptied when full.
#[derive(Default)]
pub struct Verified {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

struct Entry {
    name: String,
    exp: u64,
    /// The key sets it was verified with (compared by address).
    keys: std::sync::Weak<KeySets>,
}

impl Verified {
    pub const MAX: usize = 4096;

    fn digest(auth: &[u8]) -> [u8; 32] {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, auth);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    /// The application `auth` names, when it was verified with `keys` and has not expired
    /// (`exp`, give or take `leeway`).
    pub fn get(&self, auth: &[u8], keys: &Arc<KeySets>, now: u64, leeway: u64) -> Option<String> {
        let digest = Verified::digest(auth);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(&digest)?;
        if std::ptr::eq(entry.keys.as_ptr(), Arc::as_ptr(keys))
            && now <= entry.exp.saturating_add(leeway)
        {
            return Some(entry.name.clone());
        }
        entries.remove(&digest);
        None
    }

    /// Remembers that `auth`, verified with `keys`, names `name` until `exp`.
    pub fn put(&self, auth: &[u8], keys: &Arc<KeySets>, name: &str, exp: u64) {
        let digest = Verified::digest(auth);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= Verified::MAX {
            entries.clear();
        }
        entries.insert(
            digest,
            Entry {
                name: name.to_string(),
                exp,
                keys: Arc::downgrade(keys),
            },
        );
    }
}

/// A verified token's `exp` (`jsonwebtoken` requires it and checks it is a number).
pub fn expiry(claims: &Map<String, Value>) -> u64 {
    claims.get("exp").and_then(Value::as_u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_token_is_reused_only_with_the_same_keys_and_until_it_expires() {
        let cache = Verified::default();
        let keys = Arc::new(KeySets::new());
        let now = 1_000_000;
        cache.put(b"token", &keys, "alice", now + 60);
        assert_eq!(cache.get(b"token", &keys, now, 0).as_deref(), Some("alice"));
        assert_eq!(
            cache.get(b"token", &keys, now + 90, 30).as_deref(),
            Some("alice")
        );
        assert_eq!(cache.get(b"token", &keys, now + 91, 30), None, "expired");
        assert_eq!(
            cache.get(b"token", &keys, now, 0),
            None,
            "forgotten once expired"
        );
        cache.put(b"token", &keys, "alice", now + 60);
        assert_eq!(cache.get(b"other", &keys, now, 0), None);
        let replaced = Arc::new(KeySets::new());
        assert_eq!(cache.get(b"token", &replaced, now, 0), None, "new keys");
        // Full: emptied, never grown past the cap.
        for i in 0..Verified::MAX + 1 {
            cache.put(&i.to_le_bytes(), &keys, "x", now + 60);
        }
        assert!(cache.entries.lock().unwrap().len() <= Verified::MAX);
    }
}
