//! A connection's socket I/O: its read buffer, and blocking reads and writes bounded by
//! deadlines through the socket's timeouts.

use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroize;

/// Bytes read from the socket at once: a whole small request in one system call.
const READ_BUFFER: usize = 4096;

/// A tolerance on timeouts: a socket timeout that ends within this much of a deadline is kept.
const SLACK: Duration = Duration::from_millis(1);

/// A connection's socket with a read buffer that lives as long as the connection, so bytes of
/// a following request read early stay for it. Reads and writes block, bounded by deadlines
/// through the socket's timeouts, which are changed only when a deadline needs it.
pub(super) struct Conn<'a> {
    pub(super) stream: &'a Arc<UnixStream>,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// The socket's receive timeout as last set (`None`: never set, blocks without end).
    recv_timeout: Option<Duration>,
    send_timeout: Option<Duration>,
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        // The bytes of the last requests read, key material included.
        self.buf.zeroize();
    }
}

impl<'a> Conn<'a> {
    pub(super) fn new(stream: &'a Arc<UnixStream>) -> Conn<'a> {
        Conn {
            stream,
            buf: vec![0u8; READ_BUFFER].into_boxed_slice(),
            pos: 0,
            end: 0,
            recv_timeout: None,
            send_timeout: None,
        }
    }

    pub(super) fn buffered(&self) -> usize {
        self.end - self.pos
    }

    /// The time left before `deadline`, with the socket's `timeout` made no longer than that.
    fn bound(
        stream: &UnixStream,
        current: &mut Option<Duration>,
        deadline: Instant,
        set: fn(&UnixStream, Option<Duration>) -> io::Result<()>,
    ) -> io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        if current.is_none_or(|t| t > left + SLACK || t + SLACK < left) {
            set(stream, Some(left))?;
            *current = Some(left);
        }
        Ok(())
    }

    /// Reads what the socket has (at least one byte, waiting until `deadline`) into the empty
    /// buffer. `Ok(0)`: the client closed its end.
    pub(super) fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        debug_assert_eq!(self.buffered(), 0);
        let n = self.recv(deadline, None)?;
        self.pos = 0;
        self.end = n;
        Ok(n)
    }

    /// One read before `deadline`, into `out` or, without it, into the buffer.
    fn recv(&mut self, deadline: Instant, out: Option<&mut [u8]>) -> io::Result<usize> {
        Self::bound(
            self.stream,
            &mut self.recv_timeout,
            deadline,
            UnixStream::set_read_timeout,
        )?;
        let target = match out {
            Some(out) => out,
            None => &mut self.buf[..],
        };
        loop {
            match (&**self.stream).read(target) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Reads at least one byte into `out` (not empty) before `deadline`: from the buffer, or,
    /// when it is empty, from the socket (straight into `out` when `out` is at least as large
    /// as the buffer). `None` on timeout, error or end of stream.
    pub(super) fn read_some(&mut self, out: &mut [u8], deadline: Instant) -> Option<usize> {
        if self.buffered() == 0 {
            if out.len() >= self.buf.len() {
                return match self.recv(deadline, Some(out)) {
                    Ok(n) if n > 0 => Some(n),
                    _ => None,
                };
            }
            if !matches!(self.fill(deadline), Ok(n) if n > 0) {
                return None;
            }
        }
        let n = self.buffered().min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Some(n)
    }

    /// Writes all of `bytes` before `deadline`. The first try does not wait, so the common
    /// answer, which fits the socket's buffer, needs no timeout set.
    pub(super) fn write_all_by(&mut self, bytes: &[u8], deadline: Instant) -> io::Result<()> {
        use rustix::net::SendFlags;
        let mut done = match rustix::net::send(&**self.stream, bytes, SendFlags::DONTWAIT) {
            Ok(n) => n,
            Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::INTR => 0,
            Err(e) => return Err(e.into()),
        };
        while done < bytes.len() {
            Self::bound(
                self.stream,
                &mut self.send_timeout,
                deadline,
                UnixStream::set_write_timeout,
            )?;
            match (&**self.stream).write(&bytes[done..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
