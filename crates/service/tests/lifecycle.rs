//! The daemon's life: start-up checks, config warnings and errors, SIGHUP reload, SIGTERM drain,
//! socket ownership, systemd notification and socket activation.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{config, direct_client, naked_client, ping, read_response, Daemon, DIRECT, PARSEC};
use parsec_client::core::interface::requests::AuthType;
use parsec_wire::Status;

/// Runs `parsec` to completion (it is expected to fail at start-up); returns (success, stderr).
fn run_to_exit(config_text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config_text).unwrap();
    let out = Command::new(PARSEC)
        .arg("-c")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

#[test]
fn bad_values_stop_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let (ok, err) = run_to_exit(
        &config(&sock, 3000, DIRECT, "").replace("timeout = 3000", "timeout = \"soon\""),
    );
    assert!(!ok);
    assert!(
        err.contains("listener.timeout") && err.contains("expected an integer"),
        "{err}"
    );
    let (ok, err) = run_to_exit(&config(
        &sock,
        3000,
        "[authenticator]\nauth_type = \"Kerberos\"\n",
        "",
    ));
    assert!(!ok);
    assert!(err.contains("authenticator.auth_type"), "{err}");
    assert!(!sock.exists(), "nothing was bound");
}

#[test]
fn unknown_and_misplaced_keys_are_warned_about_by_name() {
    let d = Daemon::start(|s| {
        config(
            s,
            3000,
            DIRECT,
            "[[key_manager]]\nname = \"m\"\nmanager_type = \"SQLite\"\nstore_path = \"/tmp/x\"\n",
        )
        .replace("[listener]", "[listener]\nthread_pool_size = 2")
    });
    let err = d.stderr();
    assert!(
        err.contains("`key_manager[0].store_path` is ignored"),
        "{err}"
    );
    assert!(
        err.contains("`listener.thread_pool_size` is misplaced"),
        "{err}"
    );
    assert_eq!(naked_client(&d.socket).ping().unwrap(), (1, 0));
}

/// An upstream deployment's config file, as upstream's template and e2e configs shape it.
#[test]
fn an_upstream_config_file_loads_unchanged() {
    let d = Daemon::start(|s| {
        format!(
            r#"
[core_settings]
allow_root = true
thread_pool_size = 2
idle_listener_sleep_duration = 10
log_level = "info"
log_timestamp = false
body_len_limit = 1048576
log_error_details = false
buffer_size_limit = 1048576
allow_deprecated = false

[listener]
listener_type = "DomainSocket"
timeout = 200
socket_path = "{}"

[authenticator]
auth_type = "Direct"
admins = [ {{ name = "admin_1" }}, {{ name = "admin_2" }} ]

[[key_manager]]
name = "sqlite-manager"
manager_type = "SQLite"
sqlite_db_path = "{}"

[[provider]]
name = "mbed-crypto-provider"
provider_type = "MbedCrypto"
key_info_manager = "sqlite-manager"
"#,
            s.display(),
            s.with_file_name("kim.sqlite3").display()
        )
    });
    let err = d.stderr();
    assert!(
        !err.contains("is unknown") && !err.contains("misplaced"),
        "{err}"
    );
    let client = direct_client(&d.socket, "admin_1");
    let providers = client.list_providers().unwrap();
    assert_eq!(
        providers[0].id,
        parsec_client::core::interface::requests::ProviderId::MbedCrypto
    );
    assert_eq!(client.ping().unwrap(), (1, 0));
    assert_eq!(client.list_clients().unwrap(), Vec::<String>::new());
    d.stop();
}

/// `RUST_LOG` sets the level per target (the binary logs as `parsec`); a value it cannot read
/// is warned about and the configured level applies.
#[test]
fn rust_log_filters_by_target_and_a_bad_value_falls_back_to_the_config() {
    let logged = |rust_log: &str| {
        let d = Daemon::start_with(
            |s| {
                config(s, 3000, DIRECT, "").replace(
                    "allow_root = true",
                    "allow_root = true\nlog_level = \"info\"",
                )
            },
            |cmd| {
                cmd.env("RUST_LOG", rust_log);
            },
        );
        assert_eq!(naked_client(&d.socket).ping().unwrap(), (1, 0));
        let err = d.stderr();
        d.stop();
        err
    };
    assert!(!logged("warn").contains("listening on"));
    assert!(logged("warn,parsec=info").contains("listening on"));
    assert!(!logged("info,parsec=error").contains("listening on"));
    let bad = logged("parsec=loud");
    assert!(bad.contains("RUST_LOG ignored"), "{bad}");
    assert!(bad.contains("listening on"), "{bad}");
}

#[test]
fn sigint_stops_cleanly() {
    let mut d = Daemon::start(|s| config(s, 3000, DIRECT, ""));
    d.signal("INT");
    assert!(d.wait_exit().success());
    assert!(d.stderr().contains("stopped"), "{}", d.stderr());
}

#[test]
fn root_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let text = config(&sock, 3000, DIRECT, "").replace("allow_root = true", "allow_root = false");
    if running_as_root() {
        let (ok, err) = run_to_exit(&text);
        assert!(!ok);
        assert!(err.contains("refusing to run as root"), "{err}");
    } else {
        // Not root: the same config starts (the refusal itself is checked when tests run as root,
        // as they do in CI).
        let d = Daemon::start(|s| {
            config(s, 3000, DIRECT, "").replace("allow_root = true", "allow_root = false")
        });
        d.stop();
    }
}

#[test]
fn embedded_default_needs_no_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(PARSEC)
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        // Any free port: 8373, the default, may be taken on a busy machine.
        .env("PARSEC1_LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let socket = dir.path().join("parsec").join("parsec.sock");
    let mut stdout = child.stdout.take().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    use std::io::{BufRead, Read};
    while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    assert_eq!(
        String::from_utf8(line).unwrap(),
        format!("PARSEC_SERVICE_ENDPOINT=unix:{}", socket.display())
    );
    let client = naked_client(&socket);
    assert_eq!(client.ping().unwrap(), (1, 0));
    let auths = client.list_authenticators().unwrap();
    assert_eq!(auths[0].id, AuthType::UnixPeerCredentials);
    // The software provider is on, its store in the user's data directory.
    assert_eq!(client.list_providers().unwrap().len(), 2);
    assert!(dir.path().join("data/parsec/keys.sqlite3").exists());
    let mode = std::fs::metadata(socket.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o666
    );
    // Parsec.1 on loopback, with a service key made at first start.
    let mut lines = std::io::BufReader::new(stdout).lines();
    let endpoint = lines.next().unwrap().unwrap();
    let url = endpoint.strip_prefix("PARSEC1_ENDPOINT=http://").unwrap();
    let (authority, path) = url.split_once('/').unwrap();
    assert!(authority.starts_with("127.0.0.1:"), "{endpoint}");
    assert_eq!(path, "api/p1");
    assert!(lines
        .next()
        .unwrap()
        .unwrap()
        .starts_with("PARSEC1_SERVICE_KEY="));
    let answer = common::http(authority, &common::parsec1_info_request("/api/p1"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("parsecVersions"), "{answer}");
    // Only pages of this machine may call it from a browser.
    let lower = answer.to_ascii_lowercase();
    assert!(!lower.contains("access-control-allow-origin"), "{answer}");
    let local_page = String::from_utf8(common::parsec1_info_request("/api/p1"))
        .unwrap()
        .replace("http://page.example", "http://localhost:5173");
    let answer = common::http(authority, local_page.as_bytes()).to_ascii_lowercase();
    assert!(
        answer.contains("access-control-allow-origin: http://localhost:5173"),
        "{answer}"
    );
    // Run as root (as the test command is), it says what to do instead.
    if rustix::process::geteuid().is_root() {
        let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
        assert!(
            stderr.contains("running as root (the embedded configuration allows it")
                && stderr.contains("useradd --system parsec"),
            "{stderr}"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_bad_parsec1_listen_override_stops_start_up() {
    let out = Command::new(PARSEC)
        .env("PARSEC1_LISTEN", "localhost")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PARSEC1_LISTEN=`localhost`"), "{stderr}");
}

#[test]
fn sighup_reloads_without_dropping_the_socket() {
    // One connection thread: a second client waits in the listen backlog, unaccepted.
    let one_thread = |c: String| {
        c.replace(
            "allow_root = true",
            "allow_root = true\nthread_pool_size = 1",
        )
        .replace("timeout = 3000\n", "timeout = 3000\nmax_connections = 1\n")
    };
    let d = Daemon::start(|s| one_thread(config(s, 3000, DIRECT, "")));
    let inode =
        |p: &std::path::Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before = inode(&d.socket);
    let client = naked_client(&d.socket);
    assert_eq!(client.list_authenticators().unwrap().len(), 1);
    // Keep a connection open across the reload (it holds the one thread), and another waiting
    // in the backlog with its request sent: both are served afterwards, so the listening
    // socket is the same one, not a new socket at the same path.
    let mut held = d.connect();
    held.write_all(&ping()).unwrap();
    assert_eq!(
        read_response(&mut held).unwrap().header.status,
        Status::Success
    );
    let mut waiting = d.connect();
    waiting.write_all(&ping()).unwrap();
    d.reload(&one_thread(config(
        &d.socket,
        3000,
        "[[authenticator]]\nauth_type = \"UnixPeerCredentials\"\n[[authenticator]]\nauth_type = \"Direct\"\n",
        "",
    )));
    assert_eq!(inode(&d.socket), before, "the same socket file");
    held.write_all(&ping()).unwrap();
    assert_eq!(
        read_response(&mut held).unwrap().header.status,
        Status::Success
    );
    drop(held);
    assert_eq!(
        read_response(&mut waiting).unwrap().header.status,
        Status::Success,
        "the client waiting in the backlog across the reload is served"
    );
    drop(waiting);
    let ids: Vec<_> = client
        .list_authenticators()
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, [AuthType::UnixPeerCredentials, AuthType::Direct]);

    // The thread pool is sized at start-up: a change is named as needing a restart.
    d.reload(&config(&d.socket, 3000, DIRECT, "").replace(
        "allow_root = true",
        "allow_root = true\nthread_pool_size = 3",
    ));
    assert!(
        d.stderr()
            .contains("a thread_pool_size change takes effect only after a restart"),
        "{}",
        d.stderr()
    );

    // A bad config on reload keeps the running one.
    d.reload("[listener]\ntimeout = -1\n");
    assert!(d.stderr().contains("reload failed"), "{}", d.stderr());
    assert_eq!(client.list_authenticators().unwrap().len(), 1);
    d.stop();
}

#[test]
fn sigterm_drains_the_request_in_flight_and_removes_the_socket() {
    let d = Daemon::start(|s| config(s, 3000, DIRECT, ""));
    let ping = ping();
    let mut s = d.connect();
    s.write_all(&ping[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    d.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    // While the request drains, new clients are refused at once rather than queued.
    let refused = std::os::unix::net::UnixStream::connect(&d.socket).map(drop);
    assert_eq!(
        refused.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused)
    );
    s.write_all(&ping[10..]).unwrap();
    assert_eq!(
        read_response(&mut s).unwrap().header.status,
        Status::Success
    );
    let socket = d.socket.clone();
    let mut d = d;
    assert!(d.wait_exit().success());
    assert!(!socket.exists(), "the socket file is removed on exit");
}

#[test]
fn sigterm_closes_connections_waiting_for_a_request_at_once() {
    // With a 20 s timeout, exit would otherwise wait for the quiet clients.
    let mut d = Daemon::start(|s| config(s, 20_000, DIRECT, ""));
    let ping = ping();
    // One client that never sent anything, one waiting after a served request.
    let mut quiet = d.connect();
    let mut served = d.connect();
    served.write_all(&ping).unwrap();
    assert_eq!(
        read_response(&mut served).unwrap().header.status,
        Status::Success
    );
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    d.signal("TERM");
    assert!(d.wait_exit().success(), "{}", d.stderr());
    assert!(
        start.elapsed() < Duration::from_secs(12),
        "exit waited {:?} for quiet connections",
        start.elapsed()
    );
    // Both are closed without an answer.
    use std::io::Read;
    let mut rest = Vec::new();
    assert_eq!(quiet.read_to_end(&mut rest).unwrap(), 0);
    assert_eq!(served.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn only_a_stale_socket_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("parsec.sock");
    // A regular file at the socket path is left alone and stops start-up.
    std::fs::write(&sock, b"precious").unwrap();
    let (ok, err) = run_to_exit(&config(&sock, 3000, DIRECT, ""));
    assert!(!ok);
    assert!(err.contains("is not a socket"), "{err}");
    assert_eq!(std::fs::read(&sock).unwrap(), b"precious");
    std::fs::remove_file(&sock).unwrap();
    // A live socket is not taken over.
    let live = UnixListener::bind(&sock).unwrap();
    let (ok, err) = run_to_exit(&config(&sock, 3000, DIRECT, ""));
    assert!(!ok);
    assert!(err.contains("already listening"), "{err}");
    // Once its owner is gone, the stale socket is replaced.
    drop(live);
    let d = Daemon::start_at(Some(sock.clone()), |s| config(s, 3000, DIRECT, ""), |_| {});
    assert_eq!(naked_client(&d.socket).ping().unwrap(), (1, 0));
}

/// Reads the next datagram sent to the fake systemd notify socket.
fn next_notification(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).expect("no notification");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn sd_notify_ready_reloading_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let d = Daemon::start_with(
        |s| config(s, 3000, DIRECT, ""),
        |cmd| {
            cmd.env("NOTIFY_SOCKET", &notify_path);
        },
    );
    assert!(next_notification(&notify).contains("READY=1"));
    d.signal("HUP");
    let reloading = next_notification(&notify);
    assert!(
        reloading.contains("RELOADING=1") && reloading.contains("MONOTONIC_USEC="),
        "{reloading}"
    );
    assert!(next_notification(&notify).contains("READY=1"));
    d.stop();
    assert!(next_notification(&notify).contains("STOPPING=1"));
}

#[test]
fn systemd_socket_activation() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("activated.sock");
    let cfg = dir.path().join("config.toml");
    // The config names another path: the passed socket wins and that path is never created.
    let unused = dir.path().join("unused.sock");
    std::fs::write(&cfg, config(&unused, 3000, DIRECT, "")).unwrap();
    let mut child = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(&sock)
        .arg(PARSEC)
        .arg("-c")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("systemd-socket-activate (package systemd) is needed; ./test.sh installs it");
    // The tool binds, then listens: the socket file appears before it takes connections.
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "socket not listening"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let client = naked_client(&sock);
    assert_eq!(client.ping().unwrap(), (1, 0));
    assert_eq!(client.list_providers().unwrap().len(), 1);
    assert!(!unused.exists());
    let _ = child.kill();
    let _ = child.wait();
}
