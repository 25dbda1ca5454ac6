//! The HTTP transport of spec §5.1: POST multipart/form-data with one file field `cmd`, the
//! answer body is BOSS. One kept-alive connection, reopened when it breaks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// Largest answer body read (the server's limit is below this).
const MAX_ANSWER: usize = 1 << 20;
const BOUNDARY: &str = "parsec-rs-4f1c2b7e9a";

/// Why a request did not get an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The URL is not `http://host[:port][/path]` (the URL given).
    #[error("bad URL `{0}`: expected http://host:port/path")]
    BadUrl(String),
    /// The TCP connection failed (the `host:port` tried, and why).
    #[error("cannot reach {0}: {1}")]
    Connect(String, std::io::Error),
    /// The HTTP exchange failed, or the answer could not be read (over 1 MiB, or cut short).
    #[error("HTTP: {0}")]
    Http(String),
    /// No answer within the transport's timeout (the timeout).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// An HTTP endpoint.
#[derive(Debug)]
pub struct HttpTransport {
    authority: String,
    path: String,
    timeout: Duration,
    connection: Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl HttpTransport {
    /// For `http://host:port/path` (plain HTTP: Parsec.1 trusts keys, not the transport).
    pub fn new(url: &str) -> Result<HttpTransport, TransportError> {
        let bad = || TransportError::BadUrl(url.to_string());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(HttpTransport {
            authority,
            path: path.to_string(),
            timeout: Duration::from_secs(30),
            connection: Mutex::new(None),
        })
    }

    /// Time allowed for one request, connecting included (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> HttpTransport {
        self.timeout = timeout;
        self
    }

    /// Sends one command block; returns the answer body.
    pub async fn send(&self, block: &[u8]) -> Result<Vec<u8>, TransportError> {
        tokio::time::timeout(self.timeout, self.send_inner(block))
            .await
            .map_err(|_| TransportError::Timeout(self.timeout))?
    }

    async fn send_inner(&self, block: &[u8]) -> Result<Vec<u8>, TransportError> {
        let body = multipart(block);
        let mut connection = self.connection.lock().await;
        // A kept-alive connection the server closed fails at once: retry on a new one.
        for attempt in 0..2 {
            let sender = match connection.as_mut() {
                Some(s) if !s.is_closed() => s,
                _ => connection.insert(self.connect().await?),
            };
            let request = Request::builder()
                .method(Method::POST)
                .uri(&self.path)
                .header(header::HOST, &self.authority)
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(Full::new(body.clone()))
                .map_err(|e| TransportError::Http(e.to_string()))?;
            let response = match sender.send_request(request).await {
                Ok(r) => r,
                Err(e) if attempt == 0 && (e.is_closed() || e.is_canceled()) => {
                    *connection = None;
                    continue;
                }
                Err(e) => {
                    *connection = None;
                    return Err(TransportError::Http(e.to_string()));
                }
            };
            // The status is ignored, as clients do: the body says what happened.
            let collected = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| TransportError::Http(format!("reading the answer: {e}")));
            return match collected {
                Ok(b) => Ok(b.to_bytes().to_vec()),
                Err(e) => {
                    *connection = None;
                    Err(e)
                }
            };
        }
        Err(TransportError::Http("the connection keeps closing".into()))
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, TransportError> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| TransportError::Connect(self.authority.clone(), e))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}

/// The body uparsecjs sends: one file field `cmd` named `<time>.bin`.
fn multipart(block: &[u8]) -> Bytes {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut body = Vec::with_capacity(block.len() + 256);
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"cmd\"; filename=\"{now}.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(block);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    Bytes::from(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = HttpTransport::new("http://127.0.0.1:8373/api/p1").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("127.0.0.1:8373", "/api/p1")
        );
        let t = HttpTransport::new("http://example.test").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("example.test:80", "/")
        );
        let t = HttpTransport::new("http://[::1]:9/x").unwrap();
        assert_eq!(t.authority, "[::1]:9");
        for bad in ["https://a/b", "a:1/b", "http:///x", "http://u@h:1/"] {
            assert!(HttpTransport::new(bad).is_err(), "{bad}");
        }
    }
}
