//! The HTTP transport of spec §5.1: POST multipart/form-data with one file field `cmd`, the
//! answer body is BOSS. One kept-alive connection, reopened when it breaks.
//!
//! A service of several nodes has several URLs (a 1.2/1.3 contract lists them, or the caller
//! gives a list). The transport then spreads its requests over them (each request starts at
//! the next URL) and fails over: a request that gets no answer from one URL is sent, the same
//! bytes, to the next. That is safe because nodes share the service's state: a message one
//! node has read is refused by the others as a replay, so no command runs twice. A URL that
//! failed is tried last for a while.
//!
//! `https://` endpoints are reached over TLS (rustls), the server's certificate checked
//! against the system's roots and any extra CA given. Parsec.1 does not rely on it (the
//! service is trusted by its keys); browsers need it, and it hides what is called from the
//! network.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
/// Time allowed for a TCP connection (within the request's own timeout): a URL that does not
/// accept one by then is down, and the next one is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a URL that failed is tried after the others.
const DOWN_FOR: Duration = Duration::from_secs(10);

/// The environment variable that turns spreading off (`0`, `off`, `false`, `no`): requests
/// then go to the first URL that answers, in the order given, and are sent to the next only
/// when nothing was sent, as for nodes that do not share their state.
pub const SPREAD_VARIABLE: &str = "PARSEC1_SPREAD";

/// Why a request did not get an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The URL is not `http://host[:port][/path]` or `https://…` (the URL given).
    #[error("bad URL `{0}`: expected http://host:port/path or https://host:port/path")]
    BadUrl(String),
    /// TLS could not be set up or failed (what failed).
    #[error("TLS: {0}")]
    Tls(String),
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

/// An HTTP or HTTPS endpoint.
pub struct HttpTransport {
    authority: String,
    path: String,
    timeout: Duration,
    /// For `https://`: the TLS settings and the name the certificate must carry.
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    connection: Mutex<Option<SendRequest<Full<Bytes>>>>,
    /// Other URLs of the same service (see the module's description).
    fallbacks: Vec<HttpTransport>,
    /// The URL that answered last (0: this one; i: `fallbacks[i - 1]`).
    current: AtomicUsize,
    /// Each request starts at the next URL, instead of the one that answered last.
    spread: bool,
    /// The URL the next request starts at, when spreading.
    next: AtomicUsize,
    /// Until when this URL is tried after the others (it failed).
    down_until: std::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("authority", &self.authority)
            .field("path", &self.path)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl HttpTransport {
    /// For `http://host:port/path`, or `https://host:port/path` checked against the system's
    /// roots (see [`HttpTransport::with_extra_ca`] for others).
    pub fn new(url: &str) -> Result<HttpTransport, TransportError> {
        HttpTransport::with_extra_ca(url, None)
    }

    /// Like [`HttpTransport::new`]; for `https://`, the certificates of the PEM file
    /// `extra_ca` are trusted too (a private CA; as browsers do, rustls refuses a self-signed
    /// server certificate even when it is in this file).
    pub fn with_extra_ca(
        url: &str,
        extra_ca: Option<&Path>,
    ) -> Result<HttpTransport, TransportError> {
        let bad = || TransportError::BadUrl(url.to_string());
        let (rest, https) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (rest, false),
            (None, Some(rest)) => (rest, true),
            (None, None) => return Err(bad()),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        let (host, authority) = match authority.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() && !host.is_empty() => {
                (host, authority.to_string())
            }
            _ => (
                authority,
                format!("{authority}:{}", if https { 443 } else { 80 }),
            ),
        };
        let tls = if https {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name =
                rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|_| bad())?;
            Some((tls_connector(extra_ca)?, name))
        } else {
            None
        };
        Ok(HttpTransport {
            authority,
            path: path.to_string(),
            timeout: Duration::from_secs(30),
            tls,
            connection: Mutex::new(None),
            fallbacks: Vec::new(),
            current: AtomicUsize::new(0),
            spread: false,
            next: AtomicUsize::new(0),
            down_until: std::sync::Mutex::new(None),
        })
    }

    /// Time allowed for one request, connecting included (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> HttpTransport {
        self.timeout = timeout;
        for f in &mut self.fallbacks {
            f.timeout = timeout;
        }
        self
    }

    /// Other URLs of the same service, whose nodes share its state (a 1.2/1.3 contract lists
    /// several): requests fail over to them, and are spread over all unless `PARSEC1_SPREAD`
    /// turns that off (see the module's description).
    pub fn with_fallbacks(mut self, others: Vec<HttpTransport>) -> HttpTransport {
        self.fallbacks = others
            .into_iter()
            .map(|f| f.with_timeout(self.timeout))
            .collect();
        self.spread = spread_from_env();
        self
    }

    /// Whether requests are spread over the URLs (default: yes, when there are several), or
    /// go to the one that answered last.
    pub fn with_spread(mut self, spread: bool) -> HttpTransport {
        self.spread = spread;
        self
    }

    /// Sends one command block; returns the answer body.
    pub async fn send(&self, block: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.send_tracked(block).await.map(|(answer, _)| answer)
    }

    /// Like [`HttpTransport::send`], and says whether the answer comes from another URL than
    /// one the block may have reached already (it was sent again after a lost answer): a
    /// command the service then refuses may have run all the same.
    pub async fn send_tracked(&self, block: &[u8]) -> Result<(Vec<u8>, bool), TransportError> {
        if self.fallbacks.is_empty() {
            return Ok((self.post_file(None, "cmd", block).await?, false));
        }
        let count = 1 + self.fallbacks.len();
        let start = if self.spread {
            self.next.fetch_add(1, Ordering::Relaxed) % count
        } else {
            self.current.load(Ordering::Relaxed) % count
        };
        let url = |i: usize| if i == 0 { self } else { &self.fallbacks[i - 1] };
        // From the start, the URLs that did not fail lately first.
        let (up, down): (Vec<usize>, Vec<usize>) = (0..count)
            .map(|k| (start + k) % count)
            .partition(|&i| !url(i).is_down());
        let mut last = None;
        let mut unavailable = None;
        let mut delivered = false;
        for i in up.into_iter().chain(down) {
            let transport = url(i);
            match transport.post_file(None, "cmd", block).await {
                // Nothing was sent: the next URL.
                Err(e @ (TransportError::Connect(..) | TransportError::Tls(_))) => {
                    transport.mark_down();
                    last = Some(e);
                }
                // Sent, and no answer: when the nodes share their state (spreading), the next
                // URL gets the same bytes (a node that did read them has them in the shared
                // replay set, so they do not run twice); else the outcome is the caller's.
                Err(e) => {
                    transport.mark_down();
                    if !self.spread {
                        return Err(e);
                    }
                    delivered = true;
                    last = Some(e);
                }
                // That node cannot reach the service's store now, and did nothing.
                Ok(answer) if is_unavailable(&answer) => {
                    transport.mark_down();
                    unavailable = Some(answer);
                }
                Ok(answer) => {
                    self.current.store(i, Ordering::Relaxed);
                    return Ok((answer, delivered));
                }
            }
        }
        match unavailable {
            Some(answer) => Ok((answer, delivered)),
            None => Err(last.expect("at least one URL was tried")),
        }
    }

    fn is_down(&self) -> bool {
        let down = self.down_until.lock().unwrap_or_else(|e| e.into_inner());
        down.is_some_and(|until| Instant::now() < until)
    }

    fn mark_down(&self) {
        *self.down_until.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Instant::now() + DOWN_FOR);
    }

    /// The `host:port` of the URL in use.
    pub fn current_authority(&self) -> &str {
        match self.current.load(Ordering::Relaxed) {
            0 => &self.authority,
            i => self
                .fallbacks
                .get(i - 1)
                .map_or(&self.authority, |f| &f.authority),
        }
    }

    /// Posts `block` as the multipart file field `field`, to the endpoint's path or, with
    /// `suffix`, to the path with `/suffix` appended (a Universa node's `/connect`, …).
    pub async fn post_file(
        &self,
        suffix: Option<&str>,
        field: &str,
        block: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        let path = match suffix {
            Some(s) => format!("{}/{s}", self.path.trim_end_matches('/')),
            None => self.path.clone(),
        };
        tokio::time::timeout(self.timeout, self.send_inner(&path, field, block))
            .await
            .map_err(|_| TransportError::Timeout(self.timeout))?
    }

    /// The `host:port` this transport reaches.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    async fn send_inner(
        &self,
        path: &str,
        field: &str,
        block: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        let body = multipart(field, block);
        let mut connection = self.connection.lock().await;
        // A kept-alive connection the server closed fails at once: retry on a new one.
        for attempt in 0..2 {
            let sender = match connection.as_mut() {
                Some(s) if !s.is_closed() => s,
                _ => connection.insert(self.connect().await?),
            };
            let request = Request::builder()
                .method(Method::POST)
                .uri(path)
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
        let stream = tokio::time::timeout(
            CONNECT_TIMEOUT.min(self.timeout),
            TcpStream::connect(&self.authority),
        )
        .await
        .map_err(|_| {
            TransportError::Connect(
                self.authority.clone(),
                std::io::Error::new(std::io::ErrorKind::TimedOut, "no connection in time"),
            )
        })?
        .map_err(|e| TransportError::Connect(self.authority.clone(), e))?;
        let _ = stream.set_nodelay(true);
        if let Some((connector, name)) = &self.tls {
            let tls = connector
                .connect(name.clone(), stream)
                .await
                .map_err(|e| TransportError::Tls(format!("{}: {e}", self.authority)))?;
            let (sender, conn) = http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| TransportError::Http(e.to_string()))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            return Ok(sender);
        }
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}

/// Whether `answer` is the service's `parsec_unavailable` error.
fn is_unavailable(answer: &[u8]) -> bool {
    matches!(
        parsec1::message::decode_answer(answer),
        Ok(Err(e)) if e.code == parsec1::message::codes::UNAVAILABLE
    )
}

/// Spreading, unless `PARSEC1_SPREAD` says no.
fn spread_from_env() -> bool {
    !std::env::var(SPREAD_VARIABLE).is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "off" | "false" | "no"
        )
    })
}

/// TLS with the system's roots and the certificates of `extra_ca` (PEM).
fn tls_connector(extra_ca: Option<&Path>) -> Result<tokio_rustls::TlsConnector, TransportError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    // Certificates the system store has but rustls cannot parse are skipped, as browsers do.
    let native = rustls_native_certs::load_native_certs();
    let _ = roots.add_parsable_certificates(native.certs);
    if let Some(path) = extra_ca {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| TransportError::Tls(format!("CA file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(TransportError::Tls(format!(
                "CA file {}: no certificate in it",
                path.display()
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| TransportError::Tls(format!("CA file {}: {e}", path.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(TransportError::Tls(
            "no trusted roots: the system has none, and no CA file was given".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// The body uparsecjs sends: one file field (`cmd`) named `<time>.bin`.
fn multipart(field: &str, block: &[u8]) -> Bytes {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut body = Vec::with_capacity(block.len() + 256);
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{now}.bin\"\r\n\
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

    /// A server answering every request with `answer` (empty: closing the connection without
    /// an answer, as a node killed mid-call), counting them.
    async fn node(answer: Vec<u8>) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        node_with(Arc::new(move |_: &[u8]| {
            Some(answer.clone()).filter(|a| !a.is_empty())
        }))
        .await
    }

    type Handler = Arc<dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync>;

    /// A server answering each request with what `handler` makes of its `cmd` block (`None`:
    /// closing the connection without an answer), counting them.
    async fn node_with(
        handler: Handler,
    ) -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/p1", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let (handler, counted) = (handler.clone(), counted.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        // Headers, then as many body bytes as Content-Length says.
                        let mut chunk = [0u8; 4096];
                        let n = match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        let Some(end) = text.find("\r\n\r\n") else {
                            continue;
                        };
                        let length: usize = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() < end + 4 + length {
                            continue;
                        }
                        let body: Vec<u8> = buf.drain(..end + 4 + length).skip(end + 4).collect();
                        counted.fetch_add(1, Ordering::SeqCst);
                        // The block: after the part's headers, before the closing boundary.
                        let text_end = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                        let tail = format!("\r\n--{BOUNDARY}--\r\n").len();
                        let block = &body[text_end + 4..body.len() - tail];
                        let Some(answer) = handler(block) else {
                            return;
                        };
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                            answer.len()
                        );
                        if stream.write_all(head.as_bytes()).await.is_err()
                            || stream.write_all(&answer).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        (url, hits, task)
    }

    fn ok_answer() -> Vec<u8> {
        parsec1::message::encode_answer(&Ok(parsec_boss::Value::Int(1)))
    }

    /// Requests are spread over the URLs; a URL that refuses connections, or answers
    /// `parsec_unavailable`, is passed over and the same bytes go to the next.
    #[tokio::test]
    async fn requests_spread_over_the_urls_and_fail_over() {
        let (a, hits_a, _ta) = node(ok_answer()).await;
        let (b, hits_b, _tb) = node(ok_answer()).await;
        let both = || {
            HttpTransport::new(&a)
                .unwrap()
                .with_fallbacks(vec![HttpTransport::new(&b).unwrap()])
                .with_spread(true)
        };
        let t = both();
        for _ in 0..10 {
            assert_eq!(t.send(b"call").await.unwrap(), ok_answer());
        }
        assert_eq!(
            (hits_a.load(Ordering::SeqCst), hits_b.load(Ordering::SeqCst)),
            (5, 5)
        );
        // Without spreading, the URL that answered last keeps the requests.
        let ordered = both().with_spread(false);
        for _ in 0..4 {
            ordered.send(b"call").await.unwrap();
        }
        assert_eq!(hits_a.load(Ordering::SeqCst), 9);

        // A URL nobody listens on: every request still answered, by the other.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/p1", l.local_addr().unwrap())
        };
        let t = HttpTransport::new(&closed)
            .unwrap()
            .with_fallbacks(vec![HttpTransport::new(&b).unwrap()])
            .with_spread(true);
        let before = hits_b.load(Ordering::SeqCst);
        for _ in 0..6 {
            assert_eq!(t.send(b"call").await.unwrap(), ok_answer());
        }
        assert_eq!(hits_b.load(Ordering::SeqCst) - before, 6);

        // A node that cannot reach its store: the next one answers.
        let unavailable = parsec1::message::encode_answer(&Err(parsec1::RemoteError::new(
            parsec1::message::codes::UNAVAILABLE,
            "no store",
        )));
        let (c, hits_c, _tc) = node(unavailable.clone()).await;
        let t = HttpTransport::new(&c)
            .unwrap()
            .with_fallbacks(vec![HttpTransport::new(&b).unwrap()])
            .with_spread(false);
        assert_eq!(t.send(b"call").await.unwrap(), ok_answer());
        assert_eq!(hits_c.load(Ordering::SeqCst), 1);
        // Alone, its answer is the answer.
        let alone = HttpTransport::new(&c).unwrap();
        assert_eq!(alone.send(b"call").await.unwrap(), unavailable);
    }

    /// A node that takes the request and dies: when spreading (nodes sharing their state),
    /// the same bytes go to the next node and the answer says so; in order (nodes that do
    /// not share it), the loss is the caller's and nothing is sent again.
    #[tokio::test]
    async fn a_lost_answer_is_sent_again_only_when_the_nodes_share_their_state() {
        let (dies, hits_dies, _td) = node(Vec::new()).await;
        let (b, hits_b, _tb) = node(ok_answer()).await;
        let both = |spread| {
            HttpTransport::new(&dies)
                .unwrap()
                .with_fallbacks(vec![HttpTransport::new(&b).unwrap()])
                .with_spread(spread)
        };
        let ordered = both(false);
        assert!(matches!(
            ordered.send_tracked(b"call").await,
            Err(TransportError::Http(_))
        ));
        assert_eq!(
            (
                hits_dies.load(Ordering::SeqCst),
                hits_b.load(Ordering::SeqCst)
            ),
            (1, 0)
        );
        let spread = both(true);
        let (answer, resent) = spread.send_tracked(b"call").await.unwrap();
        assert_eq!((answer, resent), (ok_answer(), true));
        assert_eq!(
            (
                hits_dies.load(Ordering::SeqCst),
                hits_b.load(Ordering::SeqCst)
            ),
            (2, 1)
        );
        // That node is now tried last: the next request goes to the other first, not resent.
        let (_, resent) = spread.send_tracked(b"call").await.unwrap();
        assert!(!resent);
        assert_eq!(hits_dies.load(Ordering::SeqCst), 2);
    }

    /// The worst failover: node A runs a command and dies before answering, after its TSK was
    /// dropped. Node B (the same state) refuses the same bytes with `parsec_missing_tsk`, which
    /// would normally make the client run the command again under a new TSK: after a resend it
    /// reports the outcome as unknown instead, and the command ran once.
    #[tokio::test]
    async fn a_command_refused_after_a_resend_is_not_run_again() {
        use crate::parsec1::{Error, FixedServiceKeys, MemoryStorage, Options, Session, Storage};
        use parsec1::server::{Commands, RequestInfo, Server, Settings};
        let runs = Arc::new(AtomicUsize::new(0));
        let mut commands = Commands::new();
        let counted = runs.clone();
        commands.register_raw("count", move |_, _| {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(parsec_boss::Value::Int(n as i128))
        });
        let settings = Settings {
            test_pow_length: 4,
            guest_rate: 0,
            ..Settings::default()
        };
        let key = parsec1::PrivateKey::generate(2048).unwrap();
        let address = key.public_key().long_address().unwrap();
        let server = Arc::new(
            Server::new(
                settings,
                key,
                parsec1::server::MemorySessions::new(),
                commands,
            )
            .unwrap(),
        );
        let info = || RequestInfo {
            peer: "127.0.0.1".parse().unwrap(),
            now: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            now_ms: 0,
        };
        // A: answers, unless told to run the next request, drop the session's TSK, and die.
        let die_next = Arc::new(std::sync::Mutex::new(None::<String>));
        let a_handler: Handler = {
            let (server, die_next) = (server.clone(), die_next.clone());
            Arc::new(move |block: &[u8]| {
                let answer = server.handle(block, info());
                match die_next.lock().unwrap().take() {
                    Some(session) => {
                        server.drop_tsk(&session).unwrap();
                        None
                    }
                    None => Some(answer),
                }
            })
        };
        let b_handler: Handler = {
            let server = server.clone();
            Arc::new(move |block: &[u8]| Some(server.handle(block, info())))
        };
        let (a, _, _ta) = node_with(a_handler).await;
        let (b, _, _tb) = node_with(b_handler).await;
        let transport = HttpTransport::new(&a)
            .unwrap()
            .with_fallbacks(vec![HttpTransport::new(&b).unwrap()])
            .with_spread(true);
        let session = Session::new(
            transport,
            MemoryStorage::new(),
            FixedServiceKeys(vec![address]),
            Options {
                key_bits: 2048,
                test_mode: true,
            },
        );
        let count = || session.call_value("count", parsec_boss::Value::dict::<&str>([]));
        count().await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let sid = session.storage().get(crate::parsec1::SID).unwrap();
        // Requests alternate between the nodes: the next one starting at A is the one A runs
        // and dies on.
        loop {
            count().await.unwrap();
            if session.transport.next.load(Ordering::SeqCst) % 2 == 0 {
                break;
            }
        }
        let before = runs.load(Ordering::SeqCst);
        *die_next.lock().unwrap() = Some(sid);
        let e = count().await.unwrap_err();
        assert!(matches!(e, Error::OutcomeUnknown(_)), "{e}");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            before + 1,
            "run once, never twice"
        );
        // The session goes on (a new TSK) with the next call.
        count().await.unwrap();
    }

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
        let t = HttpTransport::new("https://service.test/p1").unwrap();
        assert_eq!(t.authority, "service.test:443");
        assert!(t.tls.is_some());
        let t = HttpTransport::new("https://[::1]:8443/p1").unwrap();
        assert_eq!(t.authority, "[::1]:8443");
        for bad in [
            "ftp://a/b",
            "a:1/b",
            "http:///x",
            "http://u@h:1/",
            "https://:1/x",
        ] {
            assert!(HttpTransport::new(bad).is_err(), "{bad}");
        }
    }
}
