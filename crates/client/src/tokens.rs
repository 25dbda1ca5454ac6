//! Where tokens come from: a JWT given in `PARSEC_AUTH_TOKEN` or kept in a file
//! (`PARSEC_AUTH_TOKEN_FILE`), used with auth type 2 (JWT); and JWT-SVIDs fetched from the
//! SPIFFE Workload API (`SPIFFE_ENDPOINT_SOCKET`), used with auth type 4, for audience
//! `parsec` as upstream's client asks.
//!
//! A client built without token sources takes these from the environment; the service's
//! list of authenticators decides which one is sent ([`Auth::choose`](crate::Auth::choose)).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parsec_wire::AuthType;
use zeroize::Zeroizing;

use crate::auth::TokenSource;
use crate::Error;

/// The audience a JWT-SVID is asked for unless told otherwise: what the service checks by
/// default (upstream's).
pub const SVID_AUDIENCE: &str = "parsec";

/// Longest token read from a file (a request's auth part holds at most 65535 bytes).
pub const MAX_TOKEN_LEN: usize = 65535;

/// A token given once (`PARSEC_AUTH_TOKEN`).
pub struct StaticToken {
    auth_type: AuthType,
    token: Zeroizing<Vec<u8>>,
}

impl StaticToken {
    /// `token`, sent as is under `auth_type`.
    pub fn new(auth_type: AuthType, token: impl Into<Vec<u8>>) -> StaticToken {
        StaticToken {
            auth_type,
            token: Zeroizing::new(token.into()),
        }
    }
}

impl TokenSource for StaticToken {
    fn auth_type(&self) -> AuthType {
        self.auth_type
    }

    fn token(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        Ok(self.token.clone())
    }
}

/// A JWT kept in a file, read again for every request (a token an agent renews in place, as
/// Kubernetes does for projected service account tokens).
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// The token in the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> TokenFile {
        TokenFile { path: path.into() }
    }
}

impl TokenSource for TokenFile {
    fn auth_type(&self) -> AuthType {
        AuthType::Jwt
    }

    fn token(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        use std::io::Read;
        let bad = |why: String| {
            Error::InvalidInput(format!("the token file {}: {why}", self.path.display()))
        };
        let file = std::fs::File::open(&self.path).map_err(|e| bad(e.to_string()))?;
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(MAX_TOKEN_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(e.to_string()))?;
        let trimmed = bytes.trim_ascii();
        if trimmed.is_empty() || trimmed.len() > MAX_TOKEN_LEN {
            return Err(bad(format!(
                "expected one token of 1 to {MAX_TOKEN_LEN} bytes"
            )));
        }
        Ok(Zeroizing::new(trimmed.to_vec()))
    }
}

/// JWT-SVIDs from the SPIFFE Workload API, each kept until half its lifetime is over.
pub struct WorkloadApiSvid {
    endpoint: String,
    audience: String,
    cached: Mutex<Option<(Zeroizing<Vec<u8>>, SystemTime)>>,
}

impl WorkloadApiSvid {
    /// JWT-SVIDs for `audience` from the agent at `endpoint` (`unix:///path/to/agent.sock`).
    pub fn new(endpoint: impl Into<String>, audience: impl Into<String>) -> WorkloadApiSvid {
        WorkloadApiSvid {
            endpoint: endpoint.into(),
            audience: audience.into(),
            cached: Mutex::new(None),
        }
    }

    fn fetch(&self) -> Result<String, Error> {
        let (endpoint, audience) = (self.endpoint.clone(), self.audience.clone());
        let failed =
            |e: String| Error::InvalidInput(format!("the SPIFFE Workload API at {endpoint}: {e}"));
        // On a thread of its own, so that a caller inside an async runtime can use it too.
        let fetched = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    runtime.block_on(async {
                        let fetch = async {
                            let client = spiffe::WorkloadApiClient::connect_to(&endpoint)
                                .await
                                .map_err(|e| e.to_string())?;
                            client
                                .fetch_jwt_token([audience.as_str()], None)
                                .await
                                .map_err(|e| e.to_string())
                        };
                        tokio::time::timeout(Duration::from_secs(10), fetch)
                            .await
                            .map_err(|_| "no answer within 10 s".to_string())?
                    })
                })
                .join()
                .map_err(|_| "the fetch panicked".to_string())?
        });
        fetched.map_err(failed)
    }
}

impl TokenSource for WorkloadApiSvid {
    fn auth_type(&self) -> AuthType {
        AuthType::JwtSvid
    }

    fn token(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, renew_at)) = cached.as_ref() {
            if SystemTime::now() < *renew_at {
                return Ok(token.clone());
            }
        }
        let token = self.fetch()?;
        let renew_at = renewal_time(&token);
        let token = Zeroizing::new(token.into_bytes());
        *cached = Some((token.clone(), renew_at));
        Ok(token)
    }
}

/// When a token should be fetched again: half-way through its lifetime (`iat` to `exp`), or
/// a minute before `exp`, whichever is sooner; now when its claims cannot be read.
fn renewal_time(token: &str) -> SystemTime {
    use base64::Engine;
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let number = |name: &str| claims.as_ref()?.get(name)?.as_u64();
    let (Some(exp), now) = (
        number("exp"),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    ) else {
        return SystemTime::now();
    };
    let iat = number("iat").unwrap_or(now).min(exp);
    let at = (iat + (exp - iat) / 2).min(exp.saturating_sub(60));
    UNIX_EPOCH
        .checked_add(Duration::from_secs(at))
        .unwrap_or_else(SystemTime::now)
}

/// The token sources the environment gives: `PARSEC_AUTH_TOKEN` (a JWT), else
/// `PARSEC_AUTH_TOKEN_FILE` (a file holding one); and `SPIFFE_ENDPOINT_SOCKET` (the Workload
/// API, for JWT-SVIDs).
pub fn from_env() -> Vec<Arc<dyn TokenSource>> {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let mut sources: Vec<Arc<dyn TokenSource>> = Vec::new();
    if let Some(token) = var("PARSEC_AUTH_TOKEN") {
        sources.push(Arc::new(StaticToken::new(
            AuthType::Jwt,
            token.trim().as_bytes().to_vec(),
        )));
    } else if let Some(path) = var("PARSEC_AUTH_TOKEN_FILE") {
        sources.push(Arc::new(TokenFile::new(path)));
    }
    if let Some(endpoint) = var("SPIFFE_ENDPOINT_SOCKET") {
        sources.push(Arc::new(WorkloadApiSvid::new(endpoint, SVID_AUDIENCE)));
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn token_with(claims: &str) -> String {
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b(r#"{"alg":"ES256"}"#), b(claims))
    }

    #[test]
    fn svids_are_fetched_again_half_way_through_their_lifetime() {
        let at = |t: &str| {
            renewal_time(&token_with(t))
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        assert_eq!(at(r#"{"iat":1000,"exp":2000}"#), 1500);
        // A short token: a minute before it ends, if that is sooner.
        assert_eq!(at(r#"{"iat":1000,"exp":1100}"#), 1040);
        assert!(renewal_time("garbage") <= SystemTime::now());
    }

    #[test]
    fn a_token_file_is_read_trimmed_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc.def.ghi\n").unwrap();
        let source = TokenFile::new(&path);
        assert_eq!(&source.token().unwrap()[..], b"abc.def.ghi");
        std::fs::write(&path, "renewed\n").unwrap();
        assert_eq!(&source.token().unwrap()[..], b"renewed");
        std::fs::write(&path, vec![b'a'; MAX_TOKEN_LEN + 1]).unwrap();
        assert!(source.token().is_err());
        std::fs::write(&path, "\n").unwrap();
        assert!(source.token().is_err());
        assert!(TokenFile::new(dir.path().join("missing")).token().is_err());
    }
}
