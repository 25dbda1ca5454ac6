//! The providers' devices for tests: a SoftHSM2 token in a temp directory, an swtpm on
//! loopback, or nothing (software). Each test gets its own device, so tests run in parallel.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use parsec_client::core::interface::requests::ProviderId;

use super::{config, Daemon};

/// The provider a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Software,
    Pkcs11,
    Tpm,
}

impl Kind {
    pub fn id(self) -> ProviderId {
        match self {
            Kind::Software => ProviderId::MbedCrypto,
            Kind::Pkcs11 => ProviderId::Pkcs11,
            Kind::Tpm => ProviderId::Tpm,
        }
    }

    pub fn uuid(self) -> &'static str {
        match self {
            Kind::Software => "1c1139dc-ad7c-47dc-ad6b-db6fdb466552",
            Kind::Pkcs11 => "30e39502-eba6-4d60-a4af-c518b7f5e38f",
            Kind::Tpm => "1e4954a4-ff21-46d3-ab0c-661eeb667e1d",
        }
    }

    /// Starts the device this provider needs.
    pub fn device(self) -> Device {
        match self {
            Kind::Software => Device::Software,
            Kind::Pkcs11 => Device::SoftHsm(SoftHsm::new()),
            Kind::Tpm => Device::Swtpm(Swtpm::start()),
        }
    }
}

/// A running device.
pub enum Device {
    Software,
    SoftHsm(SoftHsm),
    Swtpm(Swtpm),
}

impl Device {
    /// The `[[provider]]` section for this device, naming key manager `kim`.
    pub fn provider_section(&self, kim: &str) -> String {
        let common = format!("[[provider]]\nkey_info_manager = \"{kim}\"\n");
        match self {
            Device::Software => format!("{common}provider_type = \"MbedCrypto\"\n"),
            Device::SoftHsm(h) => format!(
                "{common}provider_type = \"Pkcs11\"\nlibrary_path = \"{}\"\n\
                 token_label = \"{}\"\nuser_pin = \"{}\"\n",
                h.module.display(),
                SoftHsm::LABEL,
                SoftHsm::PIN
            ),
            Device::Swtpm(t) => format!(
                "{common}provider_type = \"Tpm\"\ntcti = \"{}\"\nowner_hierarchy_auth = \"\"\n",
                t.tcti()
            ),
        }
    }

    /// Sets what the daemon needs to reach the device.
    pub fn environment(&self, cmd: &mut Command) {
        if let Device::SoftHsm(h) = self {
            cmd.env("SOFTHSM2_CONF", &h.conf);
        }
    }
}

/// A daemon whose only crypto provider is `device`, Direct authentication with `admin` as
/// administrator, and its key store in `state`.
pub fn start_daemon(device: &Device, state: &Path) -> Daemon {
    let section = device.provider_section("kim");
    let state = state.to_path_buf();
    Daemon::start_with(
        move |socket| {
            config(
                socket,
                5000,
                "[authenticator]\nauth_type = \"Direct\"\nadmins = [{ name = \"admin\" }]\n",
                &format!(
                    "[[key_manager]]\nname = \"kim\"\nmanager_type = \"SQLite\"\n\
                     sqlite_db_path = \"{}\"\n\n{section}",
                    state.join("keys.sqlite3").display()
                ),
            )
        },
        |cmd| device.environment(cmd),
    )
}

/// The SoftHSM2 module, where Debian's softhsm2 package puts it (or `PARSEC_SOFTHSM2_MODULE`).
pub fn softhsm_module() -> PathBuf {
    if let Some(path) = std::env::var_os("PARSEC_SOFTHSM2_MODULE") {
        return path.into();
    }
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("SoftHSM2 is not installed (apt install softhsm2; ./test.sh does it)")
}

/// A SoftHSM2 token initialised in its own temp directory.
pub struct SoftHsm {
    _dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub module: PathBuf,
}

impl SoftHsm {
    pub const LABEL: &'static str = "parsec-test";
    pub const PIN: &'static str = "123456";

    pub fn new() -> SoftHsm {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let out = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", Self::LABEL])
            .args(["--so-pin", "12345678", "--pin", Self::PIN])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("softhsm2-util is not installed (apt install softhsm2; ./test.sh does it)");
        assert!(out.status.success(), "softhsm2-util: {out:?}");
        SoftHsm {
            _dir: dir,
            conf,
            module: softhsm_module(),
        }
    }
}

/// An swtpm serving the TPM command protocol on loopback, with its state in a temp directory.
pub struct Swtpm {
    child: Child,
    _dir: tempfile::TempDir,
    pub port: u16,
}

/// Two consecutive free loopback ports (the TPM simulator protocol uses port and port + 1).
fn free_port_pair() -> u16 {
    loop {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

impl Swtpm {
    pub fn start() -> Swtpm {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port_pair();
            let mut child = Command::new("swtpm")
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
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("swtpm is not installed (apt install swtpm; ./test.sh does it)");
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if child.try_wait().unwrap().is_some() {
                    break; // lost the ports to another test: try others
                }
                if std::net::TcpStream::connect(("127.0.0.1", port + 1)).is_ok() {
                    return Swtpm {
                        child,
                        _dir: dir,
                        port,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("swtpm did not start");
    }

    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the daemon with one provider section, `provider_type = "<kind>"` plus `keys`, and the
/// environment `env`; expects it to fail at start-up and returns what it printed.
pub fn start_up_failure(kind: &str, keys: &str, env: &[(&str, &Path)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let text = config(
        &dir.path().join("parsec.sock"),
        1000,
        super::DIRECT,
        &format!(
            "[[key_manager]]\nname = \"kim\"\nmanager_type = \"SQLite\"\nsqlite_db_path = \"{}\"\n\
             [[provider]]\nprovider_type = \"{kind}\"\nkey_info_manager = \"kim\"\n{keys}",
            dir.path().join("keys.sqlite3").display()
        ),
    );
    let stderr = super::Daemon::start_failure(dir.path(), &text, env);
    // The device is opened before the socket is bound: no client could have connected.
    assert!(!dir.path().join("parsec.sock").exists());
    stderr
}
