//! The client's calls over a Parsec.1 session (Parsec 1.1: the service is trusted by key
//! addresses known in advance).

use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::time::Duration;

use parsec1::KeyAddress;
use parsec_psa::{OpResult, Operation};
use parsec_wire::ProviderId;

use crate::parsec1::{
    FileStorage, FixedServiceKeys, HttpTransport, MemoryStorage, Options, Session, Storage,
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
    pub session_file: Option<PathBuf>,
    pub in_memory: bool,
    pub tls_ca: Option<PathBuf>,
}

pub(crate) struct Remote {
    runtime: tokio::runtime::Runtime,
    session: Session<Box<dyn Storage>, FixedServiceKeys>,
}

impl Remote {
    pub fn new(
        url: &str,
        options: RemoteOptions,
        timeout: Option<Duration>,
    ) -> Result<Remote, Error> {
        let keys = match options.service_keys {
            Some(keys) => keys,
            None => service_keys_from_env()?,
        };
        if keys.is_empty() {
            return Err(Error::InvalidInput(format!(
                "no trusted service key for {url}: set {SERVICE_KEY_VARIABLE} to the service's \
                 key address (its start-up log prints it)"
            )));
        }
        let tls_ca = options.tls_ca.or_else(|| {
            std::env::var_os(TLS_CA_VARIABLE)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        let mut transport = HttpTransport::with_extra_ca(url, tls_ca.as_deref())
            .map_err(crate::parsec1::Error::from)?;
        if let Some(t) = timeout {
            transport = transport.with_timeout(t);
        }
        let storage: Box<dyn Storage> = if options.in_memory {
            Box::new(MemoryStorage::new())
        } else {
            let path = match options.session_file {
                Some(p) => p,
                None => default_session_file(url)?,
            };
            Box::new(FileStorage::open(&path).map_err(|e| {
                Error::InvalidInput(format!("session file {}: {e}", path.display()))
            })?)
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::InvalidInput(format!("cannot start the HTTP runtime: {e}")))?;
        let session = Session::new(
            transport,
            storage,
            FixedServiceKeys(keys),
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
