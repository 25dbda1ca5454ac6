//! Several daemons on one PostgreSQL key store (`manager_type = "PostgreSQL"`), driven through
//! upstream's client library, against a real server (see `keystore/tests/pg/mod.rs`).

mod common;
// Shared with the key store's own tests; not every helper is used here.
#[allow(dead_code)]
#[path = "../../keystore/tests/pg/mod.rs"]
mod pg;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{config, ecdsa_p256, Daemon, ECDSA_SHA256};
use parsec_client::core::interface::requests::ProviderId;
use parsec_client::core::interface::requests::ResponseStatus;
use parsec_client::BasicClient;
use pg::Cluster;

const ADMIN_DIRECT: &str =
    "[authenticator]\nauth_type = \"Direct\"\nadmins = [ { name = \"admin\" } ]\n";

/// A client of the software provider through `socket`, as Direct application `app`.
fn direct_client(socket: &Path, app: &str) -> BasicClient {
    let mut client = common::direct_client(socket, app);
    client.set_implicit_provider(ProviderId::MbedCrypto);
    client
}

/// A daemon config on `url`, with the password and master key files in `dir`.
fn node_config(socket: &Path, url: &str, dir: &Path) -> String {
    let key_manager = format!(
        "[[key_manager]]\nname = \"shared\"\nmanager_type = \"PostgreSQL\"\nurl = \"{url}\"\n\
         password_file = \"{}\"\nmaster_key_path = \"{}\"\n\n\
         [[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"shared\"\n",
        dir.join("password").display(),
        dir.join("master.key").display()
    );
    config(socket, 3000, ADMIN_DIRECT, &key_manager)
}

fn write_password(dir: &Path) {
    let path = dir.join("password");
    std::fs::write(&path, format!("{}\n", pg::PASSWORD)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_key_made_through_one_node_is_used_through_the_other() {
    let cluster = Cluster::start();
    let url = cluster.create_db("nodes");
    let shared = tempfile::tempdir().unwrap();
    write_password(shared.path());
    let a = Daemon::start(|s| node_config(s, &url, shared.path()));
    let b = Daemon::start(|s| node_config(s, &url, shared.path()));
    let (alice_a, alice_b) = (
        direct_client(&a.socket, "alice"),
        direct_client(&b.socket, "alice"),
    );
    alice_a.psa_generate_key("k", ecdsa_p256()).unwrap();
    let hash = [7u8; 32];
    let signature = alice_b.psa_sign_hash("k", &hash, ECDSA_SHA256).unwrap();
    alice_a
        .psa_verify_hash("k", &hash, ECDSA_SHA256, &signature)
        .unwrap();
    let listed: Vec<String> = alice_b
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(listed, ["k"]);
    // Names are unique across the nodes, and applications stay apart.
    assert!(matches!(
        alice_b.psa_generate_key("k", ecdsa_p256()),
        Err(parsec_client::error::Error::Service(
            ResponseStatus::PsaErrorAlreadyExists
        ))
    ));
    let bob_b = direct_client(&b.socket, "bob");
    assert!(bob_b.psa_sign_hash("k", &hash, ECDSA_SHA256).is_err());
}

#[test]
fn start_up_is_refused_with_a_clear_error_for_bad_settings() {
    let cluster = Cluster::start();
    let url = cluster.create_db("refusals");
    let shared = tempfile::tempdir().unwrap();
    write_password(shared.path());
    let socket_in = |dir: &Path| dir.join("run").join("parsec.sock");
    // Unreachable: names where it looked, not the password.
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!(
        "postgresql://parsec:{}@localhost/x?host={}",
        pg::PASSWORD,
        dir.path().join("nowhere").display()
    );
    let text = node_config(&socket_in(dir.path()), &nowhere, shared.path());
    let err = Daemon::start_failure(dir.path(), &text, &[]);
    assert!(err.contains("nowhere"), "{err}");
    assert!(!err.contains(pg::PASSWORD), "{err}");
    // A password file others may read.
    let loose = tempfile::tempdir().unwrap();
    std::fs::write(loose.path().join("password"), pg::PASSWORD).unwrap();
    std::fs::set_permissions(
        loose.path().join("password"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let text = node_config(&socket_in(dir.path()), &url, loose.path());
    let err = Daemon::start_failure(dir.path(), &text, &[]);
    assert!(err.contains("readable or writable by others"), "{err}");
    // No master_key_path.
    let text = node_config(&socket_in(dir.path()), &url, shared.path())
        .replace("master_key_path", "#master_key_path");
    let err = Daemon::start_failure(dir.path(), &text, &[]);
    assert!(err.contains("master_key_path"), "{err}");
    // A second node whose master key is another: refused before it serves.
    let first = Daemon::start(|s| node_config(s, &url, shared.path()));
    first.stop();
    let other = tempfile::tempdir().unwrap();
    write_password(other.path());
    let text = node_config(&socket_in(dir.path()), &url, other.path());
    let err = Daemon::start_failure(dir.path(), &text, &[]);
    assert!(err.contains("same master key"), "{err}");
}

/// A key node A has kept loaded is not used once node B's destroy has answered; a key made
/// again under the same name through B is the one A then uses.
#[test]
fn a_destroy_through_one_node_holds_at_once_on_the_other() {
    let cluster = Cluster::start();
    let url = cluster.create_db("coherence");
    let shared = tempfile::tempdir().unwrap();
    write_password(shared.path());
    let a = Daemon::start(|s| node_config(s, &url, shared.path()));
    let b = Daemon::start(|s| node_config(s, &url, shared.path()));
    let (on_a, on_b) = (
        direct_client(&a.socket, "app"),
        direct_client(&b.socket, "app"),
    );
    let hash = [9u8; 32];
    for round in 0..3 {
        on_a.psa_generate_key("k", ecdsa_p256()).unwrap();
        // A uses (and keeps) the key.
        let signature = on_a.psa_sign_hash("k", &hash, ECDSA_SHA256).unwrap();
        on_b.psa_verify_hash("k", &hash, ECDSA_SHA256, &signature)
            .unwrap();
        on_b.psa_destroy_key("k").unwrap();
        assert!(
            matches!(
                on_a.psa_sign_hash("k", &hash, ECDSA_SHA256),
                Err(parsec_client::error::Error::Service(
                    ResponseStatus::PsaErrorDoesNotExist
                ))
            ),
            "round {round}"
        );
        // Made again through B: A signs with the new key, which B's public key verifies.
        on_b.psa_generate_key("k", ecdsa_p256()).unwrap();
        let public = on_b.psa_export_public_key("k").unwrap();
        let signature = on_a.psa_sign_hash("k", &hash, ECDSA_SHA256).unwrap();
        assert_eq!(on_a.psa_export_public_key("k").unwrap(), public);
        on_b.psa_verify_hash("k", &hash, ECDSA_SHA256, &signature)
            .unwrap();
        on_b.psa_destroy_key("k").unwrap();
    }
    // Deleting a client through B holds on A too.
    on_a.psa_generate_key("k2", ecdsa_p256()).unwrap();
    on_a.psa_sign_hash("k2", &hash, ECDSA_SHA256).unwrap();
    direct_client(&b.socket, "admin")
        .delete_client("app")
        .unwrap();
    assert!(on_a.psa_sign_hash("k2", &hash, ECDSA_SHA256).is_err());
}

/// PostgreSQL stopped and started again under load: meanwhile requests fail with a status (and
/// the daemons keep answering what needs no store); afterwards both daemons serve again,
/// without a restart of their own, and no acknowledged key was lost.
#[test]
fn the_daemons_recover_when_postgresql_restarts_under_load() {
    let mut cluster = Cluster::start();
    let url = cluster.create_db("restarts");
    let shared = tempfile::tempdir().unwrap();
    write_password(shared.path());
    let a = Daemon::start(|s| node_config(s, &url, shared.path()));
    let b = Daemon::start(|s| node_config(s, &url, shared.path()));
    let hash = [5u8; 32];
    direct_client(&a.socket, "app")
        .psa_generate_key("k", ecdsa_p256())
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = [&a.socket, &b.socket, &a.socket, &b.socket]
        .into_iter()
        .enumerate()
        .map(|(w, socket)| {
            let client = direct_client(socket, "app");
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut ok, mut failed, mut made) = (0, 0, Vec::new());
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let name = format!("w{w}-{n}");
                    match client.psa_generate_key(&name, ecdsa_p256()) {
                        Ok(()) => made.push(name),
                        Err(_) => failed += 1,
                    }
                    match client.psa_sign_hash("k", &hash, ECDSA_SHA256) {
                        Ok(_) => ok += 1,
                        Err(_) => failed += 1,
                    }
                }
                (ok, failed, made)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    cluster.stop_server();
    // While the database is down, requests fail (they do not hang) and ping still answers.
    let down = direct_client(&b.socket, "app");
    let start = Instant::now();
    assert!(matches!(
        down.psa_sign_hash("k", &hash, ECDSA_SHA256),
        Err(parsec_client::error::Error::Service(
            ResponseStatus::PsaErrorCommunicationFailure
        ))
    ));
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(down.ping().is_ok());
    std::thread::sleep(Duration::from_millis(500));
    cluster.start_server();
    // Both daemons serve again within a few seconds.
    for socket in [&a.socket, &b.socket] {
        let client = direct_client(socket, "app");
        let start = Instant::now();
        while client.psa_sign_hash("k", &hash, ECDSA_SHA256).is_err() {
            assert!(start.elapsed() < Duration::from_secs(20), "no recovery");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let mut made = Vec::new();
    let (mut ok, mut failed) = (0, 0);
    for w in workers {
        let (o, f, m) = w.join().unwrap();
        ok += o;
        failed += f;
        made.extend(m);
    }
    assert!(ok > 0 && failed > 0, "{ok} signed, {failed} failed");
    // Every acknowledged creation is there, through either node.
    let listed: std::collections::BTreeSet<String> = direct_client(&b.socket, "app")
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    for name in &made {
        assert!(
            listed.contains(name),
            "{name} was acknowledged and is missing"
        );
    }
    // The daemons are the same processes: neither exited.
    a.stop();
    b.stop();
}
