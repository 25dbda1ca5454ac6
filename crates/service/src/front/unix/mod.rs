//! The Unix-socket front end: wire protocol 1.0 over a stream socket.
//!
//! Each connection is served from accept to close by one thread of a pool, with blocking reads
//! and writes. The threads wait in `accept` themselves, so the kernel hands each new connection
//! straight to one idle thread: no event-loop registration and no hand-over between threads.
//! (With tokio tasks, those took more of the daemon's CPU than its own code did; see
//! BENCHMARKS.md, "Hardware providers".)
//!
//! The pool starts with `floor` threads. When a thread takes a connection and no other thread
//! is left waiting, it starts one more, up to `max_connections`; further clients wait in the
//! listen backlog until a connection ends. A thread that has found nothing to accept for
//! [`IDLE_EXIT`] ends while more than `floor` remain.
//!
//! Each request must arrive whole within the listener timeout, counted from when the service
//! starts waiting for it, and its answer must be written within it. Upstream serves one
//! request per connection; a client that sends another request on the same connection is
//! served too.
//!
//! One peer UID holds at most `max_per_uid` of the connections at once, so that the other UIDs
//! keep the rest of the pool. A further connection of that UID waits up to [`ADMIT_WAIT`] for
//! one of its connections to end (a client that opens a connection per request, as upstream's
//! does, holds its slots a little longer than its requests while the CPUs are busy), then is
//! closed unanswered; at most an eighth of the share (and [`MAX_WAITING_PER_UID`]) wait at
//! once, the others are closed at once, so a UID holds at most 9/8 of its share of threads.
//!
//! On stop, no new connection is served, connections waiting for a request are closed, and
//! requests already arriving are read, answered and closed. A panic while serving a connection
//! closes that connection only: its thread and slots are released and the thread serves on.
//!
//! The parts: `pool` (the threads, the UID shares, stopping), `conn` (a connection's buffer
//! and deadlines) and, here, reading each request and writing its answer.

mod conn;
mod pool;

use std::io::{self, ErrorKind};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Instant;

use parsec_wire::{Framed, HeaderError, RawHeader, RequestReader, Response, Step};
use zeroize::{Zeroize, Zeroizing};

use crate::auth::Peer;
use crate::dispatch::{Current, Limits};
use conn::Conn;
use pool::Pool;
pub use pool::{Front, PoolSize, ADMIT_WAIT, DEFAULT_FLOOR, IDLE_EXIT, MAX_WAITING_PER_UID};

/// What the front hands each framed request to: the running service (a stand-in in tests).
pub trait Handler: Send + Sync + 'static {
    /// The limits of the next request.
    fn limits(&self) -> Limits;
    /// The answer to one framed request.
    fn handle(&self, raw: &RawHeader, body: &[u8], auth: &[u8], peer: Peer) -> Response;
}

impl Handler for Current {
    fn limits(&self) -> Limits {
        self.get().limits()
    }

    fn handle(&self, raw: &RawHeader, body: &[u8], auth: &[u8], peer: Peer) -> Response {
        self.get().handle(raw, body, auth, peer)
    }
}

/// What reading the next request gave.
enum Next {
    /// The client closed the connection, or went quiet between requests, or we are stopping.
    Closed,
    /// The request cannot be framed: answer with the default header, then close.
    Refused(HeaderError),
    /// A framed request, ready for the dispatcher: body and auth part wiped when dropped (a
    /// body may carry key material or a plaintext).
    Request(Framed),
}

impl Pool {
    fn serve(&self, id: u64, stream: UnixStream) {
        let peer = Peer {
            uid: rustix::net::sockopt::socket_peercred(&stream)
                .ok()
                .map(|c| c.uid.as_raw()),
        };
        let Some(_slot) = self.admit(peer.uid) else {
            tracing::debug!(
                "UID {:?} holds its {} connections: closing another",
                peer.uid,
                self.max_per_uid
            );
            return;
        };
        let stream = Arc::new(stream);
        let mut conn = Conn::new(&stream);
        let mut first = true;
        // Requests served on this connection: from the second on, the client reuses it.
        let mut served = 0u32;
        loop {
            let limits = self.handler.limits();
            let next = self.read_request(id, &mut conn, &limits, first, served >= 2);
            let Some((bytes, keep_open)) = answer(&*self.handler, next, peer) else {
                return;
            };
            if conn
                .write_all_by(&bytes, Instant::now() + limits.timeout)
                .is_err()
            {
                return;
            }
            if !keep_open {
                let _ = stream.shutdown(Shutdown::Write);
                return;
            }
            first = false;
            served = served.saturating_add(1);
        }
    }

    /// Reads the next request; `reused`: the client has sent more than one on this connection
    /// (then the first byte is polled for before the thread sleeps).
    fn read_request(
        &self,
        id: u64,
        conn: &mut Conn<'_>,
        limits: &Limits,
        first: bool,
        reused: bool,
    ) -> Next {
        let deadline = Instant::now() + limits.timeout;
        // The first byte: the client may close, stay quiet, or we may be asked to stop.
        if conn.buffered() == 0 {
            if reused {
                self.poll_next(conn.stream);
            }
            if !self.wait_begins(id, conn.stream) {
                return Next::Closed;
            }
            let got = conn.fill(deadline);
            self.wait_ends(id);
            match got {
                Ok(0) => return Next::Closed,
                Ok(_) => {}
                // Upstream answers a client that never sends anything with ConnectionError;
                // a client that goes quiet after a served request is simply closed.
                Err(e) if is_timeout(&e) && first => return Next::Refused(HeaderError::Truncated),
                Err(_) => return Next::Closed,
            }
        }
        // The request through the wire crate's reader: each part checked as it completes.
        let mut reader = RequestReader::new(limits.body_len);
        loop {
            let Some(n) = conn.read_some(reader.space(), deadline) else {
                return Next::Refused(HeaderError::Truncated);
            };
            match reader.filled(n) {
                Step::More => {}
                Step::Refused(e) => return Next::Refused(e),
                Step::Ready => break,
            }
        }
        match reader.finish() {
            Some(framed) => Next::Request(framed),
            None => Next::Refused(HeaderError::Truncated),
        }
    }
}

/// The encoded answer to what reading gave, and whether the connection stays open; `None`:
/// close without an answer. An answer may carry exported key material or a plaintext: both
/// copies are wiped (the encoded one when the caller drops it).
fn answer(handler: &dyn Handler, next: Next, peer: Peer) -> Option<(Zeroizing<Vec<u8>>, bool)> {
    let (mut response, keep_open) = match next {
        Next::Closed => return None,
        Next::Refused(error) => {
            tracing::debug!("refused request: {error}");
            (Response::header_error(error), false)
        }
        Next::Request(r) => (handler.handle(&r.header, &r.body, &r.auth, peer), true),
    };
    let encoded = response.encode().map(Zeroizing::new);
    response.body.zeroize();
    match encoded {
        Ok(bytes) => Some((bytes, keep_open)),
        Err(_) => {
            tracing::error!("response too large to encode");
            None
        }
    }
}

/// Serves one connection's worth of bytes without a socket: the requests in `input`, read by
/// the same reader and answered by the same code as on the socket, answers concatenated. The
/// input ending mid-request is answered as a request cut short on the socket is; the input
/// ending between requests closes. For the fuzz target that drives the whole service.
pub fn serve_bytes(handler: &dyn Handler, mut input: &[u8], peer: Peer) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let limits = handler.limits();
        let mut reader = RequestReader::new(limits.body_len);
        let (used, step) = reader.feed(input);
        input = &input[used..];
        let next = match step {
            Step::More if reader.is_empty() => Next::Closed,
            Step::More => Next::Refused(HeaderError::Truncated),
            Step::Refused(e) => Next::Refused(e),
            Step::Ready => match reader.finish() {
                Some(framed) => Next::Request(framed),
                None => Next::Refused(HeaderError::Truncated),
            },
        };
        let Some((bytes, keep_open)) = answer(handler, next, peer) else {
            return out;
        };
        out.extend_from_slice(&bytes);
        if !keep_open {
            return out;
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}
