//! The printed report: medians over rounds, ratios against both upstream columns, the floor under
//! a signature, and whether the targets are met.

use std::thread;
use std::time::Duration;

use crate::crypto::{CryptoRound, PLAINTEXT_LEN};
use crate::daemon::OURS_WITH_PROVIDER;
use crate::floor::{self, FloorRound, REPLY_LEN, REQUEST_LEN};
use crate::load::Load;
use crate::{Args, Round};

/// The rounds of each column: 0 upstream default, 1 upstream tuned, 2 ours.
type Columns<'a> = [Option<&'a [Round]>; 3];
/// One figure of a column, from all its rounds.
type Metric = dyn Fn(&[Round]) -> Option<f64>;

/// How a row compares: higher is better (rates) or lower is better (times, memory).
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

struct Row {
    title: String,
    better: Better,
    decimals: usize,
    value: Box<Metric>,
}

fn row(
    title: impl Into<String>,
    better: Better,
    decimals: usize,
    value: impl Fn(&[Round]) -> Option<f64> + 'static,
) -> Row {
    Row {
        title: title.into(),
        better,
        decimals,
        value: Box::new(value),
    }
}

fn median<T: Copy + PartialOrd>(mut v: Vec<T>) -> Option<T> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied()
}

/// The median over rounds of a figure each round may or may not have.
fn per_round(rounds: &[Round], f: impl Fn(&Round) -> Option<f64>) -> Option<f64> {
    median(rounds.iter().filter_map(f).collect())
}

/// The median over rounds of one crypto load's figure.
fn crypto(
    rounds: &[Round],
    load: fn(&CryptoRound) -> Option<Load>,
    f: fn(&Load) -> Option<f64>,
) -> Option<f64> {
    per_round(rounds, |r| {
        r.crypto.as_ref().and_then(load).and_then(|l| f(&l))
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn rate(l: &Load) -> Option<f64> {
    Some(l.rate)
}

fn p50_ms(l: &Load) -> Option<f64> {
    l.p50.map(ms)
}

fn p99_ms(l: &Load) -> Option<f64> {
    l.p99.map(ms)
}

fn sign_rate(r: &[Round]) -> Option<f64> {
    crypto(r, |c| c.sign, rate)
}

fn sign_p50_ms(r: &[Round]) -> Option<f64> {
    crypto(r, |c| c.sign, p50_ms)
}

fn sign_parallel_rate(r: &[Round]) -> Option<f64> {
    crypto(r, |c| c.sign_parallel, rate)
}

fn generate_destroy_rate(r: &[Round]) -> Option<f64> {
    crypto(r, |c| c.generate_destroy, rate)
}

fn ping_rows(threads: usize) -> Vec<Row> {
    vec![
        row("Sequential ping (req/s)", Better::Higher, 0, |r| {
            per_round(r, |x| Some(x.sequential.rate))
        }),
        row("Sequential ping p50 latency (ms)", Better::Lower, 3, |r| {
            per_round(r, |x| x.sequential.p50.map(ms))
        }),
        row("Sequential ping p99 latency (ms)", Better::Lower, 3, |r| {
            per_round(r, |x| x.sequential.p99.map(ms))
        }),
        row(
            format!("{threads}-thread ping (req/s)"),
            Better::Higher,
            0,
            |r| per_round(r, |x| Some(x.parallel.rate)),
        ),
        row(
            "First-connect latency, median (ms)",
            Better::Lower,
            3,
            |r| median(r.iter().flat_map(|x| x.first_connect.clone()).collect()).map(ms),
        ),
        row(
            "Start-up to first ping, median (ms)",
            Better::Lower,
            1,
            |r| median(r.iter().flat_map(|x| x.startups.clone()).collect()).map(ms),
        ),
        row("Idle RSS (MiB)", Better::Lower, 1, |r| {
            per_round(r, |x| Some(mib(x.idle_rss_kib)))
        }),
        row("RSS after ping load (MiB)", Better::Lower, 1, |r| {
            per_round(r, |x| Some(mib(x.loaded_rss_kib)))
        }),
    ]
}

fn crypto_rows(threads: usize) -> Vec<Row> {
    let kib = PLAINTEXT_LEN / 1024;
    vec![
        row(
            "ECDSA P-256 sign_hash, sequential (ops/s)",
            Better::Higher,
            0,
            sign_rate,
        ),
        row(
            "ECDSA P-256 sign_hash p50 latency (ms)",
            Better::Lower,
            3,
            sign_p50_ms,
        ),
        row(
            "ECDSA P-256 sign_hash p99 latency (ms)",
            Better::Lower,
            3,
            |r| crypto(r, |c| c.sign, p99_ms),
        ),
        row(
            format!("ECDSA P-256 sign_hash, {threads} threads (ops/s)"),
            Better::Higher,
            0,
            sign_parallel_rate,
        ),
        row(
            "P-256 generate+destroy, sequential (pairs/s)",
            Better::Higher,
            0,
            generate_destroy_rate,
        ),
        row(
            "P-256 generate+destroy p50 latency (ms)",
            Better::Lower,
            3,
            |r| crypto(r, |c| c.generate_destroy, p50_ms),
        ),
        row(
            "RSA-2048 PKCS#1 v1.5 sign_hash, sequential (ops/s)",
            Better::Higher,
            0,
            |r| crypto(r, |c| c.rsa_sign, rate),
        ),
        row(
            format!("AES-256-GCM encrypt {kib} KiB, sequential (ops/s)"),
            Better::Higher,
            0,
            |r| crypto(r, |c| c.aes_encrypt, rate),
        ),
        row(
            "RSA-2048 key generation, once per round (ms)",
            Better::Lower,
            0,
            |r| per_round(r, |x| x.crypto.and_then(|c| c.rsa_keygen).map(ms)),
        ),
        row("RSS after crypto load (MiB)", Better::Lower, 1, |r| {
            per_round(r, |x| x.crypto_rss_kib.map(mib))
        }),
    ]
}

/// Ours against one upstream column, arranged so that > 1 means ours is better.
fn ratio(better: Better, upstream: Option<f64>, ours: Option<f64>) -> Option<f64> {
    let (u, o) = (upstream?, ours?);
    let r = match better {
        Better::Higher => o / u,
        Better::Lower => u / o,
    };
    r.is_finite().then_some(r)
}

fn print_table(title: &str, c: &Columns, rows: &[Row], failures: (&str, &Metric)) {
    println!(
        "| {title} | upstream default | upstream tuned (idle 1 ms) | ours | ours vs default | ours vs tuned |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for row in rows {
        let v: Vec<Option<f64>> = c.iter().map(|r| r.and_then(|r| (row.value)(r))).collect();
        let cell = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{:.*}", row.decimals, x));
        let times = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{x:.1}×"));
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.title,
            cell(v[0]),
            cell(v[1]),
            cell(v[2]),
            times(ratio(row.better, v[0], v[2])),
            times(ratio(row.better, v[1], v[2])),
        );
    }
    let (title, count) = failures;
    let count = |x: Option<&[Round]>| x.and_then(count).map_or("n/a".into(), |n| n.to_string());
    println!(
        "| {title} | {} | {} | {} | | |",
        count(c[0]),
        count(c[1]),
        count(c[2])
    );
    println!();
}

/// Medians of the floor's two halves and their sum, and of the client's ping to the echo, in
/// µs, all measurements pooled.
fn floor(floors: &[&FloorRound]) -> Option<(f64, f64, f64, f64)> {
    let pool = |f: fn(&FloorRound) -> &Vec<Duration>| {
        floor::median(&floors.iter().flat_map(|x| f(x).clone()).collect::<Vec<_>>()).map(us)
    };
    let (sign, trip) = (pool(|f| &f.sign)?, pool(|f| &f.round_trip)?);
    Some((sign, trip, sign + trip, pool(|f| &f.client_ping)?))
}

/// A target's sequential sign p50 over the floor measured right before it, median over rounds.
fn sign_over_floor(rounds: &[Round]) -> Option<f64> {
    per_round(rounds, |r| {
        let p50 = r.crypto?.sign?.p50?;
        Some(p50.as_secs_f64() / r.floor.as_ref()?.total()?.as_secs_f64())
    })
}

pub fn print(args: &Args, c: &Columns, load: (Option<f64>, Option<f64>)) {
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let f2 = |x: Option<f64>| x.map_or("?".into(), |x| format!("{x:.2}"));
    println!(
        "Machine: {cpus} CPUs; 1-minute load average {} before and {} after. {} rounds, \
         interleaved; each load run {} s; {} client threads; {} first-connect samples and {} \
         starts per round; {} floor samples of each kind per target and round. Medians over \
         rounds.",
        f2(load.0),
        f2(load.1),
        args.rounds,
        args.seconds,
        args.threads,
        args.first_connect,
        args.starts,
        args.floor_samples
    );
    if !OURS_WITH_PROVIDER && c[2].is_some() {
        println!(
            "Ours runs without a `[[provider]]` section (core provider only): no crypto rows."
        );
    }
    println!();
    let total = |f: fn(&Round) -> Option<u64>| {
        move |r: &[Round]| {
            r.iter()
                .map(f)
                .try_fold(0u64, |a, n| n.map(|n| a.saturating_add(n)))
                .map(|n| n as f64)
        }
    };
    let ping_failures = total(|r| Some(r.sequential.errors.saturating_add(r.parallel.errors)));
    let crypto_failures = total(|r| r.crypto.map(|c| c.errors()));
    print_table(
        "Ping",
        c,
        &ping_rows(args.threads),
        ("Failed pings (all rounds)", &ping_failures),
    );
    print_table(
        "Crypto (provider 1)",
        c,
        &crypto_rows(args.threads),
        ("Failed crypto ops (all rounds)", &crypto_failures),
    );
    let missing: usize = c
        .iter()
        .flatten()
        .flat_map(|r| r.iter())
        .filter_map(|r| r.crypto.map(|c| c.missing()))
        .sum();
    if missing > 0 {
        println!("{missing} crypto rows could not be set up (see stderr); they show as n/a.\n");
    }
    println!(
        "Ratios: > 1 means ours is better (rates: ours / upstream; times and memory: upstream / ours)."
    );
    println!();

    let floors: Vec<&FloorRound> = c
        .iter()
        .flatten()
        .flat_map(|r| r.iter())
        .filter_map(|r| r.floor.as_ref())
        .collect();
    let floor = floor(&floors);
    let f = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{x:.1}"));
    println!("| Floor under one signature (this process, no daemon) | median (µs) |");
    println!("|---|---:|");
    println!(
        "| ECDSA P-256 sign, aws-lc-rs `EcdsaKeyPair::sign_digest` | {} |",
        f(floor.map(|x| x.0))
    );
    println!(
        "| Bare Unix-socket round trip, new connection ({REQUEST_LEN} bytes in, {REPLY_LEN} out) | {} |",
        f(floor.map(|x| x.1))
    );
    println!(
        "| Floor: in-process sign + bare round trip | {} |",
        f(floor.map(|x| x.2))
    );
    println!(
        "| For comparison: `parsec-client` ping to the same echo (client's share of a ping) | {} |",
        f(floor.map(|x| x.3))
    );
    println!();
    let v: Vec<Option<f64>> = c.iter().map(|col| col.and_then(sign_over_floor)).collect();
    let times = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{x:.2}×"));
    println!(
        "| Sequential sign p50 ÷ floor | upstream default | upstream tuned (idle 1 ms) | ours |"
    );
    println!("|---|---:|---:|---:|");
    println!(
        "| ECDSA P-256 sign_hash | {} | {} | {} |",
        times(v[0]),
        times(v[1]),
        times(v[2])
    );
    println!();

    println!("Targets for ours:");
    let vs = |metric: &Metric, up: usize| {
        ratio(
            Better::Higher,
            c[up].and_then(metric),
            c[2].and_then(metric),
        )
    };
    let verdict = |r: Option<f64>, ok: &dyn Fn(f64) -> bool| match r {
        Some(r) if ok(r) => format!("{r:.1}× (met)"),
        Some(r) => format!("{r:.1}× (NOT met)"),
        None => "n/a".into(),
    };
    let checks: [(&str, &Metric); 3] = [
        ("sequential sign", &sign_rate),
        ("8-thread sign", &sign_parallel_rate),
        ("generate+destroy", &generate_destroy_rate),
    ];
    for (name, metric) in checks {
        let name = name.replace("8-thread", &format!("{}-thread", args.threads));
        println!(
            "- {name}: vs default {} (≥ 10×); vs tuned {} (≥ 5×)",
            verdict(vs(metric, 0), &|r| r >= 10.0),
            verdict(vs(metric, 1), &|r| r >= 5.0)
        );
    }
    let within = match v[2] {
        Some(r) if r <= 2.0 => format!("{r:.2}× (met)"),
        Some(r) => format!("{r:.2}× (NOT met)"),
        None => "n/a".into(),
    };
    println!("- sequential sign p50 ÷ floor: {within} (≤ 2×)");
}
