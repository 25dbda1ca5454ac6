//! Wire protocol 1.0 over a Unix stream socket, with kept connections.
//!
//! A request goes out on an idle connection of the pool when one is alive, else on a new one;
//! after its answer the connection goes back to the pool (at most [`MAX_IDLE`] are kept).
//! Concurrent callers each take their own connection, so the pool grows to the number of
//! callers in flight.
//!
//! Upstream `parsec-service` answers one request per connection and closes it. A kept
//! connection that turns out closed is not an error: the request is sent on a new one, but
//! only when the service provably did not read it (the write failed, or the read failed with
//! ECONNRESET, which Linux reports when a peer closes with our bytes unread). A clean end of
//! stream after the request was written means the service read it and may have run it: that
//! is an error, never a retry. When kept connections are found closed soon after their answer
//! twice in a row, the service is taken to close after every answer and connections are no
//! longer kept; one successful reuse in between resets that. Connections idle for longer than
//! [`MAX_IDLE_AGE`] are not reused (a service closes idle connections after its listener
//! timeout, 200 ms by upstream's default).
//!
//! Each call has one deadline, `timeout` after it starts, for connecting, writing and reading
//! the whole answer: a service that trickles its answer cannot hold a caller longer.

use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parsec_wire::{Response, HEADER_LEN};
use zeroize::Zeroizing;

use crate::Error;

/// Idle connections kept at most.
pub const MAX_IDLE: usize = 8;

/// Idle connections older than this are closed rather than reused.
pub const MAX_IDLE_AGE: Duration = Duration::from_millis(100);

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
    /// How long a lone caller polls for its answer before it sleeps in `read`.
    spin: Duration,
    /// Calls in flight on this transport.
    in_flight: AtomicUsize,
    idle: Mutex<Vec<Idle>>,
    /// Closed-soon findings in a row; at [`CLOSED_SOON_LIMIT`], connections are not kept.
    closed_soon: AtomicU8,
}

impl UnixTransport {
    pub fn new(path: PathBuf, spin: Duration) -> UnixTransport {
        UnixTransport {
            path,
            spin,
            in_flight: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
            closed_soon: AtomicU8::new(0),
        }
    }

    /// Whether connections are kept (false once the service was seen closing them).
    pub fn keeps_connections(&self) -> bool {
        self.closed_soon.load(Ordering::Relaxed) < CLOSED_SOON_LIMIT
    }

    /// Sends one encoded request and reads its answer, all within `timeout` (`None`: no
    /// limit).
    pub fn round_trip(
        &self,
        request: &[u8],
        timeout: Option<Duration>,
        body_limit: usize,
    ) -> Result<Response, Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let _flight = InFlight::enter(&self.in_flight);
        // Polling only pays while this is the one call waiting: with more, the CPU it would
        // burn is the service's.
        let spin = if self.in_flight.load(Ordering::Relaxed) == 1 {
            self.spin
        } else {
            Duration::ZERO
        };
        if let Some(mut kept) = self.take_idle() {
            match exchange(&mut kept, request, deadline, body_limit, spin) {
                Ok(response) => {
                    self.closed_soon.store(0, Ordering::Relaxed);
                    self.put_back(kept);
                    return Ok(response);
                }
                // The service closed before reading the request: send it on a new connection.
                Err(Exchange::Unread(_)) => self.note_closed(),
                Err(e) => return Err(self.error(e, timeout, true)),
            }
        }
        let mut stream = self.connect(deadline, timeout)?;
        let response = exchange(&mut stream, request, deadline, body_limit, spin)
            .map_err(|e| self.error(e, timeout, false))?;
        if self.keeps_connections() {
            self.put_back(stream);
        }
        Ok(response)
    }

    /// Connects by the deadline: a Unix connect blocks while the listen backlog is full, so
    /// it is made non-blocking and retried.
    fn connect(
        &self,
        deadline: Option<Instant>,
        timeout: Option<Duration>,
    ) -> Result<UnixStream, Error> {
        use rustix::net::{
            connect, socket_with, AddressFamily, SocketAddrUnix, SocketFlags, SocketType,
        };
        let not_running = |source: io::Error| Error::NotRunning {
            path: self.path.clone(),
            source,
        };
        let address = SocketAddrUnix::new(&self.path).map_err(|e| not_running(e.into()))?;
        let fd = socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| not_running(e.into()))?;
        let mut pause = Duration::from_micros(50);
        loop {
            match connect(&fd, &address) {
                Ok(()) => break,
                Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(Error::Timeout {
                            after: timeout.unwrap_or_default(),
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                Err(e) => return Err(not_running(e.into())),
            }
        }
        let stream = UnixStream::from(fd);
        stream.set_nonblocking(false).map_err(not_running)?;
        Ok(stream)
    }

    /// An idle connection that is still open, if any; closed ones are dropped on the way.
    fn take_idle(&self) -> Option<UnixStream> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
            let age = idle.since.elapsed();
            if age > MAX_IDLE_AGE {
                // Older ones are further down the stack: drop them all.
                self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
                return None;
            }
            if is_open(&idle.stream) {
                return Some(idle.stream);
            }
            if age < CLOSED_SOON {
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

    fn error(&self, e: Exchange, timeout: Option<Duration>, kept: bool) -> Error {
        match e {
            Exchange::Unread(source) | Exchange::Io(source) => {
                if matches!(source.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                    Error::Timeout {
                        after: timeout.unwrap_or_default(),
                    }
                } else {
                    let which = if kept { "a kept" } else { "a new" };
                    Error::Io {
                        path: self.path.clone(),
                        source: io::Error::new(
                            source.kind(),
                            format!("{source} (on {which} connection)"),
                        ),
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
    /// The connection failed and the service provably did not read the request.
    Unread(io::Error),
    /// It failed after the service may have read the request.
    Io(io::Error),
    Malformed(String),
}

fn timed_out() -> io::Error {
    io::Error::new(ErrorKind::TimedOut, "the call's deadline passed")
}

/// Sets the socket's timeouts to what is left until `deadline`.
fn arm(stream: &UnixStream, deadline: Option<Instant>) -> io::Result<()> {
    let left = match deadline {
        None => None,
        Some(d) => Some(
            d.checked_duration_since(Instant::now())
                .filter(|l| !l.is_zero())
                .ok_or_else(timed_out)?,
        ),
    };
    stream.set_write_timeout(left)?;
    stream.set_read_timeout(left)
}

/// Reads all of `buf` by the deadline.
fn read_all(stream: &mut UnixStream, buf: &mut [u8], deadline: Option<Instant>) -> io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        arm(stream, deadline)?;
        match stream.read(&mut buf[at..]) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => at += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Counts a call in flight while it lives.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> InFlight<'a> {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(counter)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Polls for the first byte of the answer for up to `spin`, yielding the CPU between polls.
/// A caller that sleeps in `read` is woken through the scheduler, which on a virtual machine
/// can cost more than the service's whole answer; one that stays runnable is not.
///
/// A pending socket error is reported by the first call that sees it, and then cleared: an
/// error the poll sees is returned here, or the read that follows would find only the end of
/// the stream (and take an unread request for one the service read).
fn await_answer(stream: &UnixStream, spin: Duration) -> Option<io::Error> {
    use rustix::net::{recv, RecvFlags};
    let start = Instant::now();
    let mut byte = [0u8; 1];
    while start.elapsed() < spin {
        match recv(stream, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {
                std::thread::yield_now()
            }
            Err(e) => return Some(e.into()),
            // Data or end of stream: the read that follows finds out which.
            Ok(_) => return None,
        }
    }
    None
}

fn exchange(
    stream: &mut UnixStream,
    request: &[u8],
    deadline: Option<Instant>,
    body_limit: usize,
    spin: Duration,
) -> Result<Response, Exchange> {
    // Nothing of a failed write is a whole request: the service cannot have run it.
    let mut at = 0;
    while at < request.len() {
        arm(stream, deadline).map_err(Exchange::Io)?;
        match stream.write(&request[at..]) {
            Ok(0) => return Err(Exchange::Unread(ErrorKind::WriteZero.into())),
            Ok(n) => at += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(Exchange::Io(e))
            }
            Err(e) => return Err(Exchange::Unread(e)),
        }
    }
    if !spin.is_zero() {
        if let Some(e) = await_answer(stream, spin) {
            return Err(if e.kind() == ErrorKind::ConnectionReset {
                Exchange::Unread(e)
            } else {
                Exchange::Io(e)
            });
        }
    }
    let mut head = [0u8; HEADER_LEN];
    // The first read tells a connection closed with our request unread (ECONNRESET) from one
    // closed after reading it (end of stream) and from an answer.
    let first = loop {
        arm(stream, deadline).map_err(Exchange::Io)?;
        match stream.read(&mut head) {
            Ok(0) => {
                return Err(Exchange::Io(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "the service closed the connection without answering",
                )))
            }
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Err(Exchange::Unread(e)),
            Err(e) => return Err(Exchange::Io(e)),
        }
    };
    read_all(stream, &mut head[first..], deadline).map_err(Exchange::Io)?;
    let (header, body_len) = Response::decode_header(&head, body_limit)
        .map_err(|e| Exchange::Malformed(format!("the service's answer: {e}")))?;
    // The body may hold a secret (an exported key, a plaintext): the caller wipes it once
    // the result is decoded, and a partial one is wiped here.
    let mut body = Zeroizing::new(vec![0u8; body_len]);
    read_all(stream, &mut body, deadline).map_err(Exchange::Io)?;
    Ok(Response {
        header,
        body: body.to_vec(),
    })
}
