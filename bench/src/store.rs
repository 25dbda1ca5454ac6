//! store-bench: the software provider's rows of `parsec-bench` through our daemon with its key
//! store on SQLite (the default) and on PostgreSQL (one node), in one run, rounds alternating.
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

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crypto::CryptoRound;
use load::Load;

const USAGE: &str = "usage: store-bench --ours PATH [--rounds N] [--seconds S] [--threads N]";

struct Args {
    ours: PathBuf,
    rounds: usize,
    seconds: f64,
    threads: usize,
}

fn parse_args() -> Result<Args> {
    let (mut ours, mut rounds, mut seconds, mut threads) = (None, 3, 3.0, 8);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
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
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(binary: &Path, key_manager: &str) -> Result<Node> {
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
                 {key_manager}\n[[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"store\"\n",
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
        let mut node = Node {
            child,
            socket,
            _dir: dir,
        };
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
            let node = Node::start(&args.ours, &key_manager)?;
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
    Ok(())
}
