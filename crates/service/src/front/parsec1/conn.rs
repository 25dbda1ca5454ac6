//! Bounds on the HTTP connections of the Parsec.1 front, so that slow or silent clients cannot
//! hold what others need:
//! - how many connections are served at once (further clients wait in the listen backlog),
//!   and how many of those one client address may hold (an IPv6 /64 counts as one; beyond
//!   that its new connections are closed at once);
//! - how long a connection may sit without moving a byte in either direction (`idle`);
//! - how long a request's header may take to arrive, from its first byte (`header`): a client
//!   dribbling a byte at a time cannot keep the idle clock from running out forever;
//! - when the whole request must have arrived (its first byte's time is kept for the handler,
//!   which bounds the body's arrival by it).

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

/// A TCP listener that hands out at most `max` connections at once, and at most
/// `max_per_address` to one client.
pub struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    per_address: PerAddress,
    max_per_address: usize,
    timeouts: Timeouts,
}

impl LimitedListener {
    pub fn new(
        inner: TcpListener,
        max: usize,
        max_per_address: usize,
        timeouts: Timeouts,
    ) -> LimitedListener {
        LimitedListener {
            inner,
            permits: Arc::new(Semaphore::new(max)),
            per_address: Arc::default(),
            max_per_address,
            timeouts,
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
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    let Some(slot) = self.admit(peer.ip()) else {
                        tracing::debug!("Parsec.1: {peer} holds its share of connections");
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
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
    /// A request's header is arriving: the last bytes seen (to find the blank line that ends
    /// it across reads), and when it must be complete.
    Header { tail: [u8; 3], by: Instant },
    /// The header has arrived; the handler bounds the body.
    Body,
}

/// An accepted connection: holds its slots until dropped, and fails once it has been idle for
/// the limit, or a request's header is late.
pub struct Conn {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    _slot: AddressSlot,
    timeouts: Timeouts,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
    request_started: Arc<Mutex<Instant>>,
}

impl Conn {
    fn new(
        stream: TcpStream,
        permit: OwnedSemaphorePermit,
        slot: AddressSlot,
        timeouts: Timeouts,
    ) -> Conn {
        let now = Instant::now();
        Conn {
            stream,
            _permit: permit,
            _slot: slot,
            timeouts,
            phase: Phase::Idle,
            deadline: Box::pin(tokio::time::sleep_until(now + timeouts.idle)),
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
        let tail = match self.phase {
            Phase::Body => return,
            Phase::Header { tail, .. } => tail,
            Phase::Idle => {
                let now = Instant::now();
                *lock(&self.request_started) = now;
                self.phase = Phase::Header {
                    tail: [0; 3],
                    by: now + self.timeouts.header,
                };
                [0; 3]
            }
        };
        let (complete, tail) = header_ends(tail, bytes);
        self.phase = match self.phase {
            _ if complete => Phase::Body,
            Phase::Header { by, .. } => Phase::Header { tail, by },
            other => other,
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

/// Whether the blank line ending an HTTP header (`\r\n\r\n`) is in `tail` (the last 3 bytes
/// seen before) followed by `bytes`; and the new tail.
fn header_ends(tail: [u8; 3], bytes: &[u8]) -> (bool, [u8; 3]) {
    const END: &[u8] = b"\r\n\r\n";
    // The blank line may straddle two reads: look at the old tail joined to the first bytes.
    let head = &bytes[..bytes.len().min(3)];
    let mut joint = [0u8; 6];
    joint[..3].copy_from_slice(&tail);
    joint[3..3 + head.len()].copy_from_slice(head);
    let found = memchr::memmem::find(&joint[..3 + head.len()], END).is_some()
        || memchr::memmem::find(bytes, END).is_some();
    let take = head.len();
    let mut next = [0u8; 3];
    next[..3 - take].copy_from_slice(&tail[take..]);
    next[3 - take..].copy_from_slice(&bytes[bytes.len() - take..]);
    (found, next)
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
    use super::header_ends;

    #[test]
    fn the_end_of_a_header_is_found_across_reads() {
        let whole = b"POST /api/p1 HTTP/1.1\r\nHost: x\r\n\r\nbody";
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            let (first, tail) = header_ends([0; 3], a);
            let (second, _) = header_ends(tail, b);
            assert!(first || second, "cut at {cut}");
        }
        // Byte by byte.
        let mut tail = [0; 3];
        let mut found_at = None;
        for (i, byte) in whole.iter().enumerate() {
            let (found, next) = header_ends(tail, std::slice::from_ref(byte));
            tail = next;
            if found && found_at.is_none() {
                found_at = Some(i);
            }
        }
        let end = whole.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 3;
        assert_eq!(found_at, Some(end));
        assert!(!header_ends([0; 3], b"GET / HTTP/1.1\r\nHost: x\r\n").0);
        assert!(!header_ends(*b"\r\n\r", b"x").0);
        assert!(header_ends(*b"x\r\n", b"\r\n").0);
    }
}
