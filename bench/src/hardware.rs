//! `hardware-bench`: ECDSA P-256 signing through the PKCS#11 and TPM providers of our service and
//! of upstream's, against direct in-process use of the same kind of device (cryptoki on a
//! SoftHSM2 token, tss-esapi on swtpm). Run it through `bench/run-hardware.sh`.
//!
//! ```text
//! hardware-bench --ours PATH [--upstream PATH] [--slices 10] [--seconds 1] [--clients 1,4]
//!                [--rows pkcs11-ecdsa,pkcs11-rsa,tpm-ecdsa] [--threads N]
//! ```
//!
//! Without `--upstream` its column is left out ("n/a"); `--rows` picks some of the rows (all by
//! default), for quick runs while working on one of them; `--threads` sets both daemons'
//! `core_settings.thread_pool_size`.
//!
//! Every target has its own device (its own token, its own swtpm), so none waits on another's
//! locks. The targets take turns in short slices (direct, ours, upstream, direct, ...), so a
//! drift of the machine's speed hits all alike; each figure is the median of the slices.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use parsec_client::auth::Authentication;
use parsec_client::core::interface::operations::psa_algorithm::{
    AsymmetricSignature, Hash, SignHash,
};
use parsec_client::core::interface::operations::psa_key_attributes::{
    Attributes, EccFamily, Lifetime, Policy, Type, UsageFlags,
};
use parsec_client::core::interface::requests::ProviderId;
use parsec_client::BasicClient;

const PIN: &str = "123456";
const ECDSA: AsymmetricSignature = AsymmetricSignature::Ecdsa {
    hash_alg: SignHash::Specific(Hash::Sha256),
};

struct Args {
    upstream: Option<PathBuf>,
    ours: PathBuf,
    module: PathBuf,
    slices: usize,
    seconds: f64,
    clients: Vec<usize>,
    rows: Vec<String>,
    /// `core_settings.thread_pool_size` for both daemons (their default when absent).
    threads: Option<usize>,
}

fn parse_args() -> Result<Args> {
    let mut ours = None;
    let mut args = Args {
        upstream: None,
        ours: PathBuf::new(),
        module: PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"),
        slices: 10,
        seconds: 1.0,
        clients: vec![1, 4],
        rows: ROWS.iter().map(|r| r.0.to_string()).collect(),
        threads: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--upstream" => args.upstream = Some(absolute(&value)?),
            "--ours" => ours = Some(absolute(&value)?),
            "--module" => args.module = PathBuf::from(value),
            "--slices" => args.slices = value.parse()?,
            "--seconds" => args.seconds = value.parse()?,
            "--clients" => {
                args.clients = value.split(',').map(str::parse).collect::<Result<_, _>>()?
            }
            "--rows" => args.rows = value.split(',').map(String::from).collect(),
            "--threads" => args.threads = Some(value.parse()?),
            other => bail!("unknown flag {other}"),
        }
    }
    if let Some(row) = args.rows.iter().find(|r| !ROWS.iter().any(|k| k.0 == *r)) {
        bail!("unknown row {row}");
    }
    args.ours = ours.context("--ours PATH is required")?;
    Ok(args)
}

/// The daemons run in their own directories, so a relative binary path is resolved first.
fn absolute(path: &str) -> Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("cannot find {path}"))
}

/// SoftHSM2 tokens in one temp directory, one per target.
struct Tokens {
    dir: tempfile::TempDir,
}

impl Tokens {
    fn new(labels: &[&str]) -> Result<Tokens> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("tokens"))?;
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                dir.path().join("tokens").display()
            ),
        )?;
        let tokens = Tokens { dir };
        for label in labels {
            let ok = Command::new("softhsm2-util")
                .args(["--init-token", "--free", "--label", label])
                .args(["--so-pin", "12345678", "--pin", PIN])
                .env("SOFTHSM2_CONF", tokens.conf())
                .stdout(Stdio::null())
                .status()?
                .success();
            if !ok {
                bail!("softhsm2-util --init-token failed");
            }
        }
        Ok(tokens)
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }
}

/// An swtpm on loopback.
struct Swtpm {
    child: Child,
    _dir: tempfile::TempDir,
    port: u16,
}

impl Swtpm {
    fn start() -> Result<Swtpm> {
        let dir = tempfile::tempdir()?;
        let port = loop {
            let a = std::net::TcpListener::bind("127.0.0.1:0")?;
            let p = a.local_addr()?.port();
            if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--tpmstate"])
            .arg(format!("dir={}", dir.path().display()))
            .args([
                "--server",
                &format!("type=tcp,port={port},bindaddr=127.0.0.1"),
            ])
            .args([
                "--ctrl",
                &format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1),
            ])
            .args(["--flags", "not-need-init,startup-clear"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot run swtpm")?;
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port + 1)).is_err() {
            if start.elapsed() > Duration::from_secs(10) {
                bail!("swtpm did not start");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Swtpm {
            child,
            _dir: dir,
            port,
        })
    }

    fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A daemon with a PKCS#11 provider on token `label` and a TPM provider on `tpm`.
struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
}

impl Daemon {
    fn start(
        binary: &Path,
        tokens: &Tokens,
        serial: &str,
        tpm: &Swtpm,
        threads: Option<usize>,
    ) -> Result<Daemon> {
        let dir = tempfile::tempdir()?;
        let mut root = String::new();
        if rustix_is_root() {
            root.push_str("allow_root = true\n");
        }
        if let Some(threads) = threads {
            root.push_str(&format!("thread_pool_size = {threads}\n"));
        }
        // Upstream chooses a token by slot or serial number only; ours also by label.
        let config = format!(
            "[core_settings]\n{root}\n[listener]\nlistener_type = \"DomainSocket\"\ntimeout = 3000\n\
             socket_path = {sock:?}\n\n[authenticator]\nauth_type = \"Direct\"\n\n\
             [[key_manager]]\nname = \"kim\"\nmanager_type = \"SQLite\"\nsqlite_db_path = {db:?}\n\n\
             [[provider]]\nprovider_type = \"Pkcs11\"\nkey_info_manager = \"kim\"\n\
             library_path = {module:?}\nserial_number = {serial:?}\nuser_pin = {PIN:?}\n\n\
             [[provider]]\nprovider_type = \"Tpm\"\nkey_info_manager = \"kim\"\ntcti = {tcti:?}\n\
             owner_hierarchy_auth = \"\"\n",
            sock = dir.path().join("parsec.sock").display().to_string(),
            db = dir.path().join("kim.sqlite3").display().to_string(),
            module = softhsm_module().display().to_string(),
            tcti = tpm.tcti(),
        );
        std::fs::write(dir.path().join("config.toml"), config)?;
        let log = std::fs::File::create(dir.path().join("daemon.log"))?;
        let child = Command::new(binary)
            .arg("-c")
            .arg(dir.path().join("config.toml"))
            .current_dir(dir.path())
            .env("SOFTHSM2_CONF", tokens.conf())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let daemon = Daemon { child, dir };
        let start = Instant::now();
        while daemon.client("probe").and_then(|c| Ok(c.ping()?)).is_err() {
            if start.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(daemon.dir.path().join("daemon.log"))?;
                bail!("{} did not start:\n{log}", binary.display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(daemon)
    }

    fn client(&self, app: &str) -> Result<BasicClient> {
        std::env::set_var(
            "PARSEC_SERVICE_ENDPOINT",
            format!("unix:{}", self.dir.path().join("parsec.sock").display()),
        );
        let mut client = BasicClient::new_naked()?;
        client.set_auth_data(Authentication::Direct(app.into()));
        Ok(client)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|u| u.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn softhsm_module() -> PathBuf {
    std::env::var_os("PARSEC_SOFTHSM2_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"))
}

fn p256() -> Attributes {
    let mut usage_flags = UsageFlags::default();
    usage_flags.set_sign_hash().set_verify_hash();
    Attributes {
        lifetime: Lifetime::Persistent,
        key_type: Type::EccKeyPair {
            curve_family: EccFamily::SecpR1,
        },
        bits: 256,
        policy: Policy {
            usage_flags,
            permitted_algorithms: ECDSA.into(),
        },
    }
}

/// The signature measured.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Alg {
    EcdsaP256,
    Rsa2048,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::EcdsaP256 => "ECDSA P-256",
            Alg::Rsa2048 => "RSA-2048 PKCS#1 v1.5",
        }
    }

    fn psa(self) -> AsymmetricSignature {
        match self {
            Alg::EcdsaP256 => ECDSA,
            Alg::Rsa2048 => AsymmetricSignature::RsaPkcs1v15Sign {
                hash_alg: SignHash::Specific(Hash::Sha256),
            },
        }
    }

    fn attributes(self) -> Attributes {
        let mut a = p256();
        if self == Alg::Rsa2048 {
            a.key_type = Type::RsaKeyPair;
            a.bits = 2048;
            a.policy.permitted_algorithms = self.psa().into();
        }
        a
    }
}

/// The rows of the table: a name for `--rows`, the device, the provider, the signature.
const ROWS: [(&str, &str, ProviderId, Alg); 3] = [
    (
        "pkcs11-ecdsa",
        "PKCS#11 (SoftHSM2)",
        ProviderId::Pkcs11,
        Alg::EcdsaP256,
    ),
    (
        "pkcs11-rsa",
        "PKCS#11 (SoftHSM2)",
        ProviderId::Pkcs11,
        Alg::Rsa2048,
    ),
    ("tpm-ecdsa", "TPM (swtpm)", ProviderId::Tpm, Alg::EcdsaP256),
];

/// The DER DigestInfo prefix of SHA-256 (what CKM_RSA_PKCS signs before the hash).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// Something that signs a SHA-256 hash, once per call, from any thread.
type Signer = Arc<dyn Fn(usize) -> Result<()> + Send + Sync>;

/// Signatures per second with `clients` threads for `seconds`.
fn rate(signer: &Signer, clients: usize, seconds: f64) -> Result<f64> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let counts: Vec<Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|i| {
                let signer = signer.clone();
                s.spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        signer(i)?;
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: u64 = counts.into_iter().sum::<Result<u64>>()?;
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// A signer through a daemon's provider, one BasicClient per client thread.
fn service_signer(
    daemon: &Daemon,
    provider: ProviderId,
    alg: Alg,
    clients: usize,
) -> Result<Signer> {
    let mut list = Vec::new();
    for _ in 0..clients {
        let mut c = daemon.client("bench")?;
        c.set_implicit_provider(provider);
        list.push(c);
    }
    let name = format!("{provider:?}-{}-{clients}", alg.name());
    list[0]
        .psa_generate_key(&name, alg.attributes())
        .with_context(|| format!("generating a key in provider {provider:?}"))?;
    let list = Arc::new(list);
    Ok(Arc::new(move |i| {
        list[i].psa_sign_hash(&name, &[7u8; 32], alg.psa())?;
        Ok(())
    }))
}

/// A signer straight on a SoftHSM2 token: a logged-in session per client thread.
fn pkcs11_signer(tokens: &Tokens, label: &str, alg: Alg, clients: usize) -> Result<Signer> {
    std::env::set_var("SOFTHSM2_CONF", tokens.conf());
    let lib = Pkcs11::new(softhsm_module())?;
    match lib.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(e.into()),
    }
    let slot = lib
        .get_slots_with_initialized_token()?
        .into_iter()
        .find(|s| {
            lib.get_token_info(*s)
                .map(|t| t.label().trim_end() == label)
                .unwrap_or(false)
        })
        .context("no direct token")?;
    let first = lib.open_rw_session(slot)?;
    first.login(UserType::User, Some(&AuthPin::from(PIN)))?;
    let p256_oid = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let private_template = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sign(true),
    ];
    let (mechanism, public_template, data) = match alg {
        Alg::EcdsaP256 => (
            Mechanism::EccKeyPairGen,
            vec![
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::EcParams(p256_oid),
            ],
            vec![7u8; 32],
        ),
        Alg::Rsa2048 => (
            Mechanism::RsaPkcsKeyPairGen,
            vec![
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::ModulusBits(2048u64.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
            ],
            [&SHA256_DIGEST_INFO[..], &[7u8; 32]].concat(),
        ),
    };
    let (_, private): (ObjectHandle, ObjectHandle) =
        first.generate_key_pair(&mechanism, &public_template, &private_template)?;
    let mut sessions = vec![first];
    for _ in 1..clients {
        sessions.push(lib.open_rw_session(slot)?);
    }
    let sessions: Vec<std::sync::Mutex<cryptoki::session::Session>> =
        sessions.into_iter().map(std::sync::Mutex::new).collect();
    let sessions = Arc::new(sessions);
    Ok(Arc::new(move |i| {
        let session = sessions[i].lock().unwrap();
        let mechanism = match alg {
            Alg::EcdsaP256 => Mechanism::Ecdsa,
            Alg::Rsa2048 => Mechanism::RsaPkcs,
        };
        session.sign(&mechanism, private, &data)?;
        Ok(())
    }))
}

#[cfg(feature = "tpm")]
mod tpm_direct;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn serial_of(tokens: &Tokens, label: &str) -> Result<String> {
    let out = Command::new("softhsm2-util")
        .arg("--show-slots")
        .env("SOFTHSM2_CONF", tokens.conf())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut serial = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(s) = line.strip_prefix("Serial number:") {
            serial = Some(s.trim().to_string());
        }
        if line.strip_prefix("Label:").map(str::trim) == Some(label) {
            return serial.context("no serial before the label");
        }
    }
    bail!("no token {label}")
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let tokens = Tokens::new(&["direct", "ours", "upstream"])?;
    let tpms = [Swtpm::start()?, Swtpm::start()?, Swtpm::start()?];
    let ours = Daemon::start(
        &args.ours,
        &tokens,
        &serial_of(&tokens, "ours")?,
        &tpms[1],
        args.threads,
    )?;
    let upstream = args
        .upstream
        .as_ref()
        .map(|path| {
            let serial = serial_of(&tokens, "upstream")?;
            Daemon::start(path, &tokens, &serial, &tpms[2], args.threads)
        })
        .transpose()?;
    println!(
        "Signatures per second (median of {} slices of {} s, targets in rotating order)\n",
        args.slices, args.seconds
    );
    println!("| device | signature | clients | direct, in process | ours | upstream 1.5.0 | ours / direct | upstream / direct | ours / upstream |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (_, device, provider, alg) in ROWS
        .iter()
        .copied()
        .filter(|r| args.rows.iter().any(|name| name == r.0))
    {
        for &clients in &args.clients {
            let direct: Option<Signer> = match provider {
                ProviderId::Pkcs11 => Some(pkcs11_signer(&tokens, "direct", alg, clients)?),
                #[cfg(feature = "tpm")]
                _ => Some(tpm_direct::signer(&tpms[0].tcti(), clients)?),
                #[cfg(not(feature = "tpm"))]
                _ => None,
            };
            let targets = [
                direct,
                Some(service_signer(&ours, provider, alg, clients).context("ours")?),
                upstream
                    .as_ref()
                    .map(|u| service_signer(u, provider, alg, clients).context("upstream"))
                    .transpose()?,
            ];
            let mut rates = [Vec::new(), Vec::new(), Vec::new()];
            // Each slice starts with the next target: a target always run right after the same
            // other one measured 3-5% apart from an identical binary in the other place.
            for slice in 0..args.slices {
                for k in 0..targets.len() {
                    let t = (slice + k) % targets.len();
                    if let Some(signer) = &targets[t] {
                        rates[t].push(rate(signer, clients, args.seconds)?);
                    }
                }
            }
            let m: Vec<Option<f64>> = rates
                .into_iter()
                .map(|r| (!r.is_empty()).then(|| median(r)))
                .collect();
            let cell = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.0}"));
            let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => format!("{:.0}%", 100.0 * a / b),
                _ => "n/a".into(),
            };
            println!(
                "| {device} | {} | {clients} | {} | {} | {} | {} | {} | {} |",
                alg.name(),
                cell(m[0]),
                cell(m[1]),
                cell(m[2]),
                ratio(m[1], m[0]),
                ratio(m[2], m[0]),
                ratio(m[1], m[2]),
            );
        }
    }
    Ok(())
}
