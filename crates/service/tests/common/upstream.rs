//! Upstream parsec-service 1.5.0 (crates.io; ./test.sh installs it and names its binary in
//! PARSEC_UPSTREAM_SERVICE), and our own parsec-tool binary, for the interoperability tests.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Upstream's daemon with its software (Mbed Crypto) provider, Direct authentication and a
/// SQLite key info manager, in its own temp directory (its working directory, where Mbed
/// Crypto keeps its key files).
pub struct Upstream {
    pub child: Child,
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl Upstream {
    pub fn start() -> Upstream {
        let binary = std::env::var("PARSEC_UPSTREAM_SERVICE").expect(
            "PARSEC_UPSTREAM_SERVICE must name upstream parsec-service 1.5.0 (./test.sh \
             installs it with bench/install-upstream.sh)",
        );
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("parsec.sock");
        let config = format!(
            "[core_settings]\nallow_root = true\n\n[listener]\nlistener_type = \"DomainSocket\"\n\
             timeout = 200\nsocket_path = \"{}\"\n\n[authenticator]\nauth_type = \"Direct\"\n\n\
             [[key_manager]]\nname = \"kim\"\nmanager_type = \"SQLite\"\n\
             sqlite_db_path = \"{}\"\n\n[[provider]]\nprovider_type = \"MbedCrypto\"\n\
             key_info_manager = \"kim\"\n",
            socket.display(),
            dir.path().join("kim.sqlite3").display()
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(&config_path)
            .current_dir(dir.path())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while UnixStream::connect(&socket).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "upstream parsec exited with {status}:\n{}",
                    std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "upstream parsec did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Upstream { child, dir, socket }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our parsec-tool, built beside the daemon (crates/cli has integration tests, so a workspace
/// test run builds its binary).
pub fn our_parsec_tool() -> PathBuf {
    let path = Path::new(super::PARSEC).with_file_name("parsec-tool");
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p parsec-rs-cli` (a workspace test run does)",
        path.display()
    );
    path
}
