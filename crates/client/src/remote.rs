//! The client's calls over a Parsec.1 session. The service is trusted by key addresses known
//! in advance (1.1), by its service contract's origin (1.2), or found and trusted by its UNS2
//! name (1.3).

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::time::Duration;

use parsec1::KeyAddress;
use parsec_psa::{OpResult, Operation};
use parsec_wire::ProviderId;

use crate::parsec1::{
    FileStorage, FixedServiceKeys, HttpTransport, MemoryStorage, Options, Session, Storage,
};
use crate::universa::{
    ContractKeys, NameKeys, Network, NetworkOptions, Topology, Trust, TrustError,
    SERVICE_CONTRACT_VARIABLE,
};
use crate::Error;

/// The environment variable with the trusted service key addresses: comma-separated Safe58
/// long addresses.
pub const SERVICE_KEY_VARIABLE: &str = "PARSEC1_SERVICE_KEY";

/// The environment variable naming a PEM file of certificates trusted for `https://`
/// endpoints besides the system's roots.
pub const TLS_CA_VARIABLE: &str = "PARSEC1_TLS_CA";

#[derive(Clone, Debug, Default)]
pub(crate) struct RemoteOptions {
    pub service_keys: Option<Vec<KeyAddress>>,
    pub contract_origin: Option<Vec<u8>>,
    pub topology: Option<Topology>,
    pub network: Option<NetworkOptions>,
    pub session_file: Option<PathBuf>,
    pub in_memory: bool,
    pub tls_ca: Option<PathBuf>,
}

pub(crate) struct Remote {
    runtime: tokio::runtime::Runtime,
    session: Session<Box<dyn Storage>, Trust>,
}

fn trust_error(e: TrustError) -> Error {
    Error::Remote(crate::parsec1::Error::Trust(e))
}

impl RemoteOptions {
    fn tls_ca(&self) -> Option<PathBuf> {
        self.tls_ca.clone().or_else(|| {
            std::env::var_os(TLS_CA_VARIABLE)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }

    /// The transport of `urls` (the first, and the others as fallbacks), without repeats.
    fn transports(&self, urls: &[&str], timeout: Option<Duration>) -> Result<HttpTransport, Error> {
        let mut unique: Vec<&str> = Vec::new();
        for url in urls {
            if !unique.contains(url) {
                unique.push(url);
            }
        }
        let (first, rest) = unique
            .split_first()
            .ok_or_else(|| Error::InvalidInput("no Parsec.1 URL".into()))?;
        let transport = self.transport(first, timeout)?;
        if rest.is_empty() {
            return Ok(transport);
        }
        let fallbacks = rest
            .iter()
            .map(|u| self.transport(u, timeout))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(transport.with_fallbacks(fallbacks))
    }

    fn transport(&self, url: &str, timeout: Option<Duration>) -> Result<HttpTransport, Error> {
        let transport = HttpTransport::with_extra_ca(url, self.tls_ca().as_deref())
            .map_err(crate::parsec1::Error::from)?;
        Ok(match timeout {
            Some(t) => transport.with_timeout(t),
            None => transport,
        })
    }

    /// The session file (`None`: in memory).
    fn session_path(&self, endpoint: &str) -> Result<Option<PathBuf>, Error> {
        if self.in_memory {
            return Ok(None);
        }
        match &self.session_file {
            Some(p) => Ok(Some(p.clone())),
            None => default_session_file(endpoint).map(Some),
        }
    }

    fn network(&self, runtime: &tokio::runtime::Runtime) -> Result<Network, Error> {
        let topology = match &self.topology {
            Some(t) => t.clone(),
            None => Topology::from_env().map_err(trust_error)?,
        };
        let options = match &self.network {
            Some(o) => o.clone(),
            None => NetworkOptions::from_env().map_err(trust_error)?,
        };
        runtime
            .block_on(Network::new(topology, options))
            .map_err(trust_error)
    }
}

fn storage(path: Option<&PathBuf>) -> Result<Box<dyn Storage>, Error> {
    Ok(match path {
        None => Box::new(MemoryStorage::new()),
        Some(path) => {
            Box::new(FileStorage::open(path).map_err(|e| {
                Error::InvalidInput(format!("session file {}: {e}", path.display()))
            })?)
        }
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::InvalidInput(format!("cannot start the HTTP runtime: {e}")))
}

/// The origin in `PARSEC1_SERVICE_CONTRACT`, if set.
fn contract_origin_from_env() -> Result<Option<Vec<u8>>, Error> {
    let Some(text) = std::env::var(SERVICE_CONTRACT_VARIABLE)
        .ok()
        .filter(|t| !t.trim().is_empty())
    else {
        return Ok(None);
    };
    parsec1::hash_id::from_base64(text.trim())
        .map(Some)
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "{SERVICE_CONTRACT_VARIABLE}: `{text}` is not a HashId (128 Base64 characters)"
            ))
        })
}

impl Remote {
    /// A service at `url` (several nodes: comma-separated URLs), trusted by its contract (1.2)
    /// when an origin is given, else by key addresses (1.1). Under a contract, the URLs it
    /// lists are used too. Requests are spread over the URLs and fail over between them (see
    /// [`HttpTransport::with_fallbacks`]).
    pub fn new(
        url: &str,
        options: RemoteOptions,
        timeout: Option<Duration>,
    ) -> Result<Remote, Error> {
        let origin = match &options.contract_origin {
            Some(o) => Some(o.clone()),
            None if options.service_keys.is_some() => None,
            None => contract_origin_from_env()?,
        };
        let urls: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect();
        let given = *urls
            .first()
            .ok_or_else(|| Error::InvalidInput(format!("`{url}` names no URL")))?;
        // A session made under one trust anchor is never resumed under another.
        let path = match &origin {
            Some(o) => options.session_path(&format!(
                "{url} contract:{}",
                parsec1::hash_id::to_base64(o)
            ))?,
            None => options.session_path(url)?,
        };
        let runtime = runtime()?;
        let (trust, transport) = match origin {
            Some(origin) => {
                let network = options.network(&runtime)?;
                // The contract is asked for on a connection of its own.
                let service = options.transport(given, timeout)?;
                let cache = path.as_ref().map(|p| p.with_extension("contract"));
                let keys = ContractKeys::new(origin, service, network, false, cache);
                // Checked now: its URLs are the service's other nodes.
                let section = runtime.block_on(keys.check()).map_err(trust_error)?;
                let listed: Vec<&str> = urls
                    .iter()
                    .copied()
                    .chain(
                        section
                            .http
                            .iter()
                            .chain(&section.https)
                            .map(String::as_str),
                    )
                    .collect();
                let transport = options.transports(&listed, timeout)?;
                (Trust::Contract(Box::new(keys)), transport)
            }
            None => {
                let keys = match options.service_keys.clone() {
                    Some(keys) => keys,
                    None => service_keys_from_env()?,
                };
                if keys.is_empty() {
                    return Err(Error::InvalidInput(format!(
                        "no trusted service key for {url}: set {SERVICE_KEY_VARIABLE} to the \
                         service's key address (its start-up log prints it), or \
                         {SERVICE_CONTRACT_VARIABLE} to its service contract's origin"
                    )));
                }
                (
                    Trust::Keys(FixedServiceKeys(keys)),
                    options.transports(&urls, timeout)?,
                )
            }
        };
        let session = Session::new(
            transport,
            storage(path.as_ref())?,
            trust,
            Options::default(),
        );
        Ok(Remote { runtime, session })
    }

    /// The service of a UNS2 name (1.3): its contract is found and checked on the network
    /// now, and its URLs are tried in order (the next when one cannot be reached).
    pub fn by_name(
        name: &str,
        options: RemoteOptions,
        timeout: Option<Duration>,
    ) -> Result<Remote, Error> {
        let runtime = runtime()?;
        let network = options.network(&runtime)?;
        let keys = NameKeys::new(name.to_string(), network, false);
        let section = runtime.block_on(keys.prime()).map_err(trust_error)?;
        let urls: Vec<&str> = section
            .http
            .iter()
            .chain(&section.https)
            .map(String::as_str)
            .collect();
        if urls.is_empty() {
            return Err(trust_error(TrustError::BadContract(format!(
                "the contract of `{name}` lists no URL"
            ))));
        }
        let transport = options.transports(&urls, timeout)?;
        let path = options.session_path(&format!("uns2:{name}"))?;
        let session = Session::new(
            transport,
            storage(path.as_ref())?,
            Trust::Name(Box::new(keys)),
            Options::default(),
        );
        Ok(Remote { runtime, session })
    }

    pub fn call(&self, provider: Option<ProviderId>, op: &Operation) -> Result<OpResult, Error> {
        // Blocking on the client's own runtime from inside another would panic.
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::InvalidInput(
                "the client's remote calls block: call them outside an async runtime (e.g. in \
                 spawn_blocking), or use parsec1::Session, which is async"
                    .into(),
            ));
        }
        Ok(self
            .runtime
            .block_on(self.session.operation_on(op, provider))?)
    }
}

/// The addresses in `PARSEC1_SERVICE_KEY`.
fn service_keys_from_env() -> Result<Vec<KeyAddress>, Error> {
    let Ok(text) = std::env::var(SERVICE_KEY_VARIABLE) else {
        return Ok(Vec::new());
    };
    parse_service_keys(&text)
}

/// Comma-separated Safe58 long addresses.
pub fn parse_service_keys(text: &str) -> Result<Vec<KeyAddress>, Error> {
    text.split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            let address: KeyAddress = a
                .parse()
                .map_err(|e| Error::InvalidInput(format!("{SERVICE_KEY_VARIABLE}: `{a}`: {e}")))?;
            if !address.is_long() {
                return Err(Error::InvalidInput(format!(
                    "{SERVICE_KEY_VARIABLE}: `{a}` is a short address; Parsec.1 trusts long ones"
                )));
            }
            Ok(address)
        })
        .collect()
}

/// `$XDG_DATA_HOME/parsec-rs/sessions/<endpoint>` (default `~/.local/share/...`), the
/// directory made private (0700).
fn default_session_file(url: &str) -> Result<PathBuf, Error> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    Error::InvalidInput(
                        "neither XDG_DATA_HOME nor HOME is set: give the client a session file"
                            .into(),
                    )
                })?;
            PathBuf::from(home).join(".local/share")
        }
    };
    let dir = base.join("parsec-rs/sessions");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| Error::InvalidInput(format!("session directory {}: {e}", dir.display())))?;
    // Readable, and unique: `/a_b` and `/a/b` read the same, their digests differ.
    let readable: String = url
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, url.as_bytes());
    let tag: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(dir.join(format!("{readable}-{tag}.session")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_files_are_named_after_the_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        std::env::set_var("XDG_DATA_HOME", dir.path());
        let path = default_session_file("http://127.0.0.1:8373/api/p1").unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("http___127.0.0.1_8373_api_p1-"), "{name}");
        assert!(name.ends_with(".session"), "{name}");
        assert_eq!(
            path.parent().unwrap(),
            dir.path().join("parsec-rs/sessions")
        );
        // Endpoints that read alike get files of their own.
        let other = default_session_file("http://127.0.0.1:8373/api_p1").unwrap();
        assert_ne!(path, other);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn service_keys_must_be_long_safe58_addresses() {
        assert!(parse_service_keys("").unwrap().is_empty());
        assert!(parse_service_keys("not-an-address").is_err());
    }
}
