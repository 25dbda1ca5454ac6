//! Shared test helpers: start the real `parsec` binary on a temp socket, talk raw bytes to it,
//! or drive it with the crates.io `parsec-client`.
#![allow(dead_code)] // each test binary uses a different part

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parsec_client::auth::Authentication;
use parsec_client::BasicClient;
use parsec_wire::{Response, ResponseHeader, HEADER_LEN};

pub mod backends;
pub mod idp;
pub mod p1;
pub mod spiffe;
pub mod tls;
pub mod tokens;
pub mod universa;
pub mod upstream;

pub const PARSEC: &str = env!("CARGO_BIN_EXE_parsec");

/// A running daemon in its own temp directory.
pub struct Daemon {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub config_path: PathBuf,
}

/// A config for the test daemon: `auth` is the authenticator section(s), `timeout_ms` the
/// listener timeout, `extra` appended as is.
pub fn config(socket: &Path, timeout_ms: u64, auth: &str, extra: &str) -> String {
    format!(
        "[core_settings]\nallow_root = true\n\n[listener]\nlistener_type = \"DomainSocket\"\n\
         timeout = {timeout_ms}\nsocket_path = \"{}\"\n\n{auth}\n{extra}\n",
        socket.display()
    )
}

pub const DIRECT: &str = "[authenticator]\nauth_type = \"Direct\"\n";

impl Daemon {
    /// Starts the daemon with `make_config(socket_path)` as its config file and waits until it
    /// answers.
    pub fn start(make_config: impl FnOnce(&Path) -> String) -> Daemon {
        Daemon::start_with(make_config, |_| {})
    }

    /// Like [`Daemon::start`], with a hook to adjust the command (environment, wrappers).
    pub fn start_with(
        make_config: impl FnOnce(&Path) -> String,
        adjust: impl FnOnce(&mut Command),
    ) -> Daemon {
        Daemon::start_at(None, make_config, adjust)
    }

    /// Like [`Daemon::start_with`], on a given socket path (default: a fresh temp directory).
    pub fn start_at(
        socket: Option<PathBuf>,
        make_config: impl FnOnce(&Path) -> String,
        adjust: impl FnOnce(&mut Command),
    ) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = socket.unwrap_or_else(|| dir.path().join("run").join("parsec.sock"));
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, make_config(&socket)).unwrap();
        let mut cmd = Command::new(PARSEC);
        cmd.arg("-c")
            .arg(&config_path)
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap());
        adjust(&mut cmd);
        let child = cmd.spawn().unwrap();
        let mut daemon = Daemon {
            child,
            dir,
            socket,
            config_path,
        };
        daemon.wait_ready();
        daemon
    }

    /// Starts the daemon with `config_text` (a socket path inside `dir`, which must not be
    /// created) and `env`; expects it to fail at start-up and returns what it printed.
    pub fn start_failure(dir: &Path, config_text: &str, env: &[(&str, &Path)]) -> String {
        let path = dir.join("config.toml");
        std::fs::write(&path, config_text).unwrap();
        let mut cmd = Command::new(PARSEC);
        cmd.arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, value) in env {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("the daemon started with:\n{config_text}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "parsec exited with {status} at start-up:\n{}",
                    self.stderr()
                );
            }
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("parsec did not start listening:\n{}", self.stderr());
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout")).unwrap_or_default()
    }

    /// Sends a signal by name (HUP, TERM, INT) with kill(1).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {name} failed");
    }

    /// Waits for the daemon to exit (at most 20 s).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("parsec did not exit:\n{}", self.stderr());
    }

    /// Stops the daemon with SIGTERM and checks it exits cleanly.
    pub fn stop(mut self) {
        self.signal("TERM");
        let status = self.wait_exit();
        assert!(status.success(), "exit {status}:\n{}", self.stderr());
    }

    /// Rewrites the config file and sends SIGHUP; waits until the daemon logs the outcome.
    pub fn reload(&self, config: &str) {
        let before = self.stderr().matches("reload").count();
        std::fs::write(&self.config_path, config).unwrap();
        self.signal("HUP");
        let start = Instant::now();
        while self.stderr().matches("reload").count() == before {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no reload logged"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn connect(&self) -> UnixStream {
        let s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A whole Ping request to the core provider, with no authentication.
pub fn ping() -> [u8; HEADER_LEN] {
    parsec_wire::RawHeader {
        version_maj: 1,
        opcode: parsec_wire::Opcode::Ping.to_u32(),
        ..parsec_wire::RawHeader::default()
    }
    .encode()
}

/// Reads one response from `stream`.
pub fn read_response(stream: &mut UnixStream) -> std::io::Result<Response> {
    let mut head = [0u8; HEADER_LEN];
    stream.read_exact(&mut head)?;
    let (header, len) = Response::decode_header(&head, 1 << 24)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(Response { header, body })
}

/// Sends `bytes` on a new connection and reads the answer's header.
pub fn exchange(daemon: &Daemon, bytes: &[u8]) -> ResponseHeader {
    let mut s = daemon.connect();
    // The service may answer and close before reading everything (bad magic): ignore EPIPE.
    let _ = s.write_all(bytes);
    read_response(&mut s).unwrap().header
}

static ENV: Mutex<()> = Mutex::new(());

/// A `parsec-client` BasicClient bound to `socket`, with no authentication.
pub fn naked_client(socket: &Path) -> BasicClient {
    // The client reads its endpoint from the environment when it is created.
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var(
        "PARSEC_SERVICE_ENDPOINT",
        format!("unix:{}", socket.display()),
    );
    BasicClient::new_naked().unwrap()
}

/// A BasicClient that authenticates as the Direct application `app`.
pub fn direct_client(socket: &Path, app: &str) -> BasicClient {
    let mut client = naked_client(socket);
    client.set_auth_data(Authentication::Direct(app.to_string()));
    client
}

/// The BasicClient the way applications build it: discovery of providers and authenticators.
pub fn discovering_client(socket: &Path, app: Option<&str>) -> BasicClient {
    try_discovering_client(socket, app).unwrap()
}

pub fn try_discovering_client(
    socket: &Path,
    app: Option<&str>,
) -> parsec_client::error::Result<BasicClient> {
    let _guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var(
        "PARSEC_SERVICE_ENDPOINT",
        format!("unix:{}", socket.display()),
    );
    BasicClient::new(app.map(str::to_string))
}

/// The upstream-style config of a daemon with the software provider (as `MbedCrypto`) and its
/// SQLite store at `state_dir/keys.sqlite3`; `auth` is the authenticator section.
pub fn software_config(socket: &Path, state_dir: &Path, auth: &str) -> String {
    config(
        socket,
        3000,
        auth,
        &format!(
            "[[key_manager]]\nname = \"sqlite-manager\"\nmanager_type = \"SQLite\"\n\
             sqlite_db_path = \"{}\"\n\n[[provider]]\nprovider_type = \"MbedCrypto\"\n\
             key_info_manager = \"sqlite-manager\"\n",
            state_dir.join("keys.sqlite3").display()
        ),
    )
}

/// ECDSA with SHA-256, the signature algorithm of the tests.
pub const ECDSA_SHA256:
    parsec_client::core::interface::operations::psa_algorithm::AsymmetricSignature = {
    use parsec_client::core::interface::operations::psa_algorithm::{
        AsymmetricSignature, Hash, SignHash,
    };
    AsymmetricSignature::Ecdsa {
        hash_alg: SignHash::Specific(Hash::Sha256),
    }
};

/// A SECP_R1 256 key pair for [`ECDSA_SHA256`], usable to sign and verify hashes.
pub fn ecdsa_p256() -> parsec_client::core::interface::operations::psa_key_attributes::Attributes {
    use parsec_client::core::interface::operations::psa_key_attributes::{
        Attributes, EccFamily, Lifetime, Policy, Type, UsageFlags,
    };
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
            permitted_algorithms: ECDSA_SHA256.into(),
        },
    }
}

/// Sends raw bytes to an HTTP server at `authority` (host:port) and returns everything it
/// answers until it closes the connection (send `Connection: close`).
pub fn http(authority: &str, request: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    stream.write_all(request).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// A raw HTTP request posting the Parsec.1 call `info` as an octet-stream body.
pub fn parsec1_info_request(path: &str) -> Vec<u8> {
    let info = parsec1::message::encode_call("info", parsec_boss::Value::dict::<&str>([]));
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://page.example\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        info.len()
    )
    .into_bytes();
    request.extend_from_slice(&info);
    request
}

/// A SECP_R1 256 key pair for ECDSA with SHA-256, in our own PSA types.
pub fn ecc_p256_attributes() -> parsec_psa::KeyAttributes {
    use parsec_psa::{
        Algorithm, AsymmetricSignature, EccFamily, Hash, KeyAttributes, KeyType, Policy, SignHash,
        UsageFlags,
    };
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
            permitted_algorithms: Algorithm::AsymmetricSignature(AsymmetricSignature::Ecdsa {
                hash_alg: SignHash::Specific(Hash::Sha256),
            }),
        },
    }
}

/// Sends `op` to `provider` as the Direct application `app`, with our own codec (for the
/// operations `parsec-client` has no method for, such as the MACs), and decodes the answer.
pub fn raw_call(
    socket: &Path,
    provider: u8,
    app: &str,
    op: &parsec_psa::Operation,
) -> Result<parsec_psa::OpResult, parsec_wire::Status> {
    raw_call_as(socket, provider, 1, app.as_bytes(), op)
}

/// Like [`raw_call`], with any auth type and auth part (a token).
pub fn raw_call_as(
    socket: &Path,
    provider: u8,
    auth_type: u8,
    auth: &[u8],
    op: &parsec_psa::Operation,
) -> Result<parsec_psa::OpResult, parsec_wire::Status> {
    let body = parsec_psa::encode_operation(op);
    let raw = parsec_wire::RawHeader {
        version_maj: 1,
        provider,
        auth_type,
        body_len: u32::try_from(body.len()).unwrap(),
        auth_len: u16::try_from(auth.len()).unwrap(),
        opcode: op.opcode().to_u32(),
        ..parsec_wire::RawHeader::default()
    };
    let mut bytes = raw.encode().to_vec();
    bytes.extend_from_slice(&body);
    bytes.extend_from_slice(auth);
    let mut stream = UnixStream::connect(socket).unwrap();
    stream.write_all(&bytes).unwrap();
    let response = read_response(&mut stream).unwrap();
    if response.header.status != parsec_wire::Status::Success {
        return Err(response.header.status);
    }
    Ok(parsec_psa::decode_result(op.opcode(), &response.body).unwrap())
}
