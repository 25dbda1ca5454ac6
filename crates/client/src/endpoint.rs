//! Where the service is: `PARSEC_SERVICE_ENDPOINT`, as upstream clients read it.

use std::path::{Path, PathBuf};

use crate::Error;

/// The environment variable that names the service's endpoint.
pub const ENDPOINT_VARIABLE: &str = "PARSEC_SERVICE_ENDPOINT";

/// The endpoint when the variable is not set (upstream's).
pub const DEFAULT_ENDPOINT: &str = "unix:/run/parsec/parsec.sock";

/// A service endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// Wire protocol 1.0 on a Unix socket (`unix:/path`).
    Unix(PathBuf),
    /// A Parsec.1 session over HTTP (`http://host:port/path`) or HTTPS (`https://…`); the
    /// nodes of a service of several: comma-separated URLs, over which requests are spread.
    Parsec1(String),
    /// A Parsec.1 service found by its UNS2 name on the Universa network (Parsec 1.3,
    /// `uns2:<name>`): its URLs and keys come from the name's contract.
    Name(String),
}

impl Endpoint {
    /// The endpoint from `PARSEC_SERVICE_ENDPOINT`. When it is unset: [`DEFAULT_ENDPOINT`]
    /// (upstream's), unless `/run/parsec` does not exist and the socket of this project's
    /// embedded configuration (`$XDG_RUNTIME_DIR/parsec/parsec.sock`, what `cargo run`
    /// starts) does.
    ///
    /// ```
    /// # use parsec_rs_client::Endpoint;
    /// let endpoint = Endpoint::parse("unix:/tmp/parsec.sock").unwrap();
    /// assert_eq!(endpoint, Endpoint::Unix("/tmp/parsec.sock".into()));
    /// ```
    pub fn from_env() -> Result<Endpoint, Error> {
        match std::env::var(ENDPOINT_VARIABLE) {
            Ok(text) => Endpoint::parse(&text)
                .map_err(|e| Error::InvalidInput(format!("{ENDPOINT_VARIABLE}: {e}"))),
            Err(std::env::VarError::NotPresent) => {
                // Parsec 1.3: a service name and no endpoint.
                if let Some(name) = std::env::var(crate::universa::SERVICE_NAME_VARIABLE)
                    .ok()
                    .filter(|n| !n.is_empty())
                {
                    return Ok(Endpoint::Name(name));
                }
                Ok(Endpoint::Unix(default_socket(
                    std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
                )))
            }
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::InvalidInput(format!(
                "{ENDPOINT_VARIABLE} is not valid UTF-8"
            ))),
        }
    }

    /// Parses `unix:/path` (also `unix:///path`), `http://host:port/path`,
    /// `https://host:port/path` or `uns2:<name>`.
    pub fn parse(text: &str) -> Result<Endpoint, Error> {
        if let Some(name) = text.strip_prefix("uns2:") {
            if name.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "`{text}`: no name after uns2:"
                )));
            }
            return Ok(Endpoint::Name(name.to_string()));
        }
        if let Some(rest) = text.strip_prefix("unix:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if !path.starts_with('/') {
                return Err(Error::InvalidInput(format!(
                    "`{text}`: a Unix endpoint needs an absolute path (unix:/run/parsec/parsec.sock)"
                )));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            // Several nodes of one service: comma-separated URLs.
            let urls: Vec<&str> = text.split(',').map(str::trim).collect();
            if let Some(bad) = urls
                .iter()
                .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
            {
                return Err(Error::InvalidInput(format!(
                    "`{text}`: `{bad}` is not an http:// or https:// URL (several nodes: \
                     comma-separated URLs)"
                )));
            }
            return Ok(Endpoint::Parsec1(urls.join(",")));
        }
        Err(Error::InvalidInput(format!(
            "`{text}` is not an endpoint: expected unix:/path, http://host:port/path or uns2:<name>"
        )))
    }
}

/// Upstream's socket, or the embedded configuration's when that one exists and upstream's
/// directory does not (not while a system service restarts: its directory stays).
fn default_socket(runtime_dir: Option<PathBuf>) -> PathBuf {
    let upstream = PathBuf::from("/run/parsec/parsec.sock");
    if upstream.parent().is_some_and(Path::exists) {
        return upstream;
    }
    runtime_dir
        .filter(|d| d.is_absolute())
        .map(|d| d.join("parsec/parsec.sock"))
        .filter(|p| p.exists())
        .unwrap_or(upstream)
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
            Endpoint::Parsec1(url) => f.write_str(url),
            Endpoint::Name(name) => write!(f, "uns2:{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            Endpoint::parse("unix:/run/parsec/parsec.sock").unwrap(),
            Endpoint::Unix("/run/parsec/parsec.sock".into())
        );
        assert_eq!(
            Endpoint::parse("unix:///tmp/p.sock").unwrap(),
            Endpoint::Unix("/tmp/p.sock".into())
        );
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:8373/p1").unwrap(),
            Endpoint::Parsec1("http://127.0.0.1:8373/p1".into())
        );
        assert_eq!(
            Endpoint::parse("https://h:8443/p1").unwrap(),
            Endpoint::Parsec1("https://h:8443/p1".into())
        );
        assert_eq!(
            Endpoint::parse("http://a:1/p1, https://b:2/p1").unwrap(),
            Endpoint::Parsec1("http://a:1/p1,https://b:2/p1".into())
        );
        for bad in [
            "unix:relative",
            "/run/parsec.sock",
            "tcp://x",
            "",
            "http://a:1/p1,",
            "http://a:1/p1,unix:/x",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Endpoint::parse(DEFAULT_ENDPOINT).unwrap().to_string(),
            DEFAULT_ENDPOINT
        );
    }

    #[test]
    fn without_the_variable_the_embedded_configurations_socket_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let upstream = PathBuf::from("/run/parsec/parsec.sock");
        if upstream.parent().unwrap().exists() {
            // A system service lives here: it wins, as upstream's clients would find it.
            assert_eq!(default_socket(Some(dir.path().into())), upstream);
            return;
        }
        assert_eq!(default_socket(Some(dir.path().into())), upstream);
        std::fs::create_dir(dir.path().join("parsec")).unwrap();
        std::fs::write(dir.path().join("parsec/parsec.sock"), b"").unwrap();
        assert_eq!(
            default_socket(Some(dir.path().into())),
            dir.path().join("parsec/parsec.sock")
        );
        assert_eq!(default_socket(None), upstream);
        assert_eq!(default_socket(Some("relative".into())), upstream);
    }
}
