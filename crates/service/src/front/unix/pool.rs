//! The thread pool: threads that accept and serve connections, growing from the floor to the
//! maximum and ending when idle, the per-UID shares of connections, and stopping.

use std::collections::HashMap;
use std::io::{self, ErrorKind};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{is_timeout, Handler};

/// How long a thread beyond the pool's floor waits for a connection before it ends.
pub const IDLE_EXIT: Duration = Duration::from_secs(5);

/// Threads kept ready when `thread_pool_size` is not set and the machine has fewer CPUs. A
/// client of upstream's library opens a connection per request and keeps it until it has read
/// the answer, so even one client keeps more than one thread busy; on a 2-CPU machine, 8 ready
/// threads served one client about 9% faster than 2 (`bench/run-hardware.sh`).
pub const DEFAULT_FLOOR: usize = 8;

/// How long a connection beyond its UID's share waits for one of that UID's connections to end.
#[cfg(not(test))]
pub const ADMIT_WAIT: Duration = Duration::from_millis(50);
/// Longer in unit tests, whose timing a busy machine stretches.
#[cfg(test)]
pub const ADMIT_WAIT: Duration = Duration::from_millis(500);

/// Connections of one UID waiting for a slot at most (each holds a thread meanwhile); fewer
/// for a small share: an eighth of it, so that a UID holds at most 9/8 of its share of the
/// threads (a share under 8 does not wait).
pub const MAX_WAITING_PER_UID: usize = 8;

/// After answering a request on a kept connection, how long a thread polls for the next one
/// (yielding the CPU between polls) before it sleeps in `read`. A client that reuses its
/// connection usually sends the next request within microseconds, and waking a sleeping
/// thread costs more than that on a virtual machine (measured in BENCHMARKS.md, "Client
/// library"). Only connections on which a client has sent a second request poll (upstream's
/// clients send one per connection), and at most [`Pool::max_pollers`] threads at once.
const POLL_NEXT: Duration = Duration::from_micros(50);

/// The running front end.
pub struct Front {
    pool: Arc<Pool>,
}

pub(super) struct Pool {
    listener: UnixListener,
    pub(super) handler: Arc<dyn Handler>,
    floor: usize,
    max: usize,
    pub(super) max_per_uid: usize,
    state: Mutex<State>,
    /// Signalled when a thread stops serving while the pool is stopping.
    served: Condvar,
    /// Signalled when a connection's UID slot is released.
    slot_freed: Condvar,
    /// Threads polling a kept connection for its next request (see [`POLL_NEXT`]).
    pollers: AtomicUsize,
    /// At most this many poll at once: half the CPUs, so that polling never takes the CPUs
    /// that serve requests.
    max_pollers: usize,
}

#[derive(Default)]
struct State {
    /// Threads alive.
    threads: usize,
    /// Threads waiting in `accept` (the others serve a connection).
    idle: usize,
    stopping: bool,
    /// Connections waiting for the first byte of a request, by connection number: on stop,
    /// their reads are ended so they close at once.
    waiting: HashMap<u64, Arc<UnixStream>>,
    next_connection: u64,
    /// Connections served per peer UID (`None`: the UID could not be read).
    per_uid: HashMap<Option<u32>, usize>,
    /// Connections waiting for a slot of their UID, per UID.
    admitting: HashMap<Option<u32>, usize>,
}

/// The sizes of the pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolSize {
    /// Threads kept ready.
    pub floor: usize,
    /// Connections served at once (threads at most).
    pub max_connections: usize,
    /// Connections one peer UID may hold at once.
    pub max_per_uid: usize,
}

impl Front {
    /// Starts serving `listener` (a blocking socket) with `size.floor` threads, growing to at
    /// most `size.max_connections`.
    pub fn start(
        listener: UnixListener,
        handler: Arc<dyn Handler>,
        size: PoolSize,
    ) -> io::Result<Front> {
        listener.set_nonblocking(false)?;
        // `accept` then returns every IDLE_EXIT at most, so threads beyond the floor can end.
        rustix::net::sockopt::set_socket_timeout(
            &listener,
            rustix::net::sockopt::Timeout::Recv,
            Some(IDLE_EXIT),
        )?;
        let max = size.max_connections.max(1);
        let floor = size.floor.clamp(1, max);
        let pool = Arc::new(Pool {
            listener,
            handler,
            floor,
            max,
            max_per_uid: size.max_per_uid.max(1),
            state: Mutex::new(State {
                threads: floor,
                idle: floor,
                ..State::default()
            }),
            served: Condvar::new(),
            slot_freed: Condvar::new(),
            pollers: AtomicUsize::new(0),
            max_pollers: std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
        });
        for _ in 0..pool.floor {
            pool.clone().spawn()?;
        }
        Ok(Front { pool })
    }

    /// Stops serving and waits until every connection being served has ended. With
    /// `close_listener`, the listening socket is shut too: waiting threads end, and new
    /// clients are refused at once instead of queueing. (Not for a socket systemd passed:
    /// systemd keeps it for the next start.)
    pub fn stop(&self, close_listener: bool) {
        let mut state = self.pool.lock();
        state.stopping = true;
        self.pool.slot_freed.notify_all();
        for stream in state.waiting.values() {
            let _ = stream.shutdown(Shutdown::Read);
        }
        if close_listener {
            let _ = rustix::net::shutdown(&self.pool.listener, rustix::net::Shutdown::Read);
        }
        let busy = state.threads - state.idle;
        if busy > 0 {
            tracing::info!("stopped accepting; draining {busy} connection(s)");
        }
        while state.threads > state.idle {
            state = self
                .pool
                .served
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a thread, already counted in `threads` and `idle`.
    fn spawn(self: Arc<Self>) -> io::Result<()> {
        std::thread::Builder::new()
            .name("parsec-unix".into())
            .spawn(move || self.run())
            .map(drop)
    }

    /// One thread's life: accept, serve, repeat.
    fn run(self: Arc<Self>) {
        loop {
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) => {
                    let mut state = self.lock();
                    // Stopping (the listener shut), or idle for IDLE_EXIT beyond the floor.
                    if state.stopping || (is_timeout(&e) && state.threads > self.floor) {
                        state.threads -= 1;
                        state.idle -= 1;
                        return;
                    }
                    drop(state);
                    if is_timeout(&e) || e.kind() == ErrorKind::Interrupted {
                        continue;
                    }
                    // Out of descriptors or memory: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            let mut state = self.lock();
            state.idle -= 1;
            if state.stopping {
                state.threads -= 1;
                self.served.notify_all();
                return;
            }
            state.next_connection += 1;
            let id = state.next_connection;
            // The last waiting thread took this one: start another, counted before it runs.
            let grow = state.idle == 0 && state.threads < self.max;
            if grow {
                state.threads += 1;
                state.idle += 1;
            }
            drop(state);
            if grow {
                if let Err(e) = self.clone().spawn() {
                    tracing::warn!("cannot start another connection thread: {e}");
                    let mut state = self.lock();
                    state.threads -= 1;
                    state.idle -= 1;
                }
            }
            let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.serve(id, stream);
            }));
            if served.is_err() {
                // The stream and the UID slot were dropped while unwinding.
                tracing::error!("a panic while serving a connection: that connection is closed");
                self.wait_ends(id);
            }
            let mut state = self.lock();
            if state.stopping {
                state.threads -= 1;
                self.served.notify_all();
                return;
            }
            state.idle += 1;
        }
    }

    /// Whether the connection may wait for a request: false once stopping. While it waits,
    /// `stop` can end the wait.
    pub(super) fn wait_begins(&self, id: u64, stream: &Arc<UnixStream>) -> bool {
        let mut state = self.lock();
        if state.stopping {
            return false;
        }
        state.waiting.insert(id, stream.clone());
        true
    }

    /// Polls a kept connection for up to [`POLL_NEXT`] for the next request's first byte,
    /// when fewer than `max_pollers` threads poll already.
    pub(super) fn poll_next(&self, stream: &UnixStream) {
        use rustix::net::{recv, RecvFlags};
        struct Polling<'a>(&'a AtomicUsize);
        impl Drop for Polling<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let polling = Polling(&self.pollers);
        if polling.0.fetch_add(1, Ordering::Relaxed) >= self.max_pollers {
            return;
        }
        let start = Instant::now();
        let mut byte = [0u8; 1];
        while start.elapsed() < POLL_NEXT {
            match recv(stream, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
                Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {
                    std::thread::yield_now()
                }
                // Data, end of stream or an error: the read that follows finds out which.
                _ => break,
            }
        }
    }

    pub(super) fn wait_ends(&self, id: u64) {
        self.lock().waiting.remove(&id);
    }

    /// Counts a connection of `uid`; when that UID holds its share, waits up to
    /// [`ADMIT_WAIT`] for one of its slots, unless as many of its connections wait already as
    /// it may have waiting (see [`MAX_WAITING_PER_UID`]). Waiters of every UID are woken when
    /// a slot is freed, and a new connection may take it first: waiting is best effort.
    pub(super) fn admit(self: &Pool, uid: Option<u32>) -> Option<UidSlot<'_>> {
        let deadline = Instant::now() + ADMIT_WAIT;
        let may_wait = (self.max_per_uid / 8).min(MAX_WAITING_PER_UID);
        let mut state = self.lock();
        let mut waited = false;
        let admitted = loop {
            let held = state.per_uid.entry(uid).or_default();
            if *held < self.max_per_uid {
                *held += 1;
                break true;
            }
            let now = Instant::now();
            if state.stopping || now >= deadline {
                break false;
            }
            if !waited {
                let waiting = state.admitting.get(&uid).copied().unwrap_or(0);
                if waiting >= may_wait {
                    break false;
                }
                state.admitting.insert(uid, waiting + 1);
                waited = true;
            }
            state = self
                .slot_freed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        };
        if waited {
            if let Some(waiting) = state.admitting.get_mut(&uid) {
                *waiting -= 1;
                if *waiting == 0 {
                    state.admitting.remove(&uid);
                }
            }
        }
        drop(state);
        // Not `then_some`: a slot made and dropped when not admitted would give one back.
        if admitted {
            Some(UidSlot { pool: self, uid })
        } else {
            None
        }
    }
}

/// One connection counted against its UID's share; released when dropped, unwinding included.
pub(super) struct UidSlot<'a> {
    pool: &'a Pool,
    uid: Option<u32>,
}

impl Drop for UidSlot<'_> {
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        if let Some(held) = state.per_uid.get_mut(&self.uid) {
            *held -= 1;
            if *held == 0 {
                state.per_uid.remove(&self.uid);
            }
        }
        if state.admitting.contains_key(&self.uid) {
            self.pool.slot_freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Peer;
    use crate::dispatch::Limits;
    use parsec_wire::{HeaderError, RawHeader, Response};
    use parsec_wire::{Opcode, HEADER_LEN};
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::sync::mpsc;

    /// Panics on Ping; answers anything else with a header error (any answer will do).
    struct Fragile;

    impl Handler for Fragile {
        fn limits(&self) -> Limits {
            Limits {
                body_len: 1024,
                timeout: Duration::from_secs(5),
            }
        }

        fn handle(&self, raw: &RawHeader, _: &[u8], _: &[u8], _: Peer) -> Response {
            assert_ne!(raw.opcode, Opcode::Ping.to_u32(), "a bug met while serving");
            Response::header_error(HeaderError::ReservedNotZero)
        }
    }

    fn request(socket: &std::path::Path, opcode: Opcode) -> io::Result<usize> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let raw = RawHeader {
            version_maj: 1,
            opcode: opcode.to_u32(),
            ..RawHeader::default()
        };
        stream.write_all(&raw.encode())?;
        // No further request: the service closes after its answer.
        stream.shutdown(Shutdown::Write)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        Ok(answer.len())
    }

    /// A panic used to kill its thread with the pool's counts still holding it, so that stop
    /// waited forever.
    #[test]
    fn a_panic_closes_its_connection_only_and_stop_still_returns() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let size = PoolSize {
            floor: 1,
            max_connections: 2,
            max_per_uid: 2,
        };
        let front = Front::start(listener, Arc::new(Fragile), size).unwrap();
        assert_eq!(
            request(&socket, Opcode::Ping).unwrap(),
            0,
            "closed unanswered"
        );
        for _ in 0..3 {
            assert!(request(&socket, Opcode::ListProviders).unwrap() >= HEADER_LEN);
        }
        let (done, stopped) = mpsc::channel();
        std::thread::spawn(move || {
            front.stop(true);
            let _ = done.send(());
        });
        assert!(
            stopped.recv_timeout(Duration::from_secs(20)).is_ok(),
            "stop returned"
        );
    }

    /// A connection beyond its UID's share used to be closed at once, even when one of that
    /// UID's connections ended a moment later: a client opening a connection per request at a
    /// high rate on busy CPUs got spurious failures. It now waits up to ADMIT_WAIT.
    #[test]
    fn a_connection_beyond_the_share_waits_for_a_slot_of_its_uid() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        // A share of 16, so that 2 may wait; 16 idle connections hold it.
        let size = PoolSize {
            floor: 4,
            max_connections: 64,
            max_per_uid: 16,
        };
        let front = Front::start(listener, Arc::new(Fragile), size).unwrap();
        let held_by_us = || {
            let state = front.pool.lock();
            state.per_uid.values().sum::<usize>()
        };
        let until_held = |n: usize| {
            let start = Instant::now();
            while held_by_us() != n {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "{} held",
                    held_by_us()
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let held: Vec<UnixStream> = (0..16)
            .map(|_| UnixStream::connect(&socket).unwrap())
            .collect();
        until_held(16);
        // A further one waits; the held ones end 10 ms later, and it is served.
        let third = std::thread::spawn({
            let socket = socket.clone();
            move || request(&socket, Opcode::ListProviders).unwrap()
        });
        std::thread::sleep(Duration::from_millis(10));
        drop(held);
        assert!(third.join().unwrap() >= HEADER_LEN, "answered");
        // With the share held for longer than ADMIT_WAIT, a further one is closed unanswered.
        until_held(0);
        let _held: Vec<UnixStream> = (0..16)
            .map(|_| UnixStream::connect(&socket).unwrap())
            .collect();
        until_held(16);
        match request(&socket, Opcode::ListProviders) {
            Ok(0) => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
            other => panic!("not closed unanswered: {other:?}"),
        }
        front.stop(true);
    }
}
