//! `client-bench`: our client library (crates/client) against upstream's `parsec-client` 0.16,
//! both against our daemon in the same run, with the bare-socket limit beside them: ping and
//! ECDSA P-256 sign_hash, one thread and several. Run it through `bench/run-client.sh`.
//!
//! ```text
//! client-bench --ours PATH [--rounds 3] [--seconds 2] [--threads 8]
//! ```
//!
//! - ours: one `Client` (shared by every thread: its pool gives each caller a kept
//!   connection);
//! - parsec-client: a `BasicClient` per thread, one connection per request (its only mode);
//! - bare: the same request bytes written and the answer read on a kept connection per
//!   thread, no client library at all, sleeping in `read` for the answer, and polling for it
//!   as our client does (peek and yield for up to the same time): what any client could
//!   reach at best, each way.
//! - ours, also with polling off (`spin` zero): connection reuse alone.
//!
//! Rounds are interleaved (each round runs every row once); each figure is the median.

#[allow(dead_code)]
mod daemon;
#[allow(dead_code)]
mod load;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use parsec_client::core::interface::operations::psa_algorithm::{
    AsymmetricSignature as PcSignature, Hash as PcHash,
};
use parsec_psa::{AsymmetricSignature, Hash, Operation, SignHash};
use parsec_rs_client::{Auth, Client, Endpoint, ProviderId};
use parsec_wire::{AuthType, Request, RequestHeader, HEADER_LEN};

use daemon::{Daemon, Target};

const KEY: &str = "client-bench-key";

struct Args {
    ours: PathBuf,
    spin: Duration,
    rounds: usize,
    seconds: f64,
    threads: usize,
}

fn parse_args() -> Result<Args> {
    let mut ours = None;
    let (mut rounds, mut seconds, mut threads) = (3usize, 2.0f64, 8usize);
    let mut spin = parsec_rs_client::DEFAULT_SPIN;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--ours" => ours = Some(std::fs::canonicalize(&value)?),
            "--rounds" => rounds = value.parse()?,
            "--seconds" => seconds = value.parse()?,
            "--threads" => threads = value.parse()?,
            "--spin-us" => spin = Duration::from_micros(value.parse()?),
            _ => bail!("unknown argument {flag}"),
        }
    }
    Ok(Args {
        ours: ours.context("--ours PATH is required")?,
        spin,
        rounds: rounds.max(1),
        seconds,
        threads: threads.max(1),
    })
}

/// `threads` threads calling `op(thread)` as fast as they can for `duration`; successful
/// calls per second. Any failure stops the bench: a rate with errors in it means nothing.
fn rate(
    threads: usize,
    duration: Duration,
    op: impl Fn(usize) -> Result<()> + Sync,
) -> Result<f64> {
    let barrier = Barrier::new(threads);
    let counts: Vec<Result<(u64, Duration)>> = thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let (barrier, op) = (&barrier, &op);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    let mut n = 0u64;
                    while start.elapsed() < duration {
                        op(i)?;
                        n += 1;
                    }
                    Ok((n, start.elapsed()))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow!("a worker panicked")))
            })
            .collect()
    });
    let mut total = 0.0;
    for c in counts {
        let (n, elapsed) = c?;
        total += n as f64 / elapsed.as_secs_f64();
    }
    Ok(total)
}

/// A kept connection that sends the same request again and again.
struct Bare {
    stream: UnixStream,
    request: Vec<u8>,
    answer: Vec<u8>,
    /// Poll for the answer this long before sleeping in `read`.
    spin: Duration,
}

impl Bare {
    fn new(socket: &Path, request: &[u8], spin: Duration) -> Result<Bare> {
        Ok(Bare {
            stream: UnixStream::connect(socket)?,
            request: request.to_vec(),
            answer: vec![0; 4096],
            spin,
        })
    }

    fn call(&mut self) -> Result<()> {
        use rustix::net::{recv, RecvFlags};
        self.stream.write_all(&self.request)?;
        let start = Instant::now();
        let mut byte = [0u8; 1];
        while start.elapsed() < self.spin {
            match recv(
                &self.stream,
                &mut byte,
                RecvFlags::PEEK | RecvFlags::DONTWAIT,
            ) {
                Err(rustix::io::Errno::AGAIN) => thread::yield_now(),
                _ => break,
            }
        }
        self.stream.read_exact(&mut self.answer[..HEADER_LEN])?;
        let status = u16::from_le_bytes([self.answer[32], self.answer[33]]);
        let body = u32::from_le_bytes(self.answer[22..26].try_into()?) as usize;
        if status != 0 || body > self.answer.len() {
            bail!("bare request answered with status {status}");
        }
        self.stream.read_exact(&mut self.answer[..body])?;
        Ok(())
    }
}

fn request(op: &Operation, provider: ProviderId, auth: AuthType, auth_bytes: &[u8]) -> Vec<u8> {
    Request {
        header: RequestHeader {
            provider,
            session: 0,
            auth_type: auth,
            opcode: op.opcode(),
        },
        body: parsec_psa::encode_operation(op),
        auth: auth_bytes.to_vec(),
    }
    .encode()
    .expect("small request")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let duration = Duration::from_secs_f64(args.seconds);
    let target = Target {
        name: "ours",
        column: 2,
        binary: args.ours.clone(),
        idle_listener_sleep_ms: None,
        with_provider: true,
    };
    let daemon = Daemon::start(&target)?;
    let socket = daemon.socket();

    let ours_with = |spin: Duration| -> Result<Arc<Client>> {
        Ok(Arc::new(
            Client::builder()
                .endpoint(Endpoint::Unix(socket.clone()))
                .auth(Auth::Direct(load::APP_NAME.into()))
                .provider(ProviderId::MbedCrypto)
                .spin(spin)
                .build()?,
        ))
    };
    let ours = ours_with(args.spin)?;
    let reuse_only = ours_with(Duration::ZERO)?;
    ours.create_signing_key(KEY)?;
    let hash = parsec_rs_client::easy::digest_of(Hash::Sha256, b"client-bench")?;
    let alg = AsymmetricSignature::Ecdsa {
        hash_alg: SignHash::Specific(Hash::Sha256),
    };
    let pc_alg = PcSignature::Ecdsa {
        hash_alg: PcHash::Sha256.into(),
    };
    let upstream: Vec<_> = (0..args.threads)
        .map(|_| load::crypto_client(&socket))
        .collect::<Result<_>>()?;
    let ping_bytes = request(&Operation::Ping, ProviderId::Core, AuthType::NoAuth, &[]);
    let sign_op = Operation::PsaSignHash(parsec_psa::ops::SignHash {
        key_name: KEY.into(),
        alg,
        hash: hash.clone(),
    });
    let sign_bytes = request(
        &sign_op,
        ProviderId::MbedCrypto,
        AuthType::Direct,
        load::APP_NAME.as_bytes(),
    );
    let bare = |bytes: &[u8], spin: Duration| -> Result<Vec<std::sync::Mutex<Bare>>> {
        (0..args.threads)
            .map(|_| Bare::new(&socket, bytes, spin).map(std::sync::Mutex::new))
            .collect()
    };

    // Rows: (operation, threads) × (bare, ours, parsec-client).
    // Columns: bare sleeping, bare polling, ours, ours without polling, parsec-client.
    let mut rows: Vec<(&str, usize, [Vec<f64>; 5])> = Vec::new();
    for (name, threads) in [
        ("ping", 1),
        ("ping", args.threads),
        ("sign (ECDSA P-256)", 1),
        ("sign (ECDSA P-256)", args.threads),
    ] {
        rows.push((name, threads, Default::default()));
    }
    for round in 0..args.rounds {
        eprintln!("round {}/{}", round + 1, args.rounds);
        for (name, threads, figures) in rows.iter_mut() {
            eprintln!("  {name}, {threads} thread(s)");
            let ping = name.starts_with("ping");
            let lock = |v: &std::sync::Mutex<Bare>| -> Result<()> {
                v.lock().map_err(|_| anyhow!("poisoned"))?.call()
            };
            // Fresh connections for each row (the service closes idle ones), closed before
            // the clients' turns.
            for (column, spin) in [(0, Duration::ZERO), (1, args.spin)] {
                let conns = bare(if ping { &ping_bytes } else { &sign_bytes }, spin)?;
                figures[column]
                    .push(rate(*threads, duration, |i| lock(&conns[i])).context("bare")?);
            }
            for (column, client) in [(2, &ours), (3, &reuse_only)] {
                figures[column].push(if ping {
                    rate(*threads, duration, |_| {
                        client.ping().map(|_| ()).map_err(Into::into)
                    })
                    .context("ours")?
                } else {
                    rate(*threads, duration, |_| {
                        client
                            .psa_sign_hash(KEY, &hash, alg)
                            .map(|_| ())
                            .map_err(Into::into)
                    })
                    .context("ours")?
                });
            }
            figures[4].push(if ping {
                rate(*threads, duration, |i| {
                    upstream[i]
                        .ping()
                        .map(|_| ())
                        .map_err(|e| anyhow!("parsec-client: {e}"))
                })?
            } else {
                rate(*threads, duration, |i| {
                    upstream[i]
                        .psa_sign_hash(KEY, &hash, pc_alg)
                        .map(|_| ())
                        .map_err(|e| anyhow!("parsec-client: {e}"))
                })?
            });
        }
    }

    println!(
        "| operation | threads | bare, sleeping | bare, polling | ours | ours, reuse only | \
         parsec-client 0.16 | ours ÷ parsec-client | ours ÷ best bare |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (name, threads, figures) in rows {
        let [sleeping, polling, ours, reuse, pc] = figures.map(median);
        println!(
            "| {name} | {threads} | {sleeping:.0}/s | {polling:.0}/s | {ours:.0}/s | {reuse:.0}/s | \
             {pc:.0}/s | {:.2}× | {:.2} |",
            ours / pc,
            ours / sleeping.max(polling)
        );
    }
    println!(
        "\n{} rounds of {:.1} s per row, medians; polling for up to {:?}; our daemon {}.",
        args.rounds,
        args.seconds,
        args.spin,
        args.ours.display(),
    );
    ours.psa_destroy_key(KEY)?;
    drop(daemon);
    Ok(())
}
