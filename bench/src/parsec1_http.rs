//! Parsec.1 over HTTP: what a `createTSK` costs the server, and tunnelled command round trips
//! per second with our Rust client (1 and 8 clients) against a bare HTTP echo on the same stack
//! (axum/hyper/tokio, the same client transport, the same body size). Run by
//! bench/run-parsec1-http.sh; prints a Markdown table.
//!
//! Usage: parsec1-http-bench <path to the release `parsec` binary> [seconds per case, 10]
//!
//! With `--browser <node_modules> <parsec1.js>` after the seconds (bench/run-browser.sh): the
//! browser client in Chromium (bench/browser/) beside our Rust client against the same daemon
//! in the same run: session set-up time and round trips per second, with their ratios.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use parsec1::client;
use parsec1::server::{Commands, MemorySessions, RequestInfo, Server, Settings};
use parsec1::{KeyAddress, PrivateKey};
use parsec_boss::Value;
use parsec_rs_client::parsec1::{FixedServiceKeys, HttpTransport, MemoryStorage, Options, Session};

const CLIENTS: usize = 8;
/// Alternating tunnel/echo slices per client count.
const SLICES: u32 = 10;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--echo-server") {
        return echo_server();
    }
    let binary = args
        .get(1)
        .context("usage: parsec1-http-bench <parsec binary> [seconds]")?;
    let seconds: u64 = args.get(2).map_or(Ok(10), |s| s.parse())?;
    let run_for = Duration::from_secs(seconds);
    if args.get(3).map(String::as_str) == Some("--browser") {
        let (modules, bundle) = match (args.get(4), args.get(5)) {
            (Some(m), Some(b)) => (m, b),
            _ => bail!("usage: parsec1-http-bench <parsec> <seconds> --browser <node_modules> <parsec1.js>"),
        };
        return browser_side_by_side(binary, run_for, modules, bundle);
    }

    println!("| measure | value |");
    println!("|---|---|");
    for bits in [2048, 4096] {
        let ms = create_tsk_cost(bits)?;
        println!(
            "| server cost of one createTSK, {bits}-bit service key (in process) | {ms:.2} ms |"
        );
    }

    let daemon = Daemon::start(binary)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let echo = EchoProcess::start()?;
    let echo_url = format!("http://{}/echo", echo.addr);
    let trusted = FixedServiceKeys(vec![daemon.service_key.clone()]);
    let sessions: Vec<_> = (0..CLIENTS)
        .map(|_| {
            Session::new(
                HttpTransport::new(&daemon.url).unwrap(),
                MemoryStorage::new(),
                trusted.clone(),
                Options {
                    key_bits: 2048,
                    test_mode: true,
                },
            )
        })
        .collect();
    let sessions = Arc::new(sessions);
    // Connect all (handshakes are not part of the round trips), and size the echo body as a
    // tunnelled ping.
    rt.block_on(async {
        for s in sessions.iter() {
            s.call_value("ping", Value::dict::<&str>([])).await?;
        }
        anyhow::Ok(())
    })?;
    let tunnel_block = {
        let tsk = parsec1::SymmetricKey::random()?;
        client::seal(
            &tsk,
            "x".repeat(33).as_str(),
            "ping",
            Value::dict::<&str>([]),
        )?
    };
    // Tunnel and echo alternate in short slices, so that drift in the machine's speed hits
    // both; the figures are medians over the slices.
    for clients in [1, CLIENTS] {
        let transports: Arc<Vec<HttpTransport>> = Arc::new(
            (0..clients)
                .map(|_| HttpTransport::new(&echo_url).unwrap())
                .collect(),
        );
        let block = Arc::new(tunnel_block.clone());
        let (mut tunnel, mut bare, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..SLICES {
            let t = rt.block_on(round_trips(clients, run_for / SLICES, {
                let sessions = sessions.clone();
                move |i| {
                    let sessions = sessions.clone();
                    async move {
                        sessions[i]
                            .call_value("ping", Value::dict::<&str>([]))
                            .await?;
                        Ok(())
                    }
                }
            }))?;
            let b = rt.block_on(round_trips(clients, run_for / SLICES, {
                let transports = transports.clone();
                let block = block.clone();
                move |i| {
                    let transports = transports.clone();
                    let block = block.clone();
                    async move {
                        transports[i].send(&block).await?;
                        Ok(())
                    }
                }
            }))?;
            tunnel.push(t);
            bare.push(b);
            ratio.push(t / b);
        }
        println!(
            "| {clients} client(s): tunnelled `ping` / bare HTTP echo | {:.0} / {:.0} per s = {:.0}% |",
            median(tunnel),
            median(bare),
            100.0 * median(ratio)
        );
    }
    drop(daemon);
    Ok(())
}

/// Sessions whose set-up is timed on each side.
const SETUPS: usize = 5;

/// The browser client (bench/browser/run.cjs) and our Rust client against one daemon: session
/// set-up (new 2048-bit session key, registration with the proof of work the service asks,
/// createTSK, first call) and `psaGenerateRandom` round trips from one client.
fn browser_side_by_side(
    binary: &str,
    run_for: Duration,
    modules: &str,
    bundle: &str,
) -> Result<()> {
    let daemon = Daemon::start(binary)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let trusted = FixedServiceKeys(vec![daemon.service_key.clone()]);
    let random = || Value::dict([("size", Value::Int(32))]);
    let (native_setup, native_rate) = rt.block_on(async {
        let mut setups = Vec::new();
        let mut last = None;
        for _ in 0..SETUPS {
            let session = Session::new(
                HttpTransport::new(&daemon.url)?,
                MemoryStorage::new(),
                trusted.clone(),
                Options {
                    key_bits: 2048,
                    test_mode: false,
                },
            );
            let started = Instant::now();
            session
                .call_value("getSessionInfo", Value::dict::<&str>([]))
                .await?;
            setups.push(started.elapsed().as_secs_f64() * 1e3);
            last = Some(session);
        }
        let session = last.context("no session")?;
        for _ in 0..50 {
            session.call_value("psaGenerateRandom", random()).await?;
        }
        let started = Instant::now();
        let mut calls = 0u64;
        while started.elapsed() < run_for {
            session.call_value("psaGenerateRandom", random()).await?;
            calls += 1;
        }
        anyhow::Ok((
            median(setups),
            calls as f64 / started.elapsed().as_secs_f64(),
        ))
    })?;
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/run.cjs");
    let out = Command::new("node")
        .args([
            driver,
            modules,
            bundle,
            &daemon.url,
            &daemon.service_key.to_string(),
            &SETUPS.to_string(),
            &run_for.as_secs().to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run node")?;
    if !out.status.success() {
        bail!("the browser driver failed");
    }
    let page: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    if let Some(e) = page.get("error") {
        bail!("the page failed: {e}");
    }
    let browser_setup = page["setupMedianMs"].as_f64().context("setupMedianMs")?;
    let browser_rate = page["roundTripsPerSecond"]
        .as_f64()
        .context("roundTripsPerSecond")?;
    let bare = page["bareFetchPerSecond"]
        .as_f64()
        .context("bareFetchPerSecond")?;
    println!("| measure (one client, same daemon, same run) | browser client in Chromium | Rust client | browser / Rust |");
    println!("|---|---|---|---|");
    println!(
        "| session set-up, median of {SETUPS} (2048-bit session key, proof of work, createTSK) | {browser_setup:.0} ms | {native_setup:.0} ms | {:.2} |",
        browser_setup / native_setup
    );
    println!(
        "| `psaGenerateRandom` round trips | {browser_rate:.0} per s | {native_rate:.0} per s | {:.2} |",
        browser_rate / native_rate
    );
    println!(
        "| the page's bare `fetch` POSTs of the same size (no client), for scale | {bare:.0} per s | | browser client / bare fetch: {:.2} |",
        browser_rate / bare
    );
    Ok(())
}

/// Median server time of `createTSK` (PSS signature and OAEP encryption), in milliseconds.
fn create_tsk_cost(bits: usize) -> Result<f64> {
    let info = RequestInfo {
        peer: IpAddr::V4(Ipv4Addr::LOCALHOST),
        now: parsec_boss::Time::now().seconds(),
        now_ms: 0,
    };
    let settings = Settings {
        pow_length: 4,
        test_pow_length: 4,
        guest_rate: 0,
        ..Settings::default()
    };
    let server = Server::new(
        settings,
        PrivateKey::generate(bits)?,
        MemorySessions::new(),
        Commands::new(),
    )?;
    let (state, call) = client::register(PrivateKey::generate(4096)?, false)?;
    let (state, call) = state.receive(&server.handle(&call, info))?;
    let registered = state.receive(&server.handle(&call, info))?;
    let trusted = [server.service_address().clone()];
    let (_, call) = client::create_tsk(&registered.sck, &registered.session_id, &trusted)?;
    let mut times = Vec::new();
    for _ in 0..40 {
        let started = Instant::now();
        let answer = server.handle(&call, info);
        times.push(started.elapsed());
        if parsec1::message::decode_answer(&answer)?.is_err() {
            bail!("createTSK failed");
        }
    }
    times.sort();
    Ok(times[times.len() / 2].as_secs_f64() * 1e3)
}

/// Requests per second over `clients` concurrent loops of `one(i)` for `run_for`.
async fn round_trips<F, Fut>(clients: usize, run_for: Duration, one: F) -> Result<f64>
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    let deadline = Instant::now() + run_for;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let one = one.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                one(i).await?;
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// A bare echo endpoint on the service's stack (axum on a multi-thread tokio runtime with one
/// worker per CPU, as the daemon), in a process of its own, as the daemon is.
fn echo_server() -> Result<()> {
    use axum::routing::post;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        let app =
            axum::Router::new().route("/echo", post(|body: axum::body::Bytes| async move { body }));
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}

struct EchoProcess {
    child: Child,
    addr: SocketAddr,
}

impl EchoProcess {
    fn start() -> Result<EchoProcess> {
        use std::io::BufRead;
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--echo-server")
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
        Ok(EchoProcess {
            addr: line.trim().parse()?,
            child,
        })
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Daemon {
    child: Child,
    _dir: tempfile::TempDir,
    url: String,
    service_key: KeyAddress,
}

impl Daemon {
    fn start(binary: &str) -> Result<Daemon> {
        let dir = tempfile::Builder::new()
            .prefix("parsec1-bench-")
            .tempdir()?;
        let d = dir.path();
        let config = format!(
            "[core_settings]\nallow_root = true\n[listener]\nsocket_path = {sock:?}\n\
             [authenticator]\nauth_type = \"Direct\"\n\
             [[key_manager]]\nname = \"m\"\nmanager_type = \"SQLite\"\nsqlite_db_path = {db:?}\n\
             [[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"m\"\n\
             [parsec1]\nlisten = \"127.0.0.1:0\"\ntest_pow_difficulty = 8\nguest_requests_per_second = 0\n",
            sock = d.join("parsec.sock").display().to_string(),
            db = d.join("keys.sqlite3").display().to_string(),
        );
        std::fs::write(d.join("config.toml"), config)?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(d.join("config.toml"))
            .stdout(std::fs::File::create(d.join("stdout"))?)
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {binary}"))?;
        let started = Instant::now();
        loop {
            let out = std::fs::read_to_string(d.join("stdout")).unwrap_or_default();
            let value = |p: &str| {
                out.lines()
                    .find_map(|l| l.strip_prefix(p))
                    .map(str::to_string)
            };
            if let (Some(url), Some(key)) =
                (value("PARSEC1_ENDPOINT="), value("PARSEC1_SERVICE_KEY="))
            {
                return Ok(Daemon {
                    child,
                    _dir: dir,
                    url,
                    service_key: KeyAddress::parse(&key)?,
                });
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the daemon did not start Parsec.1");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
