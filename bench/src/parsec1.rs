//! Parsec.1 primitives, ours against npm unicrypto 1.14.1 under Node, on the same inputs:
//! BOSS encode and decode of a typical command dict and of a 1 MiB binary, and EtA encryption
//! and decryption of a 1 KiB and a 1 MiB message. Prints a Markdown table of ns/op and ratios.
//!
//!   bench/run-parsec1.sh            (installs unicrypto, builds in release, runs this)

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use parsec1::SymmetricKey;
use parsec_boss::Value;
use serde_json::{json, Value as Json};

const ROUNDS: usize = 3;
const ROUND: Duration = Duration::from_secs(1);

/// One operation, timed on both sides.
struct Case {
    name: &'static str,
    /// Bytes processed per operation, for a throughput column (0: none).
    bytes: usize,
    /// What the Node side is given.
    node: Json,
    ours: Box<dyn Fn()>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A value in the Node scripts' tagged JSON (only what these cases use).
fn tagged(v: &Value) -> Json {
    match v {
        Value::Bool(b) => json!({"t": "bool", "v": b}),
        Value::Int(i) => json!({"t": "int", "v": i.to_string()}),
        Value::Text(s) => json!({"t": "text", "v": s}),
        Value::Bin(b) => json!({"t": "bin", "v": hex(b)}),
        Value::List(l) => json!({"t": "list", "v": l.iter().map(tagged).collect::<Vec<_>>()}),
        Value::Dict(d) => {
            json!({"t": "dict", "v": d.iter().map(|(k, v)| json!([tagged(k), tagged(v)])).collect::<Vec<_>>()})
        }
        other => unimplemented!("{other}"),
    }
}

/// A tunnelled service call as a client sends it: the command inside the session cipher.
fn command() -> Value {
    Value::dict([
        ("cmd", "psaSignHash".into()),
        (
            "args",
            Value::dict([
                ("keyName", "payments-signing-key".into()),
                (
                    "alg",
                    Value::dict([("sign", "ecdsa".into()), ("hash", "sha256".into())]),
                ),
                ("hash", Value::Bin((0..32).collect())),
                ("deterministic", Value::Bool(false)),
                ("requestId", Value::Int(48213)),
            ]),
        ),
    ])
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn cases() -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for (name, v) in [
        ("BOSS command dict", command()),
        (
            "BOSS 64 KiB binary",
            Value::Bin((0..1 << 16).map(|i| (i * 7) as u8).collect()),
        ),
        (
            "BOSS 1 MiB binary",
            Value::Bin((0..1 << 20).map(|i| (i * 7) as u8).collect()),
        ),
    ] {
        let bytes = parsec_boss::encode(&v)?;
        let size = if bytes.len() > 1000 { bytes.len() } else { 0 };
        let tag = tagged(&v);
        let v2 = v.clone();
        cases.push(Case {
            name: leak(format!("encode {name}")),
            bytes: size,
            // unicrypto cannot decode more than about 128 KiB (its parser overflows the stack),
            // so its encoding of large values is checked against ours instead.
            node: if bytes.len() > 100_000 {
                json!({"kind": "boss_encode", "value": tag, "expect_hex": hex(&bytes)})
            } else {
                json!({"kind": "boss_encode", "value": tag})
            },
            ours: Box::new(move || {
                black_box(parsec_boss::encode(black_box(&v2)).unwrap());
            }),
        });
        let b2 = bytes.clone();
        cases.push(Case {
            name: leak(format!("decode {name}")),
            bytes: size,
            node: json!({"kind": "boss_decode", "hex": hex(&bytes)}),
            ours: Box::new(move || {
                black_box(parsec_boss::decode(black_box(&b2)).unwrap());
            }),
        });
    }
    let key = SymmetricKey::new(&[0x42; 32]);
    for size in [1024usize, 1 << 20] {
        let plain: Vec<u8> = (0..size).map(|i| (i * 13) as u8).collect();
        let cipher = key.encrypt(&plain)?;
        let k = key.clone();
        let p = plain.clone();
        cases.push(Case {
            name: if size > 1024 {
                "EtA encrypt 1 MiB"
            } else {
                "EtA encrypt 1 KiB"
            },
            bytes: size,
            node: json!({"kind": "eta_encrypt", "key": hex(key.as_bytes()), "plain": hex(&plain)}),
            ours: Box::new(move || {
                black_box(k.encrypt(black_box(&p)).unwrap());
            }),
        });
        let k = key.clone();
        let c = cipher.clone();
        cases.push(Case {
            name: if size > 1024 { "EtA decrypt 1 MiB" } else { "EtA decrypt 1 KiB" },
            bytes: size,
            node: json!({"kind": "eta_decrypt", "key": hex(key.as_bytes()), "cipher": hex(&cipher)}),
            ours: Box::new(move || {
                black_box(k.decrypt(black_box(&c)).unwrap());
            }),
        });
    }
    Ok(cases)
}

/// Median ns per operation over the rounds, each about one second.
fn time(f: &dyn Fn()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < ROUND / 5 {
        f();
        n += 1;
    }
    let per_round = ((n as f64) * 5.0).max(1.0) as u64;
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_round {
                f();
            }
            t.elapsed().as_nanos() as f64 / per_round as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[ROUNDS / 2]
}

/// unicrypto's time per operation, or why it could not do it.
fn node(cases: &[Case]) -> Result<Vec<Result<f64, String>>> {
    let modules = std::env::var("PARSEC_NODE_MODULES")
        .context("PARSEC_NODE_MODULES (bench/run-parsec1.sh sets it)")?;
    let input: Vec<Json> = cases
        .iter()
        .map(|c| {
            let mut j = c.node.clone();
            j["name"] = json!(c.name);
            j
        })
        .collect();
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), json!({"cases": input}).to_string())?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/node/unicrypto_bench.cjs");
    let out = Command::new("node")
        .arg("--no-experimental-fetch")
        .arg(script)
        .arg(file.path())
        .env("PARSEC_NODE_MODULES", modules)
        .output()
        .context("running node")?;
    if !out.status.success() {
        bail!(
            "unicrypto bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let lines: Vec<Json> = String::from_utf8(out.stdout)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    cases
        .iter()
        .map(|c| {
            let line = lines
                .iter()
                .find(|l| l["name"] == c.name)
                .with_context(|| format!("no Node result for {}", c.name))?;
            Ok(match (line["ns_per_op"].as_f64(), line["error"].as_str()) {
                (Some(ns), _) => Ok(ns),
                (None, Some(e)) => Err(e.to_owned()),
                _ => bail!("bad Node result {line}"),
            })
        })
        .collect()
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn mb_s(bytes: usize, ns: f64) -> String {
    if bytes == 0 {
        String::new()
    } else {
        format!(" ({:.0} MB/s)", bytes as f64 / ns * 1e3)
    }
}

fn main() -> Result<()> {
    let cases = cases()?;
    eprintln!("parsec1-bench: timing ours ({} cases)", cases.len());
    let ours: Vec<f64> = cases.iter().map(|c| time(&*c.ours)).collect();
    eprintln!("parsec1-bench: timing unicrypto under Node");
    let theirs = node(&cases)?;
    println!(
        "| operation | ours | unicrypto 1.14.1 (Node {}) | ours is |",
        node_version()
    );
    println!("|---|---|---|---|");
    for ((c, o), t) in cases.iter().zip(&ours).zip(&theirs) {
        let (theirs, ratio) = match t {
            Ok(t) => (
                format!("{}{}", fmt_ns(*t), mb_s(c.bytes, *t)),
                format!("{:.1}× faster", t / o),
            ),
            Err(e) => (format!("fails: {e}"), "n/a".into()),
        };
        println!(
            "| {} | {}{} | {theirs} | {ratio} |",
            c.name,
            fmt_ns(*o),
            mb_s(c.bytes, *o)
        );
    }
    Ok(())
}

fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "?".into(), |s| s.trim().to_owned())
}
