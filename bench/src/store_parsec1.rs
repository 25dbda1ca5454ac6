//! store-bench's Parsec.1 rows: tunnelled calls through our Rust client (test-mode sessions,
//! 2048-bit session keys) against one node or two, the client spreading over both URLs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use parsec1::KeyAddress;
use parsec_boss::Value;
use parsec_psa::{ops, AsymmetricSignature, Hash, KeyAttributes, Operation, SignHash};
use parsec_rs_client::parsec1::{FixedServiceKeys, HttpTransport, MemoryStorage, Options, Session};

/// Concurrent sessions of the parallel row.
pub const CLIENTS: usize = 8;

type P1Session = Session<MemoryStorage, FixedServiceKeys>;

/// One sequential or parallel run: calls per second, and the median call (sequential only).
#[derive(Clone, Copy, Debug, Default)]
pub struct Rate {
    pub rate: f64,
    pub p50: Option<Duration>,
    pub errors: u64,
}

/// What one round measured on one target.
#[derive(Clone, Copy, Debug, Default)]
pub struct P1Round {
    pub ping: Rate,
    pub sign: Rate,
    pub generate_destroy: Rate,
    pub sign_parallel: Rate,
}

fn ecdsa() -> AsymmetricSignature {
    AsymmetricSignature::Ecdsa {
        hash_alg: SignHash::Specific(Hash::Sha256),
    }
}

fn p256() -> KeyAttributes {
    use parsec_psa::{Algorithm, EccFamily, KeyType, Policy, UsageFlags};
    KeyAttributes {
        key_type: KeyType::EccKeyPair {
            curve_family: EccFamily::SecpR1,
        },
        bits: 256,
        policy: Policy {
            usage_flags: UsageFlags {
                sign_hash: true,
                verify_hash: true,
                ..UsageFlags::default()
            },
            permitted_algorithms: Algorithm::AsymmetricSignature(ecdsa()),
        },
    }
}

fn session(urls: &[String], key: &KeyAddress) -> Result<P1Session> {
    let mut transport = HttpTransport::new(&urls[0])?;
    if urls.len() > 1 {
        let others = urls[1..]
            .iter()
            .map(|u| HttpTransport::new(u))
            .collect::<Result<Vec<_>, _>>()?;
        transport = transport.with_fallbacks(others).with_spread(true);
    }
    Ok(Session::new(
        transport,
        MemoryStorage::new(),
        FixedServiceKeys(vec![key.clone()]),
        Options {
            key_bits: 2048,
            test_mode: true,
        },
    ))
}

fn sign_op() -> Operation {
    Operation::PsaSignHash(ops::SignHash {
        key_name: "bench-p1".into(),
        alg: ecdsa(),
        hash: vec![7; 32],
    })
}

/// One session calling `op(n)` for `duration`.
async fn sequential<F, Fut>(duration: Duration, mut op: F) -> Rate
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (mut times, mut errors, mut n) = (Vec::new(), 0, 0);
    let start = Instant::now();
    while start.elapsed() < duration {
        let t = Instant::now();
        if op(n).await {
            times.push(t.elapsed());
        } else {
            errors += 1;
        }
        n += 1;
    }
    let rate = times.len() as f64 / start.elapsed().as_secs_f64();
    times.sort();
    Rate {
        rate,
        p50: times.get(times.len() / 2).copied(),
        errors,
    }
}

/// Runs the rows against the service at `urls` (one node, or several behind the client's
/// spreading), whose key is `key`.
pub fn run(urls: &[String], key: &KeyAddress, duration: Duration) -> Result<P1Round> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sessions: Vec<P1Session> = (0..CLIENTS)
        .map(|_| session(urls, key))
        .collect::<Result<_>>()?;
    let sessions = Arc::new(sessions);
    // Handshakes and each session's key, outside the timed runs.
    rt.block_on(async {
        for s in sessions.iter() {
            s.operation(&Operation::PsaGenerateKey(ops::GenerateKey {
                key_name: "bench-p1".into(),
                attributes: p256(),
            }))
            .await
            .context("a session's signing key")?;
        }
        anyhow::Ok(())
    })?;
    let part = duration / 4;
    let first = &sessions[0];
    let ping = rt.block_on(sequential(part, |_| async {
        first
            .call_value("ping", Value::dict::<&str>([]))
            .await
            .is_ok()
    }));
    let sign = rt.block_on(sequential(part, |_| async {
        first.operation(&sign_op()).await.is_ok()
    }));
    let generate_destroy = rt.block_on(sequential(part, |n| async move {
        let name = format!("gd-{n}");
        let made = first
            .operation(&Operation::PsaGenerateKey(ops::GenerateKey {
                key_name: name.clone(),
                attributes: p256(),
            }))
            .await
            .is_ok();
        made && first
            .operation(&Operation::PsaDestroyKey(ops::DestroyKey {
                key_name: name,
            }))
            .await
            .is_ok()
    }));
    let sign_parallel = rt.block_on(async {
        let deadline = Instant::now() + part;
        let started = Instant::now();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let sessions = sessions.clone();
                tokio::spawn(async move {
                    let (mut ok, mut failed) = (0u64, 0u64);
                    while Instant::now() < deadline {
                        match sessions[i].operation(&sign_op()).await {
                            Ok(_) => ok += 1,
                            Err(_) => failed += 1,
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        let (mut ok, mut failed) = (0, 0);
        for t in tasks {
            let (o, f) = t.await?;
            ok += o;
            failed += f;
        }
        anyhow::Ok(Rate {
            rate: ok as f64 / started.elapsed().as_secs_f64(),
            p50: None,
            errors: failed,
        })
    })?;
    Ok(P1Round {
        ping,
        sign,
        generate_destroy,
        sign_parallel,
    })
}

/// One session with its signing key, for counting what a call costs the database.
pub struct Counter {
    rt: tokio::runtime::Runtime,
    session: P1Session,
}

impl Counter {
    /// A session with the service at `url`, its handshake and key done.
    pub fn start(url: &str, key: &KeyAddress) -> Result<Counter> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let session = session(&[url.to_string()], key)?;
        rt.block_on(
            session.operation(&Operation::PsaGenerateKey(ops::GenerateKey {
                key_name: "bench-p1".into(),
                attributes: p256(),
            })),
        )?;
        Ok(Counter { rt, session })
    }

    /// `n` tunnelled signatures.
    pub fn signs(&self, n: u64) -> Result<()> {
        for _ in 0..n {
            self.rt.block_on(self.session.operation(&sign_op()))?;
        }
        Ok(())
    }
}
