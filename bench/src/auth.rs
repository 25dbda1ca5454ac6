//! auth-bench: what authentication costs per request in our daemon: Direct (the name as sent,
//! the floor), JWT from an identity provider (RS256 and ES256 tokens, keys from a JWK set file)
//! and JWT-SVID (ES256, a SPIFFE bundle file), each sending ListKeys (an operation that needs
//! an identity and does little else) over one kept connection of our client library, rounds
//! alternating. A client sends the same token until it expires, and the daemon verifies each
//! token once (then remembers it for as long as its keys are held); the rows "a new token
//! every request" cycle through 10,000 tokens, more than it remembers, so each request pays
//! for the whole check. Upstream has no JWT authenticator, and its JWT-SVID one asks a SPIFFE agent
//! for every request, which needs a real SPIRE agent: so the comparison is with Direct.
//!
//!   auth-bench --ours PATH [--rounds 3] [--seconds 3]

#[allow(dead_code)]
#[path = "../../crates/service/tests/common/tokens.rs"]
mod tokens;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use parsec_rs_client::tokens::StaticToken;
use parsec_rs_client::{Auth, AuthType, Client, Endpoint};
use tokens::{claims, jwks, TestKey};

const USAGE: &str = "usage: auth-bench --ours PATH [--rounds N] [--seconds S]";

fn main() -> Result<()> {
    let (mut ours, mut rounds, mut seconds) = (None, 3usize, 3.0f64);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--ours" => ours = Some(std::path::absolute(&value)?),
            "--rounds" => rounds = value.parse()?,
            "--seconds" => seconds = value.parse()?,
            _ => bail!("unknown flag {flag}\n{USAGE}"),
        }
    }
    let ours: PathBuf = ours.context(USAGE)?;
    let dir = tempfile::Builder::new()
        .prefix("parsec-auth-bench-")
        .tempdir()?;
    let (rsa, ec, svid_key) = (TestKey::rsa("rsa"), TestKey::ec("ec"), TestKey::ec("svid"));
    tokens::write_key_file(&dir.path().join("jwks.json"), &jwks(&[&rsa, &ec], None));
    let bundle: serde_json::Value = serde_json::from_str(&jwks(&[&svid_key], Some("jwt-svid")))?;
    tokens::write_key_file(
        &dir.path().join("bundles.json"),
        &serde_json::json!({ "example.org": bundle }).to_string(),
    );
    let socket = dir.path().join("parsec.sock");
    let config = format!(
        "[core_settings]\nallow_root = true\n\n[listener]\nlistener_type = \"DomainSocket\"\n\
         timeout = 3000\nsocket_path = {socket:?}\n\n\
         [[authenticator]]\nauth_type = \"Direct\"\n\n\
         [[authenticator]]\nauth_type = \"Jwt\"\njwks_path = {:?}\nissuer = \"https://idp\"\naudience = \"bench\"\n\n\
         [[authenticator]]\nauth_type = \"JwtSvid\"\njwt_bundles_path = {:?}\n\n\
         [[key_manager]]\nname = \"store\"\nmanager_type = \"SQLite\"\nsqlite_db_path = {:?}\n\n\
         [[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"store\"\n",
        dir.path().join("jwks.json"),
        dir.path().join("bundles.json"),
        dir.path().join("keys.sqlite3"),
    );
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config)?;
    let mut daemon = Daemon(
        Command::new(&ours)
            .arg("-c")
            .arg(&config_path)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("daemon.log"))?)
            .spawn()
            .with_context(|| format!("cannot run {}", ours.display()))?,
    );
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        if let Some(status) = daemon.0.try_wait()? {
            bail!("the daemon exited at start-up ({status})");
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("the daemon did not start listening");
        }
        std::thread::sleep(Duration::from_millis(5));
    }

    // Tokens valid for the whole run (the lifetime allowed is a day).
    let token = |key: &TestKey, sub: &str, iss: Option<&str>, aud: &str| {
        let mut c = claims(sub, iss, aud);
        c["exp"] = serde_json::json!(tokens::now() + 6 * 3600);
        key.token(&c)
    };
    let kinds: Vec<(&str, Auth)> = vec![
        ("Direct", Auth::Direct("bench-app".into())),
        (
            "JWT, RS256 (RSA-2048)",
            jwt(
                AuthType::Jwt,
                token(&rsa, "bench-app", Some("https://idp"), "bench"),
            ),
        ),
        (
            "JWT, ES256 (P-256)",
            jwt(
                AuthType::Jwt,
                token(&ec, "bench-app", Some("https://idp"), "bench"),
            ),
        ),
        (
            "JWT-SVID, ES256 (P-256)",
            jwt(
                AuthType::JwtSvid,
                token(&svid_key, "spiffe://example.org/bench", None, "parsec"),
            ),
        ),
        (
            "JWT, RS256, a new token every request",
            cycle(AuthType::Jwt, |i| {
                let mut c = claims("bench-app", Some("https://idp"), "bench");
                c["jti"] = serde_json::json!(i);
                c["exp"] = serde_json::json!(tokens::now() + 6 * 3600);
                rsa.token(&c)
            }),
        ),
        (
            "JWT, ES256, a new token every request",
            cycle(AuthType::Jwt, |i| {
                let mut c = claims("bench-app", Some("https://idp"), "bench");
                c["jti"] = serde_json::json!(i);
                c["exp"] = serde_json::json!(tokens::now() + 6 * 3600);
                ec.token(&c)
            }),
        ),
    ];
    let mut results: Vec<Vec<(f64, Duration)>> = vec![Vec::new(); kinds.len()];
    let endpoint = Endpoint::parse(&format!("unix:{}", socket.display()))?;
    for round in 0..rounds {
        for (i, (name, auth)) in kinds.iter().enumerate() {
            let client = Client::builder()
                .endpoint(endpoint.clone())
                .auth(auth.clone())
                .build()?;
            client
                .list_keys()
                .with_context(|| format!("{name}: the first call"))?;
            let r = run(&client, Duration::from_secs_f64(seconds))?;
            eprintln!("round {}: {name}: {:.0} calls/s", round + 1, r.0);
            results[i].push(r);
        }
    }
    daemon
        .0
        .try_wait()?
        .map_or(Ok(()), |s| bail!("the daemon exited ({s})"))?;

    let best = |rs: &[(f64, Duration)]| {
        let rate = rs.iter().map(|r| r.0).fold(0.0, f64::max);
        let mut p50: Vec<Duration> = rs.iter().map(|r| r.1).collect();
        p50.sort();
        (rate, p50[p50.len() / 2])
    };
    let (direct_rate, _) = best(&results[0]);
    println!("| Authentication | ListKeys calls/s | p50 latency | vs Direct | added per request |");
    println!("|---|---:|---:|---:|---:|");
    for ((name, _), rs) in kinds.iter().zip(&results) {
        let (rate, p50) = best(rs);
        let added = 1e6 / rate - 1e6 / direct_rate;
        println!(
            "| {name} | {rate:.0} | {:.1} µs | {:.2}× | {:+.1} µs |",
            p50.as_secs_f64() * 1e6,
            rate / direct_rate,
            added
        );
    }
    println!(
        "\n{rounds} rounds of {seconds} s each, one client thread on one kept connection; the best \
         round's rate and the median round's p50."
    );
    Ok(())
}

/// Tokens minted ahead, sent in turn: more than the daemon remembers.
struct Cycle {
    auth_type: AuthType,
    tokens: Vec<Vec<u8>>,
    next: std::sync::atomic::AtomicUsize,
}

impl parsec_rs_client::TokenSource for Cycle {
    fn auth_type(&self) -> AuthType {
        self.auth_type
    }

    fn token(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, parsec_rs_client::Error> {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(zeroize::Zeroizing::new(
            self.tokens[i % self.tokens.len()].clone(),
        ))
    }
}

fn cycle(auth_type: AuthType, mint: impl Fn(usize) -> String) -> Auth {
    Auth::Token(Arc::new(Cycle {
        auth_type,
        tokens: (0..10_000).map(|i| mint(i).into_bytes()).collect(),
        next: Default::default(),
    }))
}

fn jwt(auth_type: AuthType, token: String) -> Auth {
    Auth::Token(Arc::new(StaticToken::new(auth_type, token.into_bytes())))
}

/// Calls ListKeys as fast as one thread can for `duration`: calls per second and p50.
fn run(client: &Client, duration: Duration) -> Result<(f64, Duration)> {
    let mut latencies = Vec::with_capacity(1 << 16);
    let start = Instant::now();
    while start.elapsed() < duration {
        let t = Instant::now();
        client.list_keys()?;
        latencies.push(t.elapsed());
    }
    let rate = latencies.len() as f64 / start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok((rate, latencies[latencies.len() / 2]))
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
