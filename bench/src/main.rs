//! `parsec-bench`: upstream `parsec-service` and ours, side by side, driven by upstream's
//! `parsec-client` with one connection per request. Run it through `bench/run.sh`, which builds
//! both daemons; BENCHMARKS.md explains what is measured.
//!
//! ```text
//! parsec-bench --upstream PATH --ours PATH [--rounds 3] [--seconds 3] [--threads 8]
//!              [--first-connect 20] [--starts 3]
//! ```
//!
//! The targets run one after the other (never at once, so they do not share the CPUs), in
//! interleaved rounds; each figure is the median over the rounds.

mod daemon;
mod load;

use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use daemon::{Daemon, Target, OURS_WITH_PROVIDER};

struct Args {
    upstream: Option<PathBuf>,
    ours: Option<PathBuf>,
    rounds: usize,
    seconds: f64,
    threads: usize,
    first_connect: usize,
    starts: usize,
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
[--seconds S] [--threads N] [--first-connect N] [--starts N]";

/// What one round measured on one target.
#[derive(Default)]
struct Round {
    startups: Vec<Duration>,
    idle_rss_kib: u64,
    first_connect: Vec<Duration>,
    sequential: load::Load,
    parallel: load::Load,
    loaded_rss_kib: u64,
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
    round.sequential = load::sequential(&socket, duration)?;
    round.parallel = load::parallel(&socket, args.threads, duration)?;
    round.loaded_rss_kib = daemon.rss_kib()?;
    daemon.check_alive()?;
    Ok(round)
}

/// The medians over all rounds of one target.
struct Summary {
    sequential: f64,
    seq_p50: Duration,
    seq_p99: Duration,
    parallel: f64,
    first_connect: Duration,
    startup: Duration,
    idle_rss_kib: u64,
    loaded_rss_kib: u64,
    errors: u64,
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

fn summarise(rounds: &[Round]) -> Summary {
    let each = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f).collect());
    let each_d = |f: &dyn Fn(&Round) -> Duration| median(rounds.iter().map(f).collect());
    Summary {
        sequential: each(&|r| r.sequential.rate),
        seq_p50: each_d(&|r| r.sequential.p50.unwrap_or_default()),
        seq_p99: each_d(&|r| r.sequential.p99.unwrap_or_default()),
        parallel: each(&|r| r.parallel.rate),
        first_connect: median(
            rounds
                .iter()
                .flat_map(|r| r.first_connect.clone())
                .collect(),
        ),
        startup: median(rounds.iter().flat_map(|r| r.startups.clone()).collect()),
        idle_rss_kib: median(rounds.iter().map(|r| r.idle_rss_kib).collect()),
        loaded_rss_kib: median(rounds.iter().map(|r| r.loaded_rss_kib).collect()),
        errors: rounds
            .iter()
            .map(|r| r.sequential.errors.saturating_add(r.parallel.errors))
            .fold(0, u64::saturating_add),
    }
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
    for r in 1..=args.rounds {
        for (target, results) in targets.iter().zip(rounds.iter_mut()) {
            eprintln!("round {r}/{}: {}", args.rounds, target.name);
            let round = run_round(target, &args)
                .with_context(|| format!("benchmarking {}", target.name))?;
            results.push(round);
        }
    }
    let mut summaries: [Option<Summary>; 3] = [None, None, None];
    for (target, results) in targets.iter().zip(&rounds) {
        summaries[target.column] = Some(summarise(results));
    }
    print_report(&args, &summaries);
    Ok(())
}

/// How a row compares: higher is better (rates) or lower is better (times, memory).
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

fn print_report(args: &Args, s: &[Option<Summary>]) {
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "Machine: {cpus} CPUs. {} rounds, interleaved; each load run {} s; {} client threads; \
         {} first-connect samples and {} starts per round. Medians over rounds.",
        args.rounds, args.seconds, args.threads, args.first_connect, args.starts
    );
    if !OURS_WITH_PROVIDER && s[2].is_some() {
        println!("Ours runs without a `[[provider]]` section (core provider only).");
    }
    println!();
    println!(
        "| Measurement | upstream default | upstream tuned (idle 1 ms) | ours | ours vs default | ours vs tuned |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mib = |k: u64| k as f64 / 1024.0;
    type Row<'a> = (&'a str, Better, usize, &'a dyn Fn(&Summary) -> f64);
    let rows: [Row; 8] = [
        ("Sequential ping (req/s)", Better::Higher, 0, &|x| {
            x.sequential
        }),
        ("Sequential ping p50 latency (ms)", Better::Lower, 3, &|x| {
            ms(x.seq_p50)
        }),
        ("Sequential ping p99 latency (ms)", Better::Lower, 3, &|x| {
            ms(x.seq_p99)
        }),
        ("8-thread ping (req/s)", Better::Higher, 0, &|x| x.parallel),
        (
            "First-connect latency, median (ms)",
            Better::Lower,
            3,
            &|x| ms(x.first_connect),
        ),
        (
            "Start-up to first ping, median (ms)",
            Better::Lower,
            1,
            &|x| ms(x.startup),
        ),
        ("Idle RSS (MiB)", Better::Lower, 1, &|x| mib(x.idle_rss_kib)),
        ("RSS after load (MiB)", Better::Lower, 1, &|x| {
            mib(x.loaded_rss_kib)
        }),
    ];
    for (title, better, decimals, get) in rows {
        let title = if title.starts_with("8-thread") {
            format!("{}-thread ping (req/s)", args.threads)
        } else {
            title.to_string()
        };
        let cell = |x: &Option<Summary>| match x {
            Some(x) => format!("{:.*}", decimals, get(x)),
            None => "n/a".into(),
        };
        let ratio = |up: &Option<Summary>| match (up, &s[2]) {
            (Some(up), Some(ours)) => {
                let (u, o) = (get(up), get(ours));
                let r = match better {
                    Better::Higher => o / u,
                    Better::Lower => u / o,
                };
                format!("{r:.1}×")
            }
            _ => "n/a".into(),
        };
        println!(
            "| {title} | {} | {} | {} | {} | {} |",
            cell(&s[0]),
            cell(&s[1]),
            cell(&s[2]),
            ratio(&s[0]),
            ratio(&s[1])
        );
    }
    let errors = |x: &Option<Summary>| x.as_ref().map_or("n/a".into(), |x| x.errors.to_string());
    println!(
        "| Failed pings (all rounds) | {} | {} | {} | | |",
        errors(&s[0]),
        errors(&s[1]),
        errors(&s[2])
    );
    println!();
    println!(
        "Ratios: > 1 means ours is better (rates: ours / upstream; times and memory: upstream / ours)."
    );
}
