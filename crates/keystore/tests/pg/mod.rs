//! A real PostgreSQL server for tests: Debian's `postgresql` package (installed by the test
//! command), a cluster made by `initdb` in a temporary directory, run as an unprivileged user
//! (`nobody` when the tests run as root, which PostgreSQL refuses to run as), reached over a
//! Unix socket in that directory, with password (SCRAM) authentication.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The role the tests connect as, and its password.
pub const USER: &str = "parsec";
pub const PASSWORD: &str = "test-password-7d1f";

/// A running (or stopped) cluster; killed and deleted when dropped.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    server: Option<Child>,
}

/// The folder of PostgreSQL's server programs: `PARSEC_PG_BINDIR`, or the newest
/// /usr/lib/postgresql/<version>/bin that has `initdb`.
fn bindir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PARSEC_PG_BINDIR") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server programs under /usr/lib/postgresql: the test command installs \
             Debian's `postgresql` package (or set PARSEC_PG_BINDIR)"
        )
    })
}

fn running_as_root() -> bool {
    // SAFETY-free check: the effective uid of this process, from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

impl Cluster {
    /// Makes a cluster and starts its server.
    pub fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("parsec-pg-")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cluster = Cluster {
            dir,
            bin: bindir(),
            server: None,
        };
        for sub in ["data", "socket"] {
            std::fs::create_dir(cluster.dir.path().join(sub)).unwrap();
        }
        let pwfile = cluster.dir.path().join("pwfile");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if running_as_root() {
            // nobody:nogroup (65534) owns what the server writes.
            for sub in ["data", "socket", "pwfile"] {
                std::os::unix::fs::chown(cluster.dir.path().join(sub), Some(65534), Some(65534))
                    .unwrap();
            }
        }
        let out = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ])
            .args(["--locale=C.UTF-8", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cluster.start_server();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The folder of the server's socket.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    /// A command running `program` of the server programs, as the unprivileged user when root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if running_as_root() {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_server(&mut self) {
        assert!(self.server.is_none(), "the server is running");
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data())
            .arg("-k")
            .arg(self.socket_dir())
            .args(["-c", "listen_addresses=", "-c", "max_connections=60"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.server = Some(child);
        let start = Instant::now();
        loop {
            if self.try_connect().is_ok() {
                return;
            }
            if start.elapsed() > Duration::from_secs(30) {
                panic!("PostgreSQL did not start:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (fast shutdown: sessions are ended, nothing committed is lost).
    pub fn stop_server(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The URL of database `db`, without the password.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://{USER}@/{db}?host={}",
            self.socket_dir().display()
        )
    }

    /// The URL of database `db`, with the password.
    pub fn url_with_password(&self, db: &str) -> String {
        format!(
            "postgresql://{USER}:{PASSWORD}@/{db}?host={}",
            self.socket_dir().display()
        )
    }

    fn try_connect(&self) -> Result<postgres::Client, postgres::Error> {
        postgres::Client::connect(&self.url_with_password("postgres"), postgres::NoTls)
    }

    /// A client on database `db` (for set-up and for looking at what the store wrote).
    pub fn client(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url_with_password(db), postgres::NoTls).unwrap()
    }

    /// Creates database `name` and returns its URL (without the password).
    pub fn create_db(&self, name: &str) -> String {
        self.try_connect()
            .unwrap()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        self.url(name)
    }

    /// The cluster's folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            // Immediate shutdown: the folder is deleted next.
            let _ = Command::new("kill")
                .args(["-QUIT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}
