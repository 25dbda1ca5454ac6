//! Bounds on the HTTP connections of the Parsec.1 front, so that slow or silent clients cannot
//! hold what others need:
//! - how many connections are served at once (further clients wait in the listen backlog),
//!   and how many of those one client address may hold (an IPv6 /64 counts as one; beyond
//!   that its new connections are closed at once);
//! - how long a connection may sit without moving a byte in either direction (`idle`);
//! - how long a request's header may take to arrive, from its first byte (`header`): a client
//!   dribbling a byte at a time cannot keep the idle clock from running out forever (the end
//!   of the header is found as hyper's parser finds it: see [`HeaderScan`]);
//! - when the whole request must have arrived (its first byte's time is kept for the handler,
//!   which bounds the body's arrival by it);
//! - on the HTTPS listener, how long the TLS handshake may take (`header`, from the accept):
//!   the handshake runs in the connection's own task, never in the accept loop.
//!
//! The HTTP and HTTPS listeners share one [`Limits`]: a client's connections count against the
//! same bounds whichever port they reach.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_rustls::server::TlsStream;
use tokio_rustls::{Accept, TlsAcceptor};

/// The time limits of one connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// No byte moved for this long: closed.
    pub idle: Duration,
    /// A request's header not complete this long after its first byte: closed.
    pub header: Duration,
}

/// Connections held per client address.
type PerAddress = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// The connection bounds of the front: at most `max` connections at once, and at most
/// `max_per_address` to one client, over all of its listeners.
#[derive(Clone)]
pub struct Limits {
    permits: Arc<Semaphore>,
    per_address: PerAddress,
    max_per_address: usize,
}

impl Limits {
    pub fn new(max: usize, max_per_address: usize) -> Limits {
        Limits {
            permits: Arc::new(Semaphore::new(max)),
            per_address: Arc::default(),
            max_per_address,
        }
    }

    /// Counts a connection of `peer`, unless it already holds its share.
    fn admit(&self, peer: IpAddr) -> Option<AddressSlot> {
        let client = parsec1::server::client_of(peer);
        let mut held = lock(&self.per_address);
        let n = held.entry(client).or_default();
        if *n >= self.max_per_address {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            client,
            per_address: self.per_address.clone(),
        })
    }
}

/// A TCP listener that hands out connections within its [`Limits`], over TLS when it has an
/// acceptor.
pub struct LimitedListener {
    inner: TcpListener,
    limits: Limits,
    timeouts: Timeouts,
    tls: Option<TlsAcceptor>,
}

impl LimitedListener {
    pub fn new(
        inner: TcpListener,
        limits: Limits,
        timeouts: Timeouts,
        tls: Option<TlsAcceptor>,
    ) -> LimitedListener {
        LimitedListener {
            inner,
            limits,
            timeouts,
            tls,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every change under this lock is one counter update.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One counted connection of a client; uncounted when dropped.
struct AddressSlot {
    client: IpAddr,
    per_address: PerAddress,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut held = lock(&self.per_address);
        if let Some(n) = held.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.client);
            }
        }
    }
}

impl axum::serve::Listener for LimitedListener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        let permit = self
            .limits
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    let Some(slot) = self.limits.admit(peer.ip()) else {
                        tracing::debug!("Parsec.1: {peer} holds its share of connections");
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let stream = match &self.tls {
                        None => Stream::Plain(stream),
                        Some(acceptor) => Stream::Handshake(Box::new(acceptor.accept(stream))),
                    };
                    return (Conn::new(stream, permit, slot, self.timeouts), peer);
                }
                Err(e) => {
                    // Out of descriptors or memory: back off instead of spinning.
                    tracing::warn!("Parsec.1: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// The peer of a connection, for `ConnectInfo`: its address, and when the request being
/// served began to arrive.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    request_started: Arc<Mutex<Instant>>,
}

impl Peer {
    /// When the first byte of the request now being read arrived.
    pub fn request_started(&self) -> Instant {
        *lock(&self.request_started)
    }
}

impl Connected<IncomingStream<'_, LimitedListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, LimitedListener>) -> Peer {
        Peer {
            addr: *stream.remote_addr(),
            request_started: stream.io().request_started.clone(),
        }
    }
}

/// Where a connection stands, as far as its bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request (just accepted, or an answer was written).
    Idle,
    /// A request's header is arriving: where the reading of it stands, and when it must be
    /// complete.
    Header { scan: HeaderScan, by: Instant },
    /// The header has arrived; the handler bounds the body.
    Body,
}

/// The bytes of a connection: plain, or TLS (its handshake first, driven by the first read or
/// write).
enum Stream {
    Plain(TcpStream),
    Handshake(Box<Accept<TcpStream>>),
    Tls(Box<TlsStream<TcpStream>>),
    /// The handshake failed (polling tokio-rustls's `Accept` again would panic).
    Failed,
}

impl Stream {
    /// Drives the handshake; `Ready(Ok)` once the stream carries data.
    fn ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Stream::Handshake(accept) = self {
            match Pin::new(&mut **accept).poll(cx) {
                Poll::Ready(Ok(tls)) => *self = Stream::Tls(Box::new(tls)),
                Poll::Ready(Err(e)) => {
                    *self = Stream::Failed;
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        if let Stream::Failed = self {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the TLS handshake failed",
            )));
        }
        Poll::Ready(Ok(()))
    }

    fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        std::task::ready!(self.ready(cx))?;
        match &mut *self {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Handshake(_) | Stream::Failed => {
                unreachable!("ready() finished the handshake or failed")
            }
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.ready(cx))?;
        match &mut *self {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Handshake(_) | Stream::Failed => {
                unreachable!("ready() finished the handshake or failed")
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        std::task::ready!(self.ready(cx))?;
        match &mut *self {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Handshake(_) | Stream::Failed => {
                unreachable!("ready() finished the handshake or failed")
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
            Stream::Handshake(_) | Stream::Failed => false,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
            Stream::Handshake(_) | Stream::Failed => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *self {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Handshake(_) | Stream::Failed => Poll::Ready(Ok(())),
        }
    }
}

/// An accepted connection: holds its slots until dropped, and fails once it has been idle for
/// the limit, or a request's header (or the TLS handshake) is late.
pub struct Conn {
    stream: Stream,
    _permit: OwnedSemaphorePermit,
    _slot: AddressSlot,
    timeouts: Timeouts,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    request_started: Arc<Mutex<Instant>>,
}

impl Conn {
    fn new(
        stream: Stream,
        permit: OwnedSemaphorePermit,
        slot: AddressSlot,
        timeouts: Timeouts,
    ) -> Conn {
        let now = Instant::now();
        // No byte of a request reaches us before the handshake is done, and nothing during it
        // moves the clock on: the handshake must end within the header's limit.
        let first = if stream.is_tls() {
            timeouts.idle.min(timeouts.header)
        } else {
            timeouts.idle
        };
        Conn {
            stream,
            _permit: permit,
            _slot: slot,
            timeouts,
            phase: Phase::Idle,
            deadline: Box::pin(tokio::time::sleep_until(now + first)),
            request_started: Arc::new(Mutex::new(now)),
        }
    }

    /// After bytes moved: the idle clock starts again, but never past a header's deadline.
    fn progressed(&mut self) {
        let mut next = Instant::now() + self.timeouts.idle;
        if let Phase::Header { by, .. } = self.phase {
            next = next.min(by);
        }
        self.deadline.as_mut().reset(next);
    }

    /// Follows the request through the bytes just read.
    fn received(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let scan = match self.phase {
            Phase::Body => return,
            Phase::Header { scan, .. } => scan,
            Phase::Idle => {
                let now = Instant::now();
                *lock(&self.request_started) = now;
                self.phase = Phase::Header {
                    scan: HeaderScan::default(),
                    by: now + self.timeouts.header,
                };
                HeaderScan::default()
            }
        };
        self.phase = match (scan.feed(bytes), self.phase) {
            (None, _) => Phase::Body,
            (Some(scan), Phase::Header { by, .. }) => Phase::Header { scan, by },
            (Some(_), other) => other,
        };
    }

    /// While waiting: an error once a deadline has passed.
    fn check_deadline(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                match self.phase {
                    Phase::Header { .. } => "request header not received in time",
                    _ => "idle connection closed",
                },
            )),
            Poll::Pending => Ok(()),
        }
    }

    fn after<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(r) => {
                self.progressed();
                Poll::Ready(r)
            }
            Poll::Pending => match self.check_deadline(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        }
    }

    fn wrote(&mut self, polled: &Poll<io::Result<usize>>) {
        if matches!(polled, Poll::Ready(Ok(n)) if *n > 0) {
            self.phase = Phase::Idle;
        }
    }
}

/// Where the reading of a request's header stands, byte by byte, as hyper's parser (httparse)
/// reads it: blank lines before the request line are skipped (so they cannot end the header
/// early and free it from its deadline), and a line ends at `\n` with or without `\r`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct HeaderScan {
    /// A byte of the request line has been seen.
    started: bool,
    /// The current line has no byte yet but a `\r`.
    at_line_start: bool,
}

impl HeaderScan {
    /// Reads `bytes`; `None` once the blank line that ends the header has been read.
    pub(crate) fn feed(mut self, bytes: &[u8]) -> Option<HeaderScan> {
        for &byte in bytes {
            match byte {
                b'\r' | b'\n' if !self.started => {}
                _ if !self.started => self.started = true,
                b'\n' if self.at_line_start => return None,
                b'\n' => self.at_line_start = true,
                b'\r' => {}
                _ => self.at_line_start = false,
            }
        }
        Some(self)
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.received(&buf.filled()[before..]);
        }
        self.after(cx, polled)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.wrote(&polled);
        self.after(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(&polled);
        self.after(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.after(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderScan;

    /// Whether the header is complete after `parts`, fed one after the other.
    fn after(parts: &[&[u8]]) -> bool {
        parts
            .iter()
            .try_fold(HeaderScan::default(), |scan, part| scan.feed(part))
            .is_none()
    }

    #[test]
    fn the_end_of_a_header_is_found_across_reads() {
        let whole = b"POST /api/p1 HTTP/1.1\r\nHost: x\r\n\r\nbody";
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            assert!(after(&[a, b]), "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = whole.iter().map(std::slice::from_ref).collect();
        let end = whole.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(!after(&bytes[..end - 1]));
        assert!(after(&bytes[..end]));
        assert!(!after(&[b"GET / HTTP/1.1\r\nHost: x\r\n"]));
        // Bare line feeds end lines too, as httparse reads them.
        assert!(after(&[b"GET / HTTP/1.1\nHost: x\n\n"]));
    }

    /// httparse skips blank lines before the request line: they must not end the header
    /// (a client sending `\r\n\r\n` first would then dribble its header with no deadline).
    #[test]
    fn blank_lines_before_the_request_line_do_not_end_it() {
        assert!(!after(&[b"\r\n\r\n"]));
        assert!(!after(&[b"\r\n\r\n\n\n", b"\r\n"]));
        assert!(!after(&[b"\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\n"]));
        assert!(after(&[b"\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\n\r\n"]));
    }
}
