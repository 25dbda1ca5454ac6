//! store-bench: the software provider's rows of `parsec-bench` through our daemon with its key
//! store on SQLite (the default) and on PostgreSQL (one node), in one run, rounds alternating;
//! then Parsec.1 tunnelled calls with the state in SQLite and memory (the default), in
//! PostgreSQL with one node, and in PostgreSQL with two nodes behind our client's spreading;
//! and what the database costs per call (its round trip, its transactions per call).
//!
//!   store-bench --ours PATH [--rounds 3] [--seconds 3] [--threads 8]
//!
//! PostgreSQL is Debian's, in a cluster this run makes in a temporary directory (as `nobody`
//! when run as root), reached over its Unix socket with a password, as the tests do.

#[allow(dead_code)]
mod crypto;
#[allow(dead_code)]
mod load;
// The tests' PostgreSQL cluster, shared with crates/keystore/tests.
#[allow(dead_code)]
#[path = "../../crates/keystore/tests/pg/mod.rs"]
mod pg;
mod store_parsec1;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crypto::CryptoRound;
use load::Load;

const USAGE: &str =
    "usage: store-bench --ours PATH [--rounds N] [--seconds S] [--threads N] [--costs-only]";

struct Args {
    ours: PathBuf,
    costs_only: bool,
    rounds: usize,
    seconds: f64,
    threads: usize,
}

fn parse_args() -> Result<Args> {
    let (mut ours, mut rounds, mut seconds, mut threads) = (None, 3, 3.0, 8);
    let mut costs_only = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--costs-only" {
            costs_only = true;
            continue;
        }
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--ours" => ours = Some(std::path::absolute(&value)?),
            "--rounds" => rounds = value.parse()?,
            "--seconds" => seconds = value.parse()?,
            "--threads" => threads = value.parse()?,
            _ => bail!("unknown flag {flag}\n{USAGE}"),
        }
    }
    Ok(Args {
        ours: ours.context(USAGE)?,
        costs_only,
        rounds,
        seconds,
        threads,
    })
}

/// A daemon with the software provider on the key manager `key_manager` (a TOML section named
/// "store"), in its own temp dir; killed on drop.
struct Node {
    child: Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Node {
    /// `extra`: more config (a `[parsec1]` section).
    fn start(binary: &Path, key_manager: &str, extra: &str) -> Result<Node> {
        let dir = tempfile::Builder::new()
            .prefix("parsec-store-bench-")
            .tempdir()?;
        let socket = dir.path().join("parsec.sock");
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[core_settings]\nallow_root = true\n\n[listener]\nlistener_type = \"DomainSocket\"\n\
                 timeout = 3000\nsocket_path = {:?}\n\n[authenticator]\nauth_type = \"Direct\"\n\n\
                 {key_manager}\n[[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"store\"\n\
                 {extra}\n",
                socket.display().to_string()
            ),
        )?;
        let log = std::fs::File::create(dir.path().join("daemon.log"))?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot run {}", binary.display()))?;
        let mut node = Node { child, socket, dir };
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(&node.socket).is_err() {
            if let Some(status) = node.child.try_wait()? {
                bail!("the daemon exited at start-up ({status})");
            }
            if start.elapsed() > Duration::from_secs(30) {
                bail!("the daemon did not start listening");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(node)
    }
}

impl Node {
    /// The Parsec.1 endpoint and service key the node printed.
    fn parsec1(&self) -> Result<(String, parsec1::KeyAddress)> {
        let start = Instant::now();
        loop {
            let log = std::fs::read_to_string(self.dir.path().join("daemon.log"))?;
            let value = |p: &str| {
                log.lines()
                    .find_map(|l| l.strip_prefix(p))
                    .map(str::to_string)
            };
            if let (Some(url), Some(key)) =
                (value("PARSEC1_ENDPOINT="), value("PARSEC1_SERVICE_KEY="))
            {
                return Ok((url, parsec1::KeyAddress::parse(&key)?));
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!("no Parsec.1 endpoint:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied()
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let cluster = pg::Cluster::start();
    let shared = tempfile::tempdir()?;
    let password = shared.path().join("password");
    std::fs::write(&password, pg::PASSWORD)?;
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600))?;
    if args.costs_only {
        return database_costs(&args, &cluster, &password, shared.path());
    }
    let duration = Duration::from_secs_f64(args.seconds);
    let targets = ["SQLite", "PostgreSQL, one node"];
    let mut results: Vec<Vec<CryptoRound>> = vec![Vec::new(); targets.len()];
    for round in 0..args.rounds {
        for (t, name) in targets.iter().enumerate() {
            eprintln!("round {}/{}: {name}", round + 1, args.rounds);
            let key_manager = if t == 0 {
                "[[key_manager]]\nname = \"store\"\nmanager_type = \"SQLite\"\n\
                 sqlite_db_path = \"keys.sqlite3\"\n"
                    .to_string()
            } else {
                // A fresh database each round, as SQLite gets a fresh file.
                let db = format!("bench{round}");
                let url = cluster.create_db(&db);
                let master = shared.path().join(format!("master-{round}.key"));
                format!(
                    "[[key_manager]]\nname = \"store\"\nmanager_type = \"PostgreSQL\"\nurl = {url:?}\n\
                     password_file = {:?}\nmaster_key_path = {:?}\n",
                    password.display().to_string(),
                    master.display().to_string()
                )
            };
            let node = Node::start(&args.ours, &key_manager, "")?;
            results[t].push(crypto::run(name, &node.socket, args.threads, duration)?);
        }
    }
    type Figure = (&'static str, fn(&CryptoRound) -> Option<Load>);
    let rows: [Figure; 5] = [
        ("ECDSA P-256 sign_hash, sequential (ops/s)", |r| r.sign),
        ("ECDSA P-256 sign_hash, {threads} threads (ops/s)", |r| {
            r.sign_parallel
        }),
        ("P-256 generate+destroy, sequential (pairs/s)", |r| {
            r.generate_destroy
        }),
        ("RSA-2048 PKCS#1 v1.5 sign_hash, sequential (ops/s)", |r| {
            r.rsa_sign
        }),
        ("AES-256-GCM encrypt 1 KiB, sequential (ops/s)", |r| {
            r.aes_encrypt
        }),
    ];
    println!(
        "Software provider, median of {} rounds of {} s each; PostgreSQL {} over its Unix socket\n",
        args.rounds,
        args.seconds,
        cluster.path().display()
    );
    println!("| Row | SQLite | PostgreSQL, one node | PostgreSQL / SQLite |");
    println!("|---|---:|---:|---:|");
    for (title, load) in rows {
        let rate = |t: usize| median(results[t].iter().filter_map(load).map(|l| l.rate).collect());
        let (sqlite, pg) = (rate(0), rate(1));
        let title = title.replace("{threads}", &args.threads.to_string());
        match (sqlite, pg) {
            (Some(s), Some(p)) => println!("| {title} | {s:.0} | {p:.0} | {:.2}× |", p / s),
            _ => println!("| {title} | {sqlite:?} | {pg:?} | |"),
        }
        let p50 = |t: usize| {
            median(
                results[t]
                    .iter()
                    .filter_map(|r| load(r).and_then(|l| l.p50))
                    .map(|d| d.as_secs_f64() * 1e3)
                    .collect(),
            )
        };
        if let (Some(s), Some(p)) = (p50(0), p50(1)) {
            println!("| … p50 latency (ms) | {s:.3} | {p:.3} | {:.2}× |", p / s);
        }
    }
    let errors: u64 = results.iter().flatten().map(CryptoRound::errors).sum();
    println!("\nFailed operations (all rounds): {errors}");
    parsec1_rows(&args, &cluster, &password, shared.path())?;
    database_costs(&args, &cluster, &password, shared.path())
}

/// The `[parsec1]` section of a bench node: loopback, cheap test-mode registrations, no guest
/// rate limit (all sessions come from one address); `session_store` when given.
fn parsec1_section(session_store: Option<(&str, &Path)>) -> String {
    let mut section = "[parsec1]\nlisten = \"127.0.0.1:0\"\nservice_key_bits = 2048\n\
                       test_pow_difficulty = 8\nguest_requests_per_second = 0\n"
        .to_string();
    if let Some((url, password)) = session_store {
        section.push_str(&format!(
            "session_store = {url:?}\nsession_store_password_file = {:?}\n",
            password.display().to_string()
        ));
    }
    section
}

/// A PostgreSQL key manager on `url`.
fn pg_key_manager(url: &str, password: &Path, master: &Path) -> String {
    format!(
        "[[key_manager]]\nname = \"store\"\nmanager_type = \"PostgreSQL\"\nurl = {url:?}\n\
         password_file = {:?}\nmaster_key_path = {:?}\n",
        password.display().to_string(),
        master.display().to_string()
    )
}

const SQLITE: &str =
    "[[key_manager]]\nname = \"store\"\nmanager_type = \"SQLite\"\nsqlite_db_path = \"keys.sqlite3\"\n";

/// Tunnelled calls with the Parsec.1 state in SQLite and memory, in PostgreSQL (one node), and
/// in PostgreSQL shared by two nodes behind the client's spreading.
fn parsec1_rows(args: &Args, cluster: &pg::Cluster, password: &Path, shared: &Path) -> Result<()> {
    use store_parsec1::{P1Round, Rate};
    let targets = [
        "SQLite + memory",
        "PostgreSQL, one node",
        "PostgreSQL, two nodes",
    ];
    let duration = Duration::from_secs_f64(args.seconds * 2.0);
    let mut results: Vec<Vec<P1Round>> = vec![Vec::new(); targets.len()];
    for round in 0..args.rounds {
        for (t, name) in targets.iter().enumerate() {
            eprintln!("Parsec.1 round {}/{}: {name}", round + 1, args.rounds);
            let nodes = if t == 0 {
                vec![Node::start(&args.ours, SQLITE, &parsec1_section(None))?]
            } else {
                let url = cluster.create_db(&format!("p1bench{round}x{t}"));
                let master = shared.join(format!("p1-master-{round}-{t}.key"));
                let manager = pg_key_manager(&url, password, &master);
                let section = parsec1_section(Some((&url, password)));
                let first = Node::start(&args.ours, &manager, &section)?;
                // The first node has made the master key and the service key.
                first.parsec1()?;
                let mut nodes = vec![first];
                if t == 2 {
                    nodes.push(Node::start(&args.ours, &manager, &section)?);
                }
                nodes
            };
            let mut urls = Vec::new();
            let mut key = None;
            for node in &nodes {
                let (url, k) = node.parsec1()?;
                urls.push(url);
                key = Some(k);
            }
            let key = key.context("a node")?;
            results[t].push(store_parsec1::run(&urls, &key, duration)?);
        }
    }
    type Figure = (&'static str, fn(&P1Round) -> Rate);
    let rows: [Figure; 4] = [
        ("tunnelled `ping`, one session (calls/s)", |r| r.ping),
        (
            "tunnelled ECDSA P-256 sign_hash, one session (calls/s)",
            |r| r.sign,
        ),
        (
            "tunnelled P-256 generate+destroy, one session (pairs/s)",
            |r| r.generate_destroy,
        ),
        (
            "tunnelled sign_hash, {clients} sessions at once (calls/s)",
            |r| r.sign_parallel,
        ),
    ];
    println!(
        "\nParsec.1 through our Rust client, median of {} rounds of {} s per row",
        args.rounds,
        args.seconds * 2.0 / 4.0
    );
    println!(
        "\n| Row | {} | {} | {} | one node / SQLite | two nodes / one node |",
        targets[0], targets[1], targets[2]
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (title, figure) in rows {
        let title = title.replace("{clients}", &store_parsec1::CLIENTS.to_string());
        let rate = |t: usize| median(results[t].iter().map(|r| figure(r).rate).collect());
        let (a, b, c) = (rate(0), rate(1), rate(2));
        if let (Some(a), Some(b), Some(c)) = (a, b, c) {
            println!(
                "| {title} | {a:.0} | {b:.0} | {c:.0} | {:.2}× | {:.2}× |",
                b / a,
                c / b
            );
        }
        let p50 = |t: usize| {
            median(
                results[t]
                    .iter()
                    .filter_map(|r| figure(r).p50)
                    .map(|d| d.as_secs_f64() * 1e3)
                    .collect(),
            )
        };
        if let (Some(a), Some(b), Some(c)) = (p50(0), p50(1), p50(2)) {
            println!(
                "| … p50 latency (ms) | {a:.3} | {b:.3} | {c:.3} | {:.2}× | {:.2}× |",
                b / a,
                c / b
            );
        }
    }
    let errors: u64 = results
        .iter()
        .flatten()
        .flat_map(|r| [r.ping, r.sign, r.generate_destroy, r.sign_parallel])
        .map(|r| r.errors)
        .sum();
    println!("\nFailed Parsec.1 calls (all rounds): {errors}");
    Ok(())
}

/// Where the time goes on PostgreSQL: one round trip to the server (`SELECT 1` over its Unix
/// socket), and the transactions the server counted per call of each kind (its
/// `pg_stat_database.xact_commit`), through one node.
fn database_costs(
    args: &Args,
    cluster: &pg::Cluster,
    password: &Path,
    shared: &Path,
) -> Result<()> {
    let db = "costs";
    let url = cluster.create_db(db);
    let mut client = cluster.client(db);
    let mut trips = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        client.query_one("SELECT 1", &[])?;
        trips.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let trip = median(trips).unwrap_or(0.0);
    // A one-row durable write: its commit waits for the WAL to reach the disk (the server's
    // default, and what the service sets), against the same write committed without waiting.
    client.batch_execute("CREATE TABLE costs_rows (n BIGINT)")?;
    let mut write = |synchronous: &str| -> Result<f64> {
        client.batch_execute(&format!("SET synchronous_commit = {synchronous}"))?;
        let mut times = Vec::new();
        for i in 0..500i64 {
            let t = Instant::now();
            client.execute("INSERT INTO costs_rows VALUES ($1)", &[&i])?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
        Ok(median(times).unwrap_or(0.0))
    };
    let (durable, lazy) = (write("on")?, write("off")?);
    client.batch_execute("SET synchronous_commit = on")?;
    // The same one-row read directly, and through the key store's connection threads (the
    // call handed to a thread and its answer handed back), as the daemon makes it.
    let handoff = {
        let store_db = "handoff";
        let store_url = cluster.create_db(store_db);
        let store = parsec_keystore::PostgresStore::open(
            parsec_keystore::PostgresOptions {
                url: store_url,
                password: Some(zeroize::Zeroizing::new(pg::PASSWORD.to_string())),
                connections: 2,
                wait: Duration::from_secs(5),
            },
            parsec_keystore::MasterKey::from_bytes(&[1; 32])?,
        )?;
        let id = parsec_keystore::KeyId {
            auth: 1,
            app: "bench".into(),
            name: "k".into(),
        };
        let mut direct_client = cluster.client(store_db);
        let statement = direct_client
            .prepare("SELECT serial FROM parsec_keys WHERE auth = $1 AND app = $2 AND name = $3")?;
        let (mut direct, mut pooled) = (Vec::new(), Vec::new());
        for _ in 0..2000 {
            let t = Instant::now();
            direct_client.query_opt(&statement, &[&1i16, &id.app, &id.name])?;
            direct.push(t.elapsed().as_secs_f64() * 1e6);
            let t = Instant::now();
            parsec_keystore::KeyStore::version(&store, &id)?;
            pooled.push(t.elapsed().as_secs_f64() * 1e6);
        }
        (median(direct).unwrap_or(0.0), median(pooled).unwrap_or(0.0))
    };
    // The two state calls every tunnelled message makes: reading the session's TSK, and
    // adding the message to its replay set (a durable write).
    let state_calls = {
        use parsec1::server::{conformance, LiveState};
        let state = parsec_keystore::PostgresParsec1::open(
            parsec_keystore::PostgresOptions {
                url: cluster.create_db("statecalls"),
                password: Some(zeroize::Zeroizing::new(pg::PASSWORD.to_string())),
                connections: 2,
                wait: Duration::from_secs(5),
            },
            parsec_keystore::MasterKey::from_bytes(&[1; 32])?,
        )?;
        conformance::session(&state, "s", u64::MAX / 2);
        let keys = conformance::keys(true);
        state.set_tsk("s", keys.clone(), u64::MAX / 2, u64::MAX / 2)?;
        let (mut read, mut remember) = (Vec::new(), Vec::new());
        for i in 0..2000u32 {
            let t = Instant::now();
            state.tsk("s")?;
            read.push(t.elapsed().as_secs_f64() * 1e6);
            let mut iv = [0u8; 16];
            iv[..4].copy_from_slice(&i.to_le_bytes());
            let tag = [iv, [1; 16]].concat()[8..24].try_into()?;
            let t = Instant::now();
            state.remember("s", &keys, iv, tag, 1_000_000)?;
            remember.push(t.elapsed().as_secs_f64() * 1e6);
        }
        // The same read from a task on a multi-thread runtime, through block_in_place, as the
        // daemon's Parsec.1 front makes it (store calls leave the runtime's threads).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()?;
        let state = std::sync::Arc::new(state);
        let in_runtime = rt.block_on({
            let state = state.clone();
            async move {
                tokio::spawn(async move {
                    let mut times = Vec::new();
                    for _ in 0..2000 {
                        let t = Instant::now();
                        tokio::task::block_in_place(|| state.tsk("s"))?;
                        times.push(t.elapsed().as_secs_f64() * 1e6);
                    }
                    anyhow::Ok(median(times).unwrap_or(0.0))
                })
                .await?
            }
        })?;
        (
            median(read).unwrap_or(0.0),
            median(remember).unwrap_or(0.0),
            in_runtime,
        )
    };
    let master = shared.join("costs-master.key");
    let node = Node::start(
        &args.ours,
        &pg_key_manager(&url, password, &master),
        &parsec1_section(Some((&url, password))),
    )?;
    let (p1_url, key) = node.parsec1()?;
    let mut commits = || -> Result<i64> {
        // A backend that goes idle sends its statistics within 10 s (PGSTAT_IDLE_INTERVAL);
        // they are read from a snapshot.
        std::thread::sleep(Duration::from_secs(11));
        client.batch_execute("SELECT pg_stat_clear_snapshot()")?;
        Ok(client
            .query_one(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = $1",
                &[&db],
            )?
            .get(0))
    };
    let calls = 200u64;
    let socket_client = load::crypto_client(&node.socket)?;
    socket_client
        .psa_generate_key("costs-ecdsa", crypto::ecc_p256())
        .map_err(|e| anyhow::anyhow!("generate_key: {e}"))?;
    let mut per_call = Vec::new();
    let before = commits()?;
    for i in 0..calls {
        crypto::generate_destroy(&socket_client, i)?;
    }
    // Each reading itself is one transaction.
    per_call.push((
        "socket: generate+destroy (pair)",
        (commits()? - before - 1) as f64 / calls as f64,
    ));
    let before = commits()?;
    for _ in 0..calls {
        socket_client
            .psa_sign_hash("costs-ecdsa", &crypto::hash(), crypto::ecdsa())
            .map_err(|e| anyhow::anyhow!("sign_hash: {e}"))?;
    }
    per_call.push((
        "socket: sign_hash",
        (commits()? - before - 1) as f64 / calls as f64,
    ));
    let tunnel = store_parsec1::Counter::start(&p1_url, &key)?;
    let before = commits()?;
    tunnel.signs(calls)?;
    per_call.push((
        "Parsec.1: tunnelled sign_hash",
        (commits()? - before - 1) as f64 / calls as f64,
    ));
    println!(
        "\nPostgreSQL over its Unix socket: a round trip (SELECT 1, median of 2000) {trip:.0} µs; \
              a one-row INSERT committed durably {durable:.0} µs, without waiting for the disk \
              {lazy:.0} µs (medians of 500); a key record's version read directly {:.0} µs, \
              through the key store's connection threads {:.0} µs; of a tunnelled message, the \
              session's TSK read {:.0} µs ({:.0} µs from a runtime task through block_in_place), \
              the replay set's durable insert {:.0} µs (medians of 2000)\n",
        handoff.0, handoff.1, state_calls.0, state_calls.2, state_calls.1
    );
    println!("| Call, through one node | transactions per call |");
    println!("|---|---:|");
    for (what, n) in per_call {
        println!("| {what} | {n:.2} |");
    }
    Ok(())
}
