//! The Unix-socket front end: wire protocol 1.0 over a stream socket.
//!
//! No polling: the accept loop waits on the socket. Each request must arrive whole within the
//! listener timeout, and its answer must be written within it. Upstream serves one request per
//! connection; a client that sends another request on the same connection is served too.
//! At most `max_connections` connections are served at once; further clients wait in the
//! listen backlog until one ends.

use std::sync::Arc;
use std::time::Duration;

use parsec_wire::{HeaderError, RawHeader, Response, HEADER_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{timeout_at, Instant};

use crate::auth::Peer;
use crate::server::Shared;

/// What reading the next request gave.
enum Next {
    /// The client closed the connection, or went quiet between requests, or we are stopping.
    Closed,
    /// The request cannot be framed: answer with the default header, then close.
    Refused(HeaderError),
    /// A framed request, ready for the dispatcher.
    Request(RawHeader, Vec<u8>, Vec<u8>),
}

/// Serves connections from `listener` until `shutdown` turns true, then waits for the requests
/// in flight to be answered.
pub async fn serve(
    listener: UnixListener,
    shared: Arc<Shared>,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors or memory: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            serve_connection(stream, &shared, shutdown).await;
            drop(permit);
        });
    }
    tracing::info!(
        "stopped accepting; draining {} connection(s)",
        connections.len()
    );
    while connections.join_next().await.is_some() {}
}

/// Bytes read from the socket at once: a whole small request in one system call.
const READ_BUFFER: usize = 4096;

async fn serve_connection(stream: UnixStream, shared: &Shared, shutdown: watch::Receiver<bool>) {
    let peer = Peer {
        uid: stream.peer_cred().ok().map(|c| c.uid()),
    };
    // Buffered reads; the buffer lives as long as the connection, so bytes of a following
    // request read early stay for it.
    let mut stream = BufReader::with_capacity(READ_BUFFER, stream);
    let mut first = true;
    loop {
        let service = shared.current();
        let limits = service.limits();
        let next = read_request(&mut stream, &limits, first, shutdown.clone()).await;
        let (response, keep_open) = match next {
            Next::Closed => return,
            Next::Refused(error) => {
                tracing::debug!("refused request: {error}");
                (Response::header_error(error), false)
            }
            Next::Request(raw, body, auth) if service.is_heavy(&raw) => {
                // Key generation may take long (RSA: up to seconds): let the runtime move other
                // connections off this worker meanwhile.
                let response =
                    tokio::task::block_in_place(|| service.handle(&raw, &body, &auth, peer));
                (response, true)
            }
            Next::Request(raw, body, auth) => (service.handle(&raw, &body, &auth, peer), true),
        };
        let Ok(bytes) = response.encode() else {
            tracing::error!("response too large to encode");
            return;
        };
        let writer = stream.get_mut();
        match tokio::time::timeout(limits.timeout, writer.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
        if !keep_open {
            let _ = writer.shutdown().await;
            return;
        }
        first = false;
    }
}

/// The limits a front end applies to one request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub body_len: usize,
    pub timeout: Duration,
}

async fn read_request(
    stream: &mut BufReader<UnixStream>,
    limits: &Limits,
    first: bool,
    mut shutdown: watch::Receiver<bool>,
) -> Next {
    let deadline = Instant::now() + limits.timeout;
    // The first byte: the client may close, stay quiet, or we may be asked to stop.
    let mut magic = [0u8; 4];
    let got = tokio::select! {
        r = timeout_at(deadline, stream.read(&mut magic)) => r,
        _ = shutdown.wait_for(|stop| *stop) => return Next::Closed,
    };
    let got = match got {
        Ok(Ok(0)) | Ok(Err(_)) => return Next::Closed,
        Ok(Ok(n)) => n,
        // Upstream answers a client that never sends anything with ConnectionError; a client
        // that goes quiet after a served request is simply closed.
        Err(_) if first => return Next::Refused(HeaderError::Truncated),
        Err(_) => return Next::Closed,
    };
    if !read_exact_by(stream, &mut magic[got..], deadline).await {
        return Next::Refused(HeaderError::Truncated);
    }
    if let Err(e) = parsec_wire::check_magic(magic) {
        return Next::Refused(e);
    }
    let mut size = [0u8; 2];
    if !read_exact_by(stream, &mut size, deadline).await {
        return Next::Refused(HeaderError::Truncated);
    }
    if let Err(e) = parsec_wire::check_header_size(size) {
        return Next::Refused(e);
    }
    let mut rest = [0u8; HEADER_LEN - 6];
    if !read_exact_by(stream, &mut rest, deadline).await {
        return Next::Refused(HeaderError::Truncated);
    }
    let raw = RawHeader::parse(&rest);
    if let Err(e) = raw.check_framing(limits.body_len) {
        return Next::Refused(e);
    }
    // Both lengths are bounded: the body by the limit just checked, the auth part by its u16.
    let mut body = vec![0u8; raw.body_len()];
    let mut auth = vec![0u8; raw.auth_len()];
    if !read_exact_by(stream, &mut body, deadline).await
        || !read_exact_by(stream, &mut auth, deadline).await
    {
        return Next::Refused(HeaderError::Truncated);
    }
    Next::Request(raw, body, auth)
}

/// Fills `buf` before `deadline`; false on timeout, error or end of stream.
async fn read_exact_by(
    stream: &mut BufReader<UnixStream>,
    buf: &mut [u8],
    deadline: Instant,
) -> bool {
    matches!(
        timeout_at(deadline, stream.read_exact(buf)).await,
        Ok(Ok(_))
    )
}
