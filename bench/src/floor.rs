//! The floor under a signature made through a daemon: the in-process cost of the same ECDSA
//! P-256 signature (aws-lc-rs, no daemon) plus one bare Unix-socket round trip on a new
//! connection, as `parsec-client` makes for every request.
//!
//! The echo answers every request with a valid ping response, so `parsec-client`'s own ping can
//! be timed against it too: that is the client's share of a ping, without any daemon.

use std::hint::black_box;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use aws_lc_rs::digest::{Digest, SHA256};
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};

use crate::{crypto, load};

/// Size of a Parsec wire header (request and response alike).
const HEADER_LEN: usize = 36;
/// Body and authentication sizes of the bare request: about those of the sign requests in the
/// crypto rows (key name, 32-byte hash and algorithm; "bench" as direct authentication).
const BODY_LEN: usize = 56;
const AUTH_LEN: usize = 5;
/// Size of the bare request.
pub const REQUEST_LEN: usize = HEADER_LEN + BODY_LEN + AUTH_LEN;
/// The reply: a ping's response, a header and a 2-byte body (protobuf `PingResult` 1.0).
pub const REPLY_LEN: usize = 38;
const PING_RESULT: [u8; 2] = [0x08, 0x01];
/// Read/write timeout on both ends, as the client sets it.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What one measurement of the floor found.
#[derive(Clone, Debug, Default)]
pub struct FloorRound {
    /// Time of one in-process ECDSA P-256 `sign_digest` each.
    pub sign: Vec<Duration>,
    /// Time of one bare round trip each.
    pub round_trip: Vec<Duration>,
    /// Time of one `parsec-client` ping to the echo each.
    pub client_ping: Vec<Duration>,
}

/// Median of some timings.
pub fn median(v: &[Duration]) -> Option<Duration> {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

impl FloorRound {
    /// The floor: median in-process sign + median bare round trip.
    pub fn total(&self) -> Option<Duration> {
        Some(median(&self.sign)? + median(&self.round_trip)?)
    }
}

/// Measures both halves of the floor (and the client's ping to the echo), `samples` times each,
/// with the echo's socket in a fresh temp dir.
pub fn run(samples: usize) -> Result<FloorRound> {
    let dir = tempfile::Builder::new().prefix("parsec-bench-").tempdir()?;
    let dir = dir.path();
    let sign = in_process_sign(samples)?;
    let (round_trip, client_ping) = with_echo(dir, |socket| {
        let header = request_header();
        let round_trip = (0..samples)
            .map(|_| {
                let t = Instant::now();
                round_trip(socket, &header).map(|()| t.elapsed())
            })
            .collect::<Result<Vec<_>>>()
            .context("bare round trip")?;
        let client = load::client(socket)?;
        let client_ping = (0..samples)
            .map(|_| {
                let t = Instant::now();
                client.ping().map(|_| t.elapsed())
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("parsec-client ping to the echo: {e}"))?;
        Ok((round_trip, client_ping))
    })?;
    let floor = FloorRound {
        sign,
        round_trip,
        client_ping,
    };
    let us = |v: &[Duration]| median(v).map_or(f64::NAN, |d| d.as_secs_f64() * 1e6);
    eprintln!(
        "  floor: in-process sign {:.1} µs + bare round trip {:.1} µs (client ping to the echo {:.1} µs)",
        us(&floor.sign),
        us(&floor.round_trip),
        us(&floor.client_ping)
    );
    Ok(floor)
}

/// ECDSA P-256 with SHA-256 of the crypto rows' 32-byte hash, in this process, with
/// aws-lc-rs's `EcdsaKeyPair::sign_digest` (the hash is signed as it is, as `sign_hash` does).
fn in_process_sign(samples: usize) -> Result<Vec<Duration>> {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| anyhow!("aws-lc-rs: P-256 key generation failed"))?;
    let digest = Digest::import_less_safe(&crypto::hash(), &SHA256)
        .map_err(|_| anyhow!("aws-lc-rs: digest import failed"))?;
    let signature = key
        .sign_digest(&digest)
        .map_err(|_| anyhow!("aws-lc-rs: sign_digest failed"))?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref())
        .verify_digest(&digest, signature.as_ref())
        .map_err(|_| anyhow!("aws-lc-rs: the signature does not verify"))?;
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let signature = key.sign_digest(black_box(&digest));
        out.push(t.elapsed());
        black_box(signature).map_err(|_| anyhow!("aws-lc-rs: sign_digest failed"))?;
    }
    Ok(out)
}

/// A request header in Parsec's wire layout (little endian): the fields the echo reads are the
/// body length (offset 22) and the authentication length (offset 26).
fn request_header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&0x5EC0_A710u32.to_le_bytes()); // magic
    h[4..6].copy_from_slice(&(HEADER_LEN as u16 - 6).to_le_bytes()); // header size
    h[6] = 1; // version 1.0
    h[10] = 1; // provider 1; content and accept type 0 (protobuf) at 19 and 20
    h[21] = 1; // auth type: direct
    h[22..26].copy_from_slice(&(BODY_LEN as u32).to_le_bytes());
    h[26..28].copy_from_slice(&(AUTH_LEN as u16).to_le_bytes());
    h
}

/// One connection of the echo: reads a header and what it announces, writes a ping response
/// (38 bytes), closes.
fn serve(mut stream: UnixStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut header = [0u8; HEADER_LEN];
    stream.read_exact(&mut header)?;
    let body = u32::from_le_bytes([header[22], header[23], header[24], header[25]]) as usize;
    let auth = u16::from_le_bytes([header[26], header[27]]) as usize;
    let mut rest = vec![0u8; body + auth];
    stream.read_exact(&mut rest)?;
    // The request's header, opcode included, with the response's auth type, lengths and status.
    let mut reply = [0u8; REPLY_LEN];
    reply[..HEADER_LEN].copy_from_slice(&header);
    reply[21] = 0;
    reply[22..26].copy_from_slice(&(PING_RESULT.len() as u32).to_le_bytes());
    reply[26..28].copy_from_slice(&0u16.to_le_bytes());
    reply[32..34].copy_from_slice(&0u16.to_le_bytes());
    reply[HEADER_LEN..].copy_from_slice(&PING_RESULT);
    stream.write_all(&reply)
}

/// One round trip as the client makes it: connect, set timeouts, write header, body and
/// authentication (three writes, as `Request::write_to_stream` does), read the header then the
/// body, close.
fn round_trip(socket: &Path, header: &[u8; HEADER_LEN]) -> Result<()> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(header)?;
    stream.write_all(&[0x11; BODY_LEN])?;
    stream.write_all(&[0x22; AUTH_LEN])?;
    let mut reply_header = [0u8; HEADER_LEN];
    stream.read_exact(&mut reply_header)?;
    let mut body = [0u8; REPLY_LEN - HEADER_LEN];
    stream.read_exact(&mut body)?;
    Ok(())
}

/// Runs `f` with the socket of an echo thread listening in `dir`.
fn with_echo<T>(dir: &Path, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let socket = dir.join("echo.sock");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).context("echo socket")?;
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || -> u64 {
            let mut failures = 0;
            for stream in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                if stream
                    .map_err(std::io::Error::other)
                    .and_then(serve)
                    .is_err()
                {
                    failures += 1;
                }
            }
            failures
        })
    };
    let result = f(&socket);
    stop.store(true, Ordering::Relaxed);
    let _ = UnixStream::connect(&socket); // wakes the accept loop so it sees `stop`
    let failures = server.join().map_err(|_| anyhow!("echo thread panicked"))?;
    let _ = std::fs::remove_file(&socket);
    let out = result?;
    ensure!(failures == 0, "the echo failed {failures} connections");
    Ok(out)
}
