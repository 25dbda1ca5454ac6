//! Wire protocol 1.0 over a Unix stream socket, with kept connections.
//!
//! A request goes out on an idle connection of the pool when one is alive, else on a new one;
//! after its answer the connection goes back to the pool (at most [`MAX_IDLE`] are kept).
//! Concurrent callers each take their own connection, so the pool grows to the number of
//! callers in flight.
//!
//! Upstream `parsec-service` answers one request per connection and closes it. A kept
//! connection that turns out closed is not an error: the request is sent on a new one (it
//! was never read, since the service closed before it). When kept connections are found
//! closed soon after their answer twice in a row, the service is taken to close after every
//! answer and connections are no longer kept; one successful reuse in between resets that.

use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parsec_wire::{Response, HEADER_LEN};
use zeroize::Zeroizing;

use crate::Error;

/// Idle connections kept at most.
pub const MAX_IDLE: usize = 8;

/// A kept connection found closed within this time of its last answer counts as a service
/// that closes after every answer. Our service keeps an idle connection for its listener
/// timeout (upstream's default: 200 ms).
const CLOSED_SOON: Duration = Duration::from_millis(100);

/// Closed-soon findings in a row after which connections are no longer kept.
const CLOSED_SOON_LIMIT: u8 = 2;

struct Idle {
    stream: UnixStream,
    since: Instant,
}

/// The Unix-socket transport.
pub(crate) struct UnixTransport {
    path: PathBuf,
    idle: Mutex<Vec<Idle>>,
    /// Closed-soon findings in a row; at [`CLOSED_SOON_LIMIT`], connections are not kept.
    closed_soon: AtomicU8,
}

impl UnixTransport {
    pub fn new(path: PathBuf) -> UnixTransport {
        UnixTransport {
            path,
            idle: Mutex::new(Vec::new()),
            closed_soon: AtomicU8::new(0),
        }
    }

    /// Whether connections are kept (false once the service was seen closing them).
    pub fn keeps_connections(&self) -> bool {
        self.closed_soon.load(Ordering::Relaxed) < CLOSED_SOON_LIMIT
    }

    /// Sends one encoded request and reads its answer, within `timeout` for each read and
    /// write (`None`: no limit).
    pub fn round_trip(
        &self,
        request: &[u8],
        timeout: Option<Duration>,
        body_limit: usize,
    ) -> Result<Response, Error> {
        if let Some(mut kept) = self.take_idle() {
            match exchange(&mut kept, request, timeout, body_limit) {
                Ok(response) => {
                    self.closed_soon.store(0, Ordering::Relaxed);
                    self.put_back(kept);
                    return Ok(response);
                }
                // Closed before any of the answer came: the service did not read the request.
                Err(Exchange::Unanswered(_)) => self.note_closed(),
                Err(e) => return Err(self.error(e, timeout)),
            }
        }
        let mut stream = self.connect()?;
        let response = exchange(&mut stream, request, timeout, body_limit)
            .map_err(|e| self.error(e, timeout))?;
        if self.keeps_connections() {
            self.put_back(stream);
        }
        Ok(response)
    }

    fn connect(&self) -> Result<UnixStream, Error> {
        UnixStream::connect(&self.path).map_err(|source| Error::NotRunning {
            path: self.path.clone(),
            source,
        })
    }

    /// An idle connection that is still open, if any; closed ones are dropped on the way.
    fn take_idle(&self) -> Option<UnixStream> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            if is_open(&idle.stream) {
                return Some(idle.stream);
            }
            if idle.since.elapsed() < CLOSED_SOON {
                self.note_closed();
            }
        }
    }

    fn note_closed(&self) {
        let _ = self
            .closed_soon
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(1))
            });
        if !self.keeps_connections() {
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    fn put_back(&self, stream: UnixStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE && self.keeps_connections() {
            idle.push(Idle {
                stream,
                since: Instant::now(),
            });
        }
    }

    fn error(&self, e: Exchange, timeout: Option<Duration>) -> Error {
        match e {
            Exchange::Unanswered(source) | Exchange::Io(source) => {
                if matches!(source.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                    Error::Timeout {
                        after: timeout.unwrap_or_default(),
                    }
                } else {
                    Error::Io {
                        path: self.path.clone(),
                        source,
                    }
                }
            }
            Exchange::Malformed(what) => Error::Protocol(what),
        }
    }
}

/// Whether the peer has not closed `stream` (and sent nothing unasked): one non-blocking peek.
fn is_open(stream: &UnixStream) -> bool {
    use rustix::net::{recv, RecvFlags};
    let mut byte = [0u8; 1];
    matches!(
        recv(stream, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT),
        Err(rustix::io::Errno::AGAIN)
    )
}

enum Exchange {
    /// The connection failed before any byte of the answer arrived.
    Unanswered(io::Error),
    /// It failed while the answer was arriving.
    Io(io::Error),
    Malformed(String),
}

fn exchange(
    stream: &mut UnixStream,
    request: &[u8],
    timeout: Option<Duration>,
    body_limit: usize,
) -> Result<Response, Exchange> {
    let io = Exchange::Io;
    stream.set_write_timeout(timeout).map_err(io)?;
    stream.set_read_timeout(timeout).map_err(io)?;
    stream.write_all(request).map_err(Exchange::Unanswered)?;
    let mut head = [0u8; HEADER_LEN];
    // The first read tells a closed connection (0 bytes) from an answer.
    let first = loop {
        match stream.read(&mut head) {
            Ok(0) => {
                return Err(Exchange::Unanswered(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "the service closed the connection without answering",
                )))
            }
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(Exchange::Io(e))
            }
            Err(e) => return Err(Exchange::Unanswered(e)),
        }
    };
    stream.read_exact(&mut head[first..]).map_err(io)?;
    let (header, body_len) = Response::decode_header(&head, body_limit)
        .map_err(|e| Exchange::Malformed(format!("the service's answer: {e}")))?;
    // The body may hold a secret (an exported key, a plaintext): the caller wipes it once
    // the result is decoded, and a partial one is wiped here.
    let mut body = Zeroizing::new(vec![0u8; body_len]);
    stream.read_exact(&mut body).map_err(io)?;
    Ok(Response {
        header,
        body: body.to_vec(),
    })
}
