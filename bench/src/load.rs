//! The client side: upstream `parsec-client` 0.16 against a socket, one connection per request,
//! and the load runners every row uses (one thread, or several threads with a client each).

use std::path::Path;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use parsec_client::auth::Authentication;
use parsec_client::core::interface::requests::ProviderId;
use parsec_client::core::ipc_handler::unix_socket::Handler;
use parsec_client::BasicClient;

/// Read/write timeout of the client's streams.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The application name every crypto client authenticates as (direct authentication).
pub const APP_NAME: &str = "bench";

/// A naked client (no authentication, core provider), as `BasicClient::new_naked()` builds it,
/// but aimed at `socket` explicitly instead of through `PARSEC_SERVICE_ENDPOINT`. Like every
/// `parsec-client` user, it opens a new connection for each request.
pub fn client(socket: &Path) -> Result<BasicClient> {
    let handler = Handler::new(socket.to_path_buf(), Some(CLIENT_TIMEOUT))
        .map_err(|e| anyhow!("socket {}: {e}", socket.display()))?;
    let mut client = BasicClient::default();
    client.set_ipc_handler(Box::new(handler));
    Ok(client)
}

/// The client for crypto requests: the naked client plus direct authentication as
/// [`APP_NAME`] and the software provider (`MbedCrypto`, id 1) as its implicit provider.
pub fn crypto_client(socket: &Path) -> Result<BasicClient> {
    let mut client = client(socket)?;
    client.set_auth_data(Authentication::Direct(APP_NAME.into()));
    client.set_implicit_provider(ProviderId::MbedCrypto);
    Ok(client)
}

/// A fresh client's first ping.
pub fn ping_once(socket: &Path) -> Result<()> {
    client(socket)?
        .ping()
        .map(|_| ())
        .map_err(|e| anyhow!("ping: {e}"))
}

/// The result of a load run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Load {
    /// Successful operations per second, all threads together.
    pub rate: f64,
    /// Failed operations.
    pub errors: u64,
    /// Median and 99th percentile latency of one operation (sequential runs only).
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
}

/// One thread running `op` as fast as it can for `duration`. `op` gets the number of the call
/// (0, 1, 2, ...), to name keys uniquely.
pub fn sequential<T, E>(
    client: &BasicClient,
    duration: Duration,
    mut op: impl FnMut(&BasicClient, u64) -> Result<T, E>,
) -> Load {
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut errors = 0;
    let mut n = 0u64;
    let start = Instant::now();
    while start.elapsed() < duration {
        let t = Instant::now();
        match op(client, n) {
            Ok(_) => latencies.push(t.elapsed()),
            Err(_) => errors += 1,
        }
        n += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
    };
    Load {
        rate: latencies.len() as f64 / elapsed,
        errors,
        p50: pick(0.5),
        p99: pick(0.99),
    }
}

/// `clients.len()` threads, each with its own client, running `op` as fast as they can for
/// `duration`. `op` gets the thread's number and the number of the call.
pub fn parallel<T, E>(
    clients: &[BasicClient],
    duration: Duration,
    op: impl Fn(&BasicClient, usize, u64) -> Result<T, E> + Sync,
) -> Load {
    let barrier = Barrier::new(clients.len() + 1);
    let (counts, elapsed) = thread::scope(|s| {
        let workers: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(i, client)| {
                let (barrier, op) = (&barrier, &op);
                s.spawn(move || {
                    let (mut ok, mut errors) = (0u64, 0u64);
                    barrier.wait();
                    let start = Instant::now();
                    while start.elapsed() < duration {
                        match op(client, i, ok + errors) {
                            Ok(_) => ok += 1,
                            Err(_) => errors += 1,
                        }
                    }
                    (ok, errors)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let counts: Vec<(u64, u64)> = workers
            .into_iter()
            .map(|w| w.join().unwrap_or((0, u64::MAX)))
            .collect();
        (counts, start.elapsed())
    });
    let ok: u64 = counts.iter().map(|c| c.0).sum();
    let errors = counts.iter().fold(0u64, |a, c| a.saturating_add(c.1));
    Load {
        rate: ok as f64 / elapsed.as_secs_f64(),
        errors,
        p50: None,
        p99: None,
    }
}

/// One thread pinging as fast as it can for `duration`.
pub fn ping_sequential(socket: &Path, duration: Duration) -> Result<Load> {
    Ok(sequential(&client(socket)?, duration, |c, _| c.ping()))
}

/// `threads` threads, each with its own client, pinging as fast as they can for `duration`.
pub fn ping_parallel(socket: &Path, threads: usize, duration: Duration) -> Result<Load> {
    let clients = (0..threads)
        .map(|_| client(socket))
        .collect::<Result<Vec<_>>>()?;
    Ok(parallel(&clients, duration, |c, _, _| c.ping()))
}

/// Latency of a fresh client's first ping after the service has been idle for a while (a
/// command-line tool's one request), `samples` times with idle gaps of 20 to 44 ms (so the gaps
/// do not lock in step with a polling listener).
pub fn first_connect(socket: &Path, samples: usize) -> Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        thread::sleep(Duration::from_millis(20 + (i as u64 * 7) % 25));
        let t = Instant::now();
        ping_once(socket)?;
        out.push(t.elapsed());
    }
    Ok(out)
}
