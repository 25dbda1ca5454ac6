//! `parsec-bench`: upstream `parsec-service` and ours, side by side, driven by upstream's
//! `parsec-client` with one connection per request. Run it through `bench/run.sh`, which builds
//! both daemons; BENCHMARKS.md explains what is measured.
//!
//! ```text
//! parsec-bench --upstream PATH --ours PATH [--rounds 3] [--seconds 3] [--threads 8]
//!              [--first-connect 20] [--starts 3] [--floor-samples 5000]
//! ```
//!
//! The targets run one after the other (never at once, so they do not share the CPUs), in
//! interleaved rounds; each figure is the median over the rounds. Right before each target's
//! crypto rows, the bench measures the floor under a signature (an in-process signature and a
//! bare socket round trip, see `floor.rs`), so both see the same machine.

mod crypto;
mod daemon;
mod floor;
mod load;
mod report;

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use daemon::{Daemon, Target, OURS_WITH_PROVIDER};

pub struct Args {
    upstream: Option<PathBuf>,
    ours: Option<PathBuf>,
    pub rounds: usize,
    pub seconds: f64,
    pub threads: usize,
    pub first_connect: usize,
    pub starts: usize,
    pub floor_samples: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        upstream: None,
        ours: None,
        rounds: 3,
        seconds: 3.0,
        threads: 8,
        first_connect: 20,
        starts: 3,
        floor_samples: 5000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            println!("{}", USAGE);
            std::process::exit(0);
        }
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| *v > 0.0)
                .with_context(|| format!("{flag}: not a positive number: {value}"))
        };
        match flag.as_str() {
            // Absolute, because each daemon runs in its own temp dir.
            "--upstream" => args.upstream = Some(absolute(&value)?),
            "--ours" => args.ours = Some(absolute(&value)?),
            "--rounds" => args.rounds = number()? as usize,
            "--seconds" => args.seconds = number()?,
            "--threads" => args.threads = number()? as usize,
            "--first-connect" => args.first_connect = number()? as usize,
            "--starts" => args.starts = number()? as usize,
            "--floor-samples" => args.floor_samples = number()? as usize,
            _ => bail!("unknown argument {flag}\n{USAGE}"),
        }
    }
    if args.upstream.is_none() && args.ours.is_none() {
        bail!("nothing to run\n{USAGE}");
    }
    Ok(args)
}

fn absolute(path: &str) -> Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("no daemon binary at {path}"))
}

const USAGE: &str = "usage: parsec-bench [--upstream PATH] [--ours PATH] [--rounds N] \
[--seconds S] [--threads N] [--first-connect N] [--starts N] [--floor-samples N]";

/// What one round measured on one target.
#[derive(Default)]
pub struct Round {
    pub startups: Vec<Duration>,
    pub idle_rss_kib: u64,
    pub first_connect: Vec<Duration>,
    pub sequential: load::Load,
    pub parallel: load::Load,
    /// RSS after the two ping loads.
    pub loaded_rss_kib: u64,
    /// The crypto rows; `None` when the target runs without a provider.
    pub crypto: Option<crypto::CryptoRound>,
    /// RSS after the crypto loads.
    pub crypto_rss_kib: Option<u64>,
    /// The floor, measured right before the crypto rows.
    pub floor: Option<floor::FloorRound>,
}

fn run_round(target: &Target, args: &Args) -> Result<Round> {
    let mut round = Round::default();
    // Start-up time is sampled over several fresh starts; the last daemon stays for the rest.
    for _ in 1..args.starts {
        round.startups.push(Daemon::start(target)?.startup);
    }
    let mut daemon = Daemon::start(target)?;
    round.startups.push(daemon.startup);
    thread::sleep(Duration::from_secs(1));
    round.idle_rss_kib = daemon.rss_kib()?;
    let socket = daemon.socket();
    round.first_connect = load::first_connect(&socket, args.first_connect)?;
    let duration = Duration::from_secs_f64(args.seconds);
    round.sequential = load::ping_sequential(&socket, duration)?;
    round.parallel = load::ping_parallel(&socket, args.threads, duration)?;
    round.loaded_rss_kib = daemon.rss_kib()?;
    daemon.check_alive()?;
    if target.with_provider {
        round.floor = Some(floor::run(args.floor_samples)?);
        round.crypto = Some(crypto::run(target.name, &socket, args.threads, duration)?);
        daemon.check_alive()?;
        round.crypto_rss_kib = Some(daemon.rss_kib()?);
    }
    Ok(round)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let mut targets = Vec::new();
    if let Some(bin) = &args.upstream {
        targets.push(Target {
            name: "upstream 1.5.0, default config",
            binary: bin.clone(),
            column: 0,
            idle_listener_sleep_ms: None,
            with_provider: true,
        });
        targets.push(Target {
            name: "upstream 1.5.0, idle_listener_sleep_duration = 1",
            binary: bin.clone(),
            column: 1,
            idle_listener_sleep_ms: Some(1),
            with_provider: true,
        });
    }
    if let Some(bin) = &args.ours {
        targets.push(Target {
            name: "ours",
            binary: bin.clone(),
            column: 2,
            idle_listener_sleep_ms: None,
            with_provider: OURS_WITH_PROVIDER,
        });
    }
    let mut rounds: Vec<Vec<Round>> = targets.iter().map(|_| Vec::new()).collect();
    let load_before = load_average();
    for r in 1..=args.rounds {
        for (target, results) in targets.iter().zip(rounds.iter_mut()) {
            eprintln!("round {r}/{}: {}", args.rounds, target.name);
            let round = run_round(target, &args)
                .with_context(|| format!("benchmarking {}", target.name))?;
            results.push(round);
        }
    }
    let mut columns: [Option<&[Round]>; 3] = [None, None, None];
    for (target, results) in targets.iter().zip(&rounds) {
        columns[target.column] = Some(results);
    }
    report::print(&args, &columns, (load_before, load_average()));
    Ok(())
}

/// The 1-minute load average, from /proc/loadavg (other work on the machine skews the figures).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
