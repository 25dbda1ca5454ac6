//! Reliability runs for RELIABILITY.md: the service under load, a well-behaved client beside
//! each attack of the hardening issue, and a full disk. Loopback and the Unix socket only;
//! every loop is bounded in time. Run by bench/run-reliability.sh (as root: one attacker runs
//! as another user, and the full disk is a small tmpfs).
//!
//! Usage: reliability <release `parsec` binary> [--seconds N] [--unix-clients N]
//!        [--parsec1-clients N] [--attack-seconds N] [--only load|attacks|disk]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use parsec1::message;
use parsec_boss::Value;
use parsec_rs_client::parsec1::{FixedServiceKeys, HttpTransport, MemoryStorage, Options, Session};

struct Args {
    binary: PathBuf,
    seconds: u64,
    unix_clients: usize,
    parsec1_clients: usize,
    attack_seconds: u64,
    only: Option<String>,
}

fn parse_args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let mut args = Args {
        binary: PathBuf::new(),
        seconds: 60,
        unix_clients: 1000,
        parsec1_clients: 200,
        attack_seconds: 10,
        only: None,
    };
    while let Some(a) = it.next() {
        let mut value = || it.next().context("a value after a flag");
        match a.as_str() {
            "--seconds" => args.seconds = value()?.parse()?,
            "--unix-clients" => args.unix_clients = value()?.parse()?,
            "--parsec1-clients" => args.parsec1_clients = value()?.parse()?,
            "--attack-seconds" => args.attack_seconds = value()?.parse()?,
            "--only" => args.only = Some(value()?),
            "--hold-unix" => {
                // The attacker's side of the socket-slot attack, run as another user.
                return hold_unix(Path::new(&value()?)).map(|()| std::process::exit(0));
            }
            path => args.binary = std::fs::canonicalize(path)?,
        }
    }
    if args.binary.as_os_str().is_empty() {
        bail!("usage: reliability <parsec binary> [--seconds N] ...");
    }
    Ok(args)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let run = |name: &str| args.only.as_deref().is_none_or(|o| o == name);
    if run("load") {
        load(&args)?;
    }
    if run("attacks") {
        attacks(&args)?;
    }
    if run("disk") {
        disk_full(&args)?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// The daemon

struct Daemon {
    child: Child,
    /// Holds the config, the socket and (unless given) the state until the daemon is gone.
    _dir: tempfile::TempDir,
    socket: PathBuf,
    url: String,
    service_key: parsec1::KeyAddress,
}

impl Daemon {
    /// Starts the daemon with the software provider, Direct authentication, Parsec.1 on a free
    /// loopback port, and `extra` lines in its sections.
    fn start(
        binary: &Path,
        state: Option<&Path>,
        core: &str,
        listener: &str,
        p1: &str,
    ) -> Result<Daemon> {
        let dir = tempfile::tempdir()?;
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
        let socket = dir.path().join("parsec.sock");
        let state = state.map_or_else(|| dir.path().join("state"), Path::to_path_buf);
        let config = format!(
            "[core_settings]\nallow_root = true\nlog_level = \"warn\"\n{core}\n\
             [listener]\nlistener_type = \"DomainSocket\"\ntimeout = 5000\nsocket_path = \"{}\"\n{listener}\n\
             [authenticator]\nauth_type = \"Direct\"\n\
             [[key_manager]]\nname = \"m\"\nmanager_type = \"SQLite\"\nsqlite_db_path = \"{}\"\n\
             [[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"m\"\n\
             [parsec1]\nlisten = \"127.0.0.1:0\"\nservice_key_bits = 2048\npow_difficulty = 8\n\
             test_pow_difficulty = 8\n{p1}\n",
            socket.display(),
            state.join("keys.sqlite3").display()
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config)?;
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(&config_path)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("stderr"))?)
            .spawn()?;
        let mut out = std::io::BufReader::new(child.stdout.take().context("stdout")?);
        let (mut url, mut key) = (None, None);
        while url.is_none() || key.is_none() {
            let mut line = String::new();
            if std::io::BufRead::read_line(&mut out, &mut line)? == 0 {
                bail!(
                    "the daemon exited: {}",
                    std::fs::read_to_string(dir.path().join("stderr"))?
                );
            }
            if let Some(u) = line.trim().strip_prefix("PARSEC1_ENDPOINT=") {
                url = Some(u.to_string());
            }
            if let Some(k) = line.trim().strip_prefix("PARSEC1_SERVICE_KEY=") {
                key = Some(parsec1::KeyAddress::parse(k)?);
            }
        }
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Ok(Daemon {
            child,
            _dir: dir,
            socket,
            url: url.unwrap_or_default(),
            service_key: key.context("service key")?,
        })
    }

    fn authority(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }

    fn session(&self, key_bits: usize) -> Session<MemoryStorage, FixedServiceKeys> {
        Session::new(
            HttpTransport::new(&self.url).expect("a valid URL"),
            MemoryStorage::new(),
            FixedServiceKeys(vec![self.service_key.clone()]),
            Options {
                key_bits,
                test_mode: true,
            },
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------------------------------
// Clients

/// One request on a fresh connection (as parsec-client does), as the Direct application `app`.
fn unix_call(socket: &Path, op: &parsec_psa::Operation, app: &str) -> Result<parsec_psa::OpResult> {
    let mut stream = UnixStream::connect(socket)?;
    unix_call_on(&mut stream, op, app)
}

fn unix_call_on(
    stream: &mut UnixStream,
    op: &parsec_psa::Operation,
    app: &str,
) -> Result<parsec_psa::OpResult> {
    let body = parsec_psa::encode_operation(op);
    let opcode = op.opcode();
    let raw = parsec_wire::RawHeader {
        version_maj: 1,
        provider: if opcode.is_core() { 0 } else { 1 },
        auth_type: 1,
        body_len: u32::try_from(body.len())?,
        auth_len: u16::try_from(app.len())?,
        opcode: opcode.to_u32(),
        ..parsec_wire::RawHeader::default()
    };
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut bytes = raw.encode().to_vec();
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(app.as_bytes());
    stream.write_all(&bytes)?;
    let mut head = [0u8; parsec_wire::HEADER_LEN];
    stream.read_exact(&mut head)?;
    let (header, len) =
        parsec_wire::Response::decode_header(&head, 1 << 24).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut answer = vec![0u8; len];
    stream.read_exact(&mut answer)?;
    if header.status != parsec_wire::Status::Success {
        bail!("status {:?}", header.status);
    }
    Ok(parsec_psa::decode_result(opcode, &answer)?)
}

fn ecc_key(name: &str) -> parsec_psa::Operation {
    use parsec_psa::*;
    parsec_psa::Operation::PsaGenerateKey(ops::GenerateKey {
        key_name: name.into(),
        attributes: KeyAttributes {
            key_type: KeyType::EccKeyPair {
                curve_family: EccFamily::SecpR1,
            },
            bits: 256,
            policy: Policy {
                usage_flags: UsageFlags {
                    sign_hash: true,
                    verify_hash: true,
                    ..Default::default()
                },
                permitted_algorithms: Algorithm::AsymmetricSignature(AsymmetricSignature::Ecdsa {
                    hash_alg: SignHash::Specific(Hash::Sha256),
                }),
            },
        },
    })
}

fn sign(name: &str) -> parsec_psa::Operation {
    use parsec_psa::*;
    Operation::PsaSignHash(ops::SignHash {
        key_name: name.into(),
        alg: AsymmetricSignature::Ecdsa {
            hash_alg: SignHash::Specific(Hash::Sha256),
        },
        hash: vec![7u8; 32],
    })
}

fn ping() -> parsec_psa::Operation {
    parsec_psa::Operation::Ping
}

fn list_keys(pattern: Option<&str>) -> parsec_psa::Operation {
    parsec_psa::Operation::ListKeys(parsec_psa::ops::ListKeys {
        pattern: pattern.map(str::to_string),
    })
}

/// A TCP connection to `to` from the loopback address `from`.
fn connect_from(from: Ipv4Addr, to: &str) -> Result<TcpStream> {
    use rustix::net::{AddressFamily, SocketType};
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None)?;
    rustix::net::bind(&fd, &SocketAddrV4::new(from, 0))?;
    let to: SocketAddr = to.parse()?;
    rustix::net::connect(&fd, &to)?;
    Ok(TcpStream::from(fd))
}

/// Posts a BOSS call from `from` on a fresh connection; returns the decoded answer.
fn post(
    from: Ipv4Addr,
    authority: &str,
    path: &str,
    call: &[u8],
) -> Result<Result<Value, parsec1::RemoteError>> {
    let mut s = connect_from(from, authority)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        call.len()
    )
    .into_bytes();
    req.extend_from_slice(call);
    s.write_all(&req)?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    let at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP header")?;
    Ok(message::decode_answer(&answer[at + 4..])?)
}

fn info_call() -> Vec<u8> {
    message::encode_call("info", Value::dict::<&str>([]))
}

// ------------------------------------------------------------------------------------------
// Statistics

#[derive(Default)]
struct Latencies {
    micros: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl Latencies {
    fn add(&mut self, started: Instant, result: Result<impl Sized>) {
        match result {
            Ok(_) => self
                .micros
                .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX)),
            Err(e) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }

    fn merge(&mut self, other: Latencies) {
        self.micros.extend(other.micros);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn quantile(&mut self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return f64::NAN;
        }
        self.micros.sort_unstable();
        let i = ((self.micros.len() - 1) as f64 * q) as usize;
        f64::from(self.micros[i]) / 1000.0
    }
}

/// Samples the daemon's RSS every 100 ms until `stop`; returns the peak (KiB).
fn rss_sampler(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                if let Some(v) = s
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak = peak.max(v);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        peak
    })
}

// ------------------------------------------------------------------------------------------
// 1. Load

fn load(args: &Args) -> Result<()> {
    let n_unix = args.unix_clients;
    let d = Daemon::start(
        &args.binary,
        None,
        "",
        &format!(
            "max_connections = {}\nmax_connections_per_uid = {}\n",
            n_unix + 64,
            n_unix + 64
        ),
        &format!(
            "guest_requests_per_second = 0\nregistrations_per_address_per_hour = 0\n\
             max_connections_per_address = {}\n\
             max_sessions_per_key = 4\nmax_pending_per_address = {}\n",
            args.parsec1_clients + 64,
            args.parsec1_clients + 64
        ),
    )?;
    // Keys to sign with: one per local client group, one per remote session.
    for g in 0..8 {
        unix_call(&d.socket, &ecc_key(&format!("load-{g}")), "load")?;
    }
    let rss_before = d.rss_kib();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "## Load: {n_unix} Unix-socket clients and {} Parsec.1 clients for {} s\n",
        args.parsec1_clients, args.seconds
    );
    // Parsec.1 sessions first (registration and a key each), so that the run measures use.
    let made = Instant::now();
    let sessions: Vec<_> = (0..args.parsec1_clients)
        .map(|_| Arc::new(d.session(2048)))
        .collect();
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (i, s) in sessions.iter().enumerate() {
            let op = ecc_key(&format!("remote-{i}"));
            let s = s.clone();
            set.spawn(async move { s.operation(&op).await.map(drop) });
        }
        while let Some(r) = set.join_next().await {
            r??;
        }
        anyhow::Ok(())
    })?;
    println!(
        "(set-up: {} Parsec.1 sessions with a key each in {:.1} s)\n",
        sessions.len(),
        made.elapsed().as_secs_f64()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = rss_sampler(d.child.id(), stop.clone());
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let unix_results: Arc<Mutex<Latencies>> = Arc::default();
    let ops_count = Arc::new(AtomicU64::new(0));
    let unix_threads: Vec<_> = (0..n_unix)
        .map(|i| {
            let socket = d.socket.clone();
            let results = unix_results.clone();
            let count = ops_count.clone();
            std::thread::Builder::new()
                .stack_size(128 * 1024)
                .spawn(move || {
                    let mut mine = Latencies::default();
                    let key = format!("load-{}", i % 8);
                    let mut n = 0u64;
                    // Each client holds its connection and sends its requests on it, with a
                    // new connection every 50 requests (and after any error).
                    let mut conn: Option<UnixStream> = None;
                    while Instant::now() < deadline {
                        let op = match n % 10 {
                            0..=5 => sign(&key),
                            6..=7 => ping(),
                            8 => list_keys(Some("load-*")),
                            _ => parsec_psa::Operation::ListProviders,
                        };
                        let t = Instant::now();
                        let result = (|| {
                            if conn.is_none() || n % 50 == 0 {
                                conn = Some(UnixStream::connect(&socket)?);
                            }
                            unix_call_on(conn.as_mut().context("connected")?, &op, "load")
                        })();
                        if result.is_err() {
                            conn = None;
                        }
                        mine.add(t, result);
                        n += 1;
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .merge(mine);
                })
        })
        .collect::<std::io::Result<_>>()?;
    let remote: Latencies = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for (i, s) in sessions.iter().enumerate() {
            let s = s.clone();
            set.spawn(async move {
                let mut mine = Latencies::default();
                let key = format!("remote-{i}");
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let op = if n % 2 == 0 { sign(&key) } else { ping() };
                    let t = Instant::now();
                    let r = s.operation(&op).await;
                    mine.add(t, r.map_err(anyhow::Error::from));
                    n += 1;
                }
                mine
            });
        }
        let mut all = Latencies::default();
        while let Some(r) = set.join_next().await {
            if let Ok(l) = r {
                all.merge(l);
            }
        }
        all
    });
    let threads: Vec<std::thread::JoinHandle<()>> = unix_threads;
    for t in threads {
        let _ = t.join();
    }
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(0);
    std::thread::sleep(Duration::from_secs(6)); // the pool's extra threads end after 5 s idle
    let rss_after = d.rss_kib();
    let mut unix = std::mem::take(&mut *unix_results.lock().unwrap_or_else(|e| e.into_inner()));
    let mut remote = remote;
    println!("| front | clients | operations | per s | errors | p50 | p99 |");
    println!("|---|---|---|---|---|---|---|");
    for (name, clients, l) in [
        ("Unix socket", n_unix, &mut unix),
        ("Parsec.1", args.parsec1_clients, &mut remote),
    ] {
        let (p50, p99) = (l.quantile(0.5), l.quantile(0.99));
        println!(
            "| {name} | {clients} | {} | {:.0} | {} | {p50:.2} ms | {p99:.2} ms |",
            l.micros.len(),
            l.micros.len() as f64 / args.seconds as f64,
            l.errors,
        );
        if let Some(e) = &l.first_error {
            println!("\n(first {name} error: {e})\n");
        }
    }
    println!(
        "\nDaemon RSS: {:.1} MiB before, {:.1} MiB peak, {:.1} MiB after (6 s later).\n",
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        rss_after as f64 / 1024.0
    );
    drop(sessions);
    Ok(())
}

// ------------------------------------------------------------------------------------------
// 2. A well-behaved client beside each attack

const VICTIM_UNIX_APP: &str = "victim";

/// The well-behaved client, for `seconds`: a ping on a fresh socket connection every 20 ms, and
/// every 100 ms an `info` over Parsec.1 from 127.0.0.3 (10 a second: within the default guest
/// rate of 20).
fn victim(d: &Daemon, seconds: u64) -> (Latencies, Latencies) {
    let (mut unix, mut http) = (Latencies::default(), Latencies::default());
    let authority = d.authority();
    let path = d
        .url
        .split_once(&authority)
        .map_or("/api/p1", |(_, p)| p)
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut n = 0u64;
    while Instant::now() < deadline {
        let t = Instant::now();
        unix.add(t, unix_call(&d.socket, &ping(), VICTIM_UNIX_APP));
        if n % 5 == 0 {
            let t = Instant::now();
            let answer = post(Ipv4Addr::new(127, 0, 0, 3), &authority, &path, &info_call());
            http.add(
                t,
                answer.and_then(|a| a.map_err(|e| anyhow::anyhow!("{}", e.code))),
            );
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    (unix, http)
}

/// Runs `attack` on its own threads (it gets a stop flag) while the victim measures.
fn beside(
    d: &Daemon,
    seconds: u64,
    attack: impl FnOnce(Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>>,
) -> (Latencies, Latencies) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = attack(stop.clone());
    std::thread::sleep(Duration::from_secs(1)); // let it take hold
    let measured = victim(d, seconds);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        let _ = t.join();
    }
    measured
}

/// A message of 80 bytes whose back-references double 17 times (half a million items).
fn nested_boss() -> Vec<u8> {
    fn header(code: u8, v: usize) -> Vec<u8> {
        if v < 23 {
            vec![(v as u8) << 3 | code]
        } else {
            vec![23 << 3 | code, v as u8]
        }
    }
    let mut call = vec![0x17];
    for text in ["cmd", "info", "args"] {
        call.extend(header(3, text.len()));
        call.extend(text.as_bytes());
    }
    call.push(0x0f);
    call.extend(header(3, 1));
    call.extend(b"x");
    call.extend(header(6, 18));
    call.push(0x00);
    call.extend_from_slice(&[0x16, 0x00, 0x00]);
    for k in 1..17 {
        call.push(0x16);
        call.extend(header(5, k + 7));
        call.extend(header(5, k + 7));
    }
    call
}

fn attacks(args: &Args) -> Result<()> {
    let d = Daemon::start(&args.binary, None, "", "", "")?;
    let secs = args.attack_seconds;
    let authority = d.authority();
    let path = "/api/p1".to_string();
    println!("## A well-behaved client beside each attack ({secs} s each, default limits)\n");
    println!("| beside | socket ping p50 / p99 | ratio to idle (p50) | Parsec.1 info p50 / p99 | ratio to idle (p50) | errors | what the attacker got |");
    println!("|---|---|---|---|---|---|---|");
    let (mut idle_unix, mut idle_http) = victim(&d, secs);
    let base = (idle_unix.quantile(0.5), idle_http.quantile(0.5));
    let row = |name: &str, (mut u, mut h): (Latencies, Latencies), got: String| {
        let (u50, h50) = (u.quantile(0.5), h.quantile(0.5));
        println!(
            "| {name} | {u50:.2} / {:.2} ms | {:.2}× | {h50:.2} / {:.2} ms | {:.2}× | {} | {got} |",
            u.quantile(0.99),
            u50 / base.0,
            h.quantile(0.99),
            h50 / base.1,
            u.errors + h.errors,
        );
        if let Some(e) = u.first_error.as_ref().or(h.first_error.as_ref()) {
            println!("| | (first error: {e}) | | | | | |");
        }
    };
    row(
        "nothing (idle)",
        (
            std::mem::take(&mut idle_unix),
            std::mem::take(&mut idle_http),
        ),
        "-".into(),
    );

    // 1. Pending registrations from one address.
    let sck = parsec1::PrivateKey::generate(2048)?
        .public_key()
        .long_address()?;
    let request_sck = message::encode_call(
        "requestSCK",
        Value::dict([("SCKAddress", Value::Bin(sck.as_bytes().to_vec()))]),
    );
    let refused = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let measured = beside(&d, secs, |stop| {
        let (authority, path, call) = (authority.clone(), path.clone(), request_sck.clone());
        let (refused, accepted) = (refused.clone(), accepted.clone());
        vec![std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match post(Ipv4Addr::new(127, 0, 0, 2), &authority, &path, &call) {
                    Ok(Ok(_)) => accepted.fetch_add(1, Ordering::Relaxed),
                    _ => refused.fetch_add(1, Ordering::Relaxed),
                };
            }
        })]
    });
    let victim_sck = post(Ipv4Addr::new(127, 0, 0, 4), &authority, &path, &request_sck)?;
    row(
        "requestSCK flood from one address",
        measured,
        format!(
            "{} accepted, {} refused; another address's requestSCK then: {}",
            accepted.load(Ordering::Relaxed),
            refused.load(Ordering::Relaxed),
            if victim_sck.is_ok() {
                "accepted"
            } else {
                "REFUSED"
            }
        ),
    );

    // 2. Slow HTTP clients: 200 connections from one address, one byte a second each.
    let cut = Arc::new(AtomicU64::new(0));
    let measured = beside(&d, secs, |stop| {
        (0..4)
            .map(|_| {
                let (authority, stop, cut) = (authority.clone(), stop.clone(), cut.clone());
                std::thread::spawn(move || {
                    let mut conns: Vec<TcpStream> = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        while conns.len() < 50 {
                            match connect_from(Ipv4Addr::new(127, 0, 0, 2), &authority) {
                                Ok(c) => {
                                    let _ = c.set_nonblocking(true);
                                    let mut c = c;
                                    let _ = c.write_all(b"POST /api/p1 HTTP/1.1\r\n");
                                    conns.push(c);
                                }
                                Err(_) => break,
                            }
                        }
                        conns.retain_mut(|c| {
                            let mut buf = [0u8; 64];
                            let closed =
                                matches!(c.read(&mut buf), Ok(0)) || c.write_all(b"X").is_err();
                            if closed {
                                cut.fetch_add(1, Ordering::Relaxed);
                            }
                            !closed
                        });
                        std::thread::sleep(Duration::from_secs(1));
                    }
                })
            })
            .collect()
    });
    row(
        "200 connections dribbling a header, one address",
        measured,
        format!(
            "{} connections cut off or refused",
            cut.load(Ordering::Relaxed)
        ),
    );

    // 3. Socket slots held by another user.
    let holder = Command::new(std::env::current_exe()?)
        .args(["--hold-unix"])
        .arg(&d.socket)
        .uid_checked()?
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    match holder {
        Ok(mut holder) => {
            let measured = beside(&d, secs, |_| vec![]);
            let _ = holder.kill();
            let out = holder.wait_with_output()?;
            let said = String::from_utf8_lossy(&out.stdout);
            row(
                "another user holding socket connections (pings every 100 ms)",
                measured,
                said.lines().last().unwrap_or("").to_string(),
            );
        }
        Err(e) => println!("| another user holding socket connections | not run: {e} | | | | | |"),
    }

    // 4. Short messages that decode to many items.
    let sent = Arc::new(AtomicU64::new(0));
    let measured = beside(&d, secs, |stop| {
        (0..4)
            .map(|_| {
                let (authority, path, stop, sent) =
                    (authority.clone(), path.clone(), stop.clone(), sent.clone());
                std::thread::spawn(move || {
                    let call = nested_boss();
                    while !stop.load(Ordering::Relaxed) {
                        let _ = post(Ipv4Addr::new(127, 0, 0, 2), &authority, &path, &call);
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect()
    });
    row(
        "4 senders of an 80-byte message with nested references",
        measured,
        format!("{} sent, each refused", sent.load(Ordering::Relaxed)),
    );

    // 5. ListKeys over many long names, from a remote session.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let attacker = Arc::new(d.session(2048));
    let keys = 1000;
    let made = rt.block_on(async {
        let mut made = 0;
        for i in 0..keys {
            let name = format!("{i:04}{}", "n".repeat(1016));
            if attacker.operation(&ecc_key(&name)).await.is_ok() {
                made += 1;
            }
        }
        made
    });
    let lists = Arc::new(AtomicU64::new(0));
    let measured = beside(&d, secs, |stop| {
        let (attacker, lists) = (attacker.clone(), lists.clone());
        vec![std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let pattern = "*?".repeat(500);
            while !stop.load(Ordering::Relaxed) {
                let _ = rt.block_on(attacker.operation(&list_keys(Some(&pattern))));
                lists.fetch_add(1, Ordering::Relaxed);
            }
        })]
    });
    row(
        "a remote session listing its 1,000 keys of 1,020-character names with a 1,000-token pattern",
        measured,
        format!("{made} keys made; {} ListKeys answered", lists.load(Ordering::Relaxed)),
    );
    println!();
    Ok(())
}

/// Runs the child as `nobody` (65534), or says why it cannot.
trait AsNobody {
    fn uid_checked(&mut self) -> Result<&mut Self>;
}

impl AsNobody for Command {
    fn uid_checked(&mut self) -> Result<&mut Self> {
        use std::os::unix::process::CommandExt;
        if !rustix::process::geteuid().is_root() {
            bail!("needs root, to run the attacker as another user");
        }
        Ok(self.uid(65534).gid(65534))
    }
}

/// The attacker of the socket-slot case (another user): opens up to 300 connections, keeps the
/// ones the service serves and pings on each every 100 ms, reopening refused ones, for at most
/// 120 s. Prints how many it held.
fn hold_unix(socket: &Path) -> Result<()> {
    let started = Instant::now();
    let mut held: Vec<UnixStream> = Vec::new();
    let mut refused = 0u64;
    while started.elapsed() < Duration::from_secs(120) {
        while held.len() < 300 {
            let Ok(mut s) = UnixStream::connect(socket) else {
                break;
            };
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if unix_call_on(&mut s, &ping(), "attacker").is_ok() {
                held.push(s);
            } else {
                refused += 1;
                if refused % 300 == 0 {
                    break;
                }
            }
        }
        held.retain_mut(|s| unix_call_on(s, &ping(), "attacker").is_ok());
        println!("held {} connections; {refused} refused", held.len());
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// 3. A full disk

fn disk_full(args: &Args) -> Result<()> {
    println!("## A full disk\n");
    let mount = tempfile::tempdir()?;
    let state = mount.path().join("state");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs"])
        .arg(mount.path())
        .status();
    if !matches!(mounted, Ok(s) if s.success()) {
        println!("Not run: mounting a tmpfs needs root.\n");
        return Ok(());
    }
    let result = (|| -> Result<()> {
        let d = Daemon::start(&args.binary, Some(&state), "", "", "")?;
        let mut acked = Vec::new();
        let mut refusal = None;
        for i in 0..100_000 {
            let name = format!("{i:05}{}", "k".repeat(900));
            match unix_call(&d.socket, &ecc_key(&name), "filler") {
                Ok(_) => acked.push(name),
                Err(e) => {
                    refusal = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        let lost = acked
            .iter()
            .filter(|name| unix_call(&d.socket, &sign(name), "filler").is_err())
            .count();
        let ping_ok = unix_call(&d.socket, &ping(), "filler").is_ok();
        Command::new("mount")
            .args(["-o", "remount,size=16m"])
            .arg(mount.path())
            .status()?;
        let after = unix_call(&d.socket, &ecc_key("after-space-returned"), "filler");
        println!("| keys acknowledged before the disk filled | refusal | acknowledged keys lost | service answers meanwhile | create once space returns |");
        println!("|---|---|---|---|---|");
        println!(
            "| {} | {} | {lost} | {} | {} |\n",
            acked.len(),
            refusal.unwrap_or_else(|| "none".into()),
            if ping_ok { "yes" } else { "no" },
            if after.is_ok() { "accepted" } else { "REFUSED" },
        );
        drop(d);
        Ok(())
    })();
    let _ = Command::new("umount").arg(mount.path()).status();
    result
}
