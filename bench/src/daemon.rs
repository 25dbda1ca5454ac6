//! Starting one daemon under test: its config, its temp dir, its process, its memory.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tempfile::TempDir;

use crate::load;

/// Whether our daemon's config gets the `[[provider]] provider_type = "MbedCrypto"` section that
/// upstream's has, so both daemons run the same config file. With `false`, ours runs with the
/// core provider only and the crypto rows show n/a for it.
pub const OURS_WITH_PROVIDER: bool = true;

/// How long to wait for a daemon to serve its first ping before giving up.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// One column of the results table.
#[derive(Clone, Debug)]
pub struct Target {
    /// Column title.
    pub name: &'static str,
    /// Column of the table: 0 upstream default, 1 upstream tuned, 2 ours.
    pub column: usize,
    /// The `parsec` binary.
    pub binary: PathBuf,
    /// `Some(ms)` writes `idle_listener_sleep_duration = ms` into `[core_settings]`.
    pub idle_listener_sleep_ms: Option<u64>,
    /// Whether the config has the `[[provider]]` section.
    pub with_provider: bool,
}

impl Target {
    /// The config file, in upstream's format, for a daemon living in `dir`.
    pub fn config(&self, dir: &Path) -> String {
        let mut core = String::new();
        if running_as_root() {
            core.push_str("allow_root = true\n");
        }
        if let Some(ms) = self.idle_listener_sleep_ms {
            core.push_str(&format!("idle_listener_sleep_duration = {ms}\n"));
        }
        let provider = if self.with_provider {
            "\n[[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"sqlite-manager\"\n"
        } else {
            ""
        };
        format!(
            "[core_settings]\n{core}\n\
             [listener]\nlistener_type = \"DomainSocket\"\ntimeout = 3000\nsocket_path = {sock:?}\n\n\
             [authenticator]\nauth_type = \"Direct\"\n\n\
             [[key_manager]]\nname = \"sqlite-manager\"\nmanager_type = \"SQLite\"\nsqlite_db_path = {db:?}\n\
             {provider}",
            sock = dir.join("parsec.sock").display().to_string(),
            db = dir.join("kim.sqlite3").display().to_string(),
        )
    }
}

/// A running daemon in its own temp dir; killed and cleaned up on drop.
pub struct Daemon {
    child: Child,
    dir: TempDir,
    /// From spawn until the socket answered a ping.
    pub startup: Duration,
}

impl Daemon {
    /// Writes a fresh config into a fresh temp dir, spawns `parsec -c <config>` there and waits
    /// until the socket answers a ping.
    pub fn start(target: &Target) -> Result<Daemon> {
        let dir = tempfile::Builder::new().prefix("parsec-bench-").tempdir()?;
        let config = dir.path().join("config.toml");
        fs::write(&config, target.config(dir.path()))?;
        let log = File::create(dir.path().join("daemon.log"))?;
        let started = Instant::now();
        let child = Command::new(&target.binary)
            .arg("-c")
            .arg(&config)
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot run {}", target.binary.display()))?;
        let mut daemon = Daemon {
            child,
            dir,
            startup: Duration::ZERO,
        };
        daemon.startup = daemon.wait_ready(started)?;
        Ok(daemon)
    }

    fn wait_ready(&mut self, started: Instant) -> Result<Duration> {
        let socket = self.socket();
        loop {
            if socket.exists() && load::ping_once(&socket).is_ok() {
                return Ok(started.elapsed());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "daemon exited with {status} before serving:\n{}",
                    self.log_tail()
                );
            }
            if started.elapsed() > START_DEADLINE {
                bail!(
                    "daemon did not answer a ping within {START_DEADLINE:?}:\n{}",
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_micros(500));
        }
    }

    /// The socket path written into the config.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("parsec.sock")
    }

    /// Resident set size of the daemon process, in KiB (VmRSS from /proc).
    pub fn rss_kib(&self) -> Result<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS line in /proc/<pid>/status")
    }

    /// Fails with the daemon's log if it has died.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("daemon exited with {status}:\n{}", self.log_tail());
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether this process runs as UID 0 (the daemons then need `allow_root = true`).
fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|uids| uids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
