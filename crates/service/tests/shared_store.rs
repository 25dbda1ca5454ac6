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

use common::backends::{Device, Kind};
use common::p1;
use common::{config, ecdsa_p256, Daemon, ECDSA_SHA256};
use parsec1::message::codes;
use parsec1::KeyAddress;
use parsec_boss::Value;
use parsec_client::core::interface::requests::ProviderId;
use parsec_client::core::interface::requests::ResponseStatus;
use parsec_client::BasicClient;
use parsec_psa::{ops, AsymmetricSignature, Hash, OpResult, Operation, SignHash};
use parsec_rs_client::parsec1::{
    decode_tsk, FixedServiceKeys, HttpTransport, MemoryStorage, Options, Session, Storage, SCK,
    SID, SIGNER, TSK,
};
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

/// A node's config with Parsec.1, its sessions and their state on the database of `url`.
fn parsec1_node_config(socket: &Path, url: &str, dir: &Path) -> String {
    format!(
        "{}\n[parsec1]\nlisten = \"127.0.0.1:0\"\nservice_key_bits = 2048\n\
         test_pow_difficulty = 8\npow_difficulty = 12\nsession_store = \"{url}\"\n\
         session_store_password_file = \"{}\"\n",
        node_config(socket, url, dir),
        dir.join("password").display()
    )
}

/// A cluster and two nodes with Parsec.1 on its database `db` (the folder of their shared
/// files kept with them).
fn two_parsec1_nodes(db: &str) -> (Cluster, tempfile::TempDir, p1::P1, p1::P1) {
    let cluster = Cluster::start();
    let url = cluster.create_db(db);
    let shared = tempfile::tempdir().unwrap();
    write_password(shared.path());
    let node = || {
        p1::serving(Daemon::start(|s| {
            parsec1_node_config(s, &url, shared.path())
        }))
    };
    let (a, b) = (node(), node());
    (cluster, shared, a, b)
}

fn p1_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn p1_session(url: &str, key: &KeyAddress, storage: MemoryStorage) -> P1Session {
    Session::new(
        HttpTransport::new(url).unwrap(),
        storage,
        FixedServiceKeys(vec![key.clone()]),
        Options {
            key_bits: 2048,
            test_mode: true,
        },
    )
}

type P1Session = Session<MemoryStorage, FixedServiceKeys>;

fn copy_storage(from: &MemoryStorage) -> MemoryStorage {
    let to = MemoryStorage::new();
    for key in [SID, SCK, TSK, SIGNER] {
        to.set(key, &from.get(key).unwrap()).unwrap();
    }
    to
}

/// The two nodes share the service key, the sessions, the TSKs and the replay sets: a session
/// made through A goes on at B with the same TSK, a message read by A is refused by B, and a
/// session destroyed through B is gone at A.
#[test]
fn a_parsec1_session_made_on_one_node_goes_on_at_the_other_and_replays_are_refused() {
    let (_cluster, _shared, a, b) = two_parsec1_nodes("p1nodes");
    assert_eq!(a.service_key, b.service_key, "one service key");
    let rt = p1_runtime();

    // Registered, and a key made, through A.
    let on_a = p1_session(&a.url, &a.service_key, MemoryStorage::new());
    rt.block_on(on_a.operation(&Operation::PsaGenerateKey(ops::GenerateKey {
        key_name: "remote".into(),
        attributes: common::ecc_p256_attributes(),
    })))
    .unwrap();
    let (sid, tsk_text) = (
        on_a.storage().get(SID).unwrap(),
        on_a.storage().get(TSK).unwrap(),
    );

    // The same session and TSK go on at B: it signs with the key made through A.
    let on_b = p1_session(&b.url, &b.service_key, copy_storage(on_a.storage()));
    let signed = rt
        .block_on(on_b.operation(&Operation::PsaSignHash(ops::SignHash {
            key_name: "remote".into(),
            alg: AsymmetricSignature::Ecdsa {
                hash_alg: SignHash::Specific(Hash::Sha256),
            },
            hash: vec![7; 32],
        })))
        .unwrap();
    assert!(matches!(signed, OpResult::PsaSignHash(ref r) if r.signature.len() == 64));
    assert_eq!(on_b.storage().get(SID).unwrap(), sid, "no new session");
    assert_eq!(on_b.storage().get(TSK).unwrap(), tsk_text, "no new TSK");

    // A message A has read is a replay at B.
    let tsk = decode_tsk(&tsk_text).unwrap();
    let (to_a, to_b) = (
        HttpTransport::new(&a.url).unwrap(),
        HttpTransport::new(&b.url).unwrap(),
    );
    let sealed =
        parsec1::client::seal(&tsk, &sid, "getSessionInfo", Value::dict::<&str>([])).unwrap();
    let answer = rt.block_on(to_a.send(&sealed)).unwrap();
    assert!(parsec1::client::open(&tsk, &answer).unwrap().is_ok());
    let replayed = rt.block_on(to_b.send(&sealed)).unwrap();
    let e = parsec1::message::decode_answer(&replayed)
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::REPLAYED_MESSAGE, "{}", e.text);

    // A new TSK made through B while A holds the old one: A reads the live one and goes on.
    rt.block_on(on_b.call_value("sessionDropTSK", Value::dict::<&str>([])))
        .unwrap();
    rt.block_on(on_b.call_value("getSessionInfo", Value::dict::<&str>([])))
        .unwrap();
    let new_tsk = decode_tsk(&on_b.storage().get(TSK).unwrap()).unwrap();
    assert_ne!(new_tsk.as_bytes(), tsk.as_bytes(), "a new TSK");
    let sealed =
        parsec1::client::seal(&new_tsk, &sid, "getSessionInfo", Value::dict::<&str>([])).unwrap();
    let answer = rt.block_on(to_a.send(&sealed)).unwrap();
    assert!(parsec1::client::open(&new_tsk, &answer).unwrap().is_ok());
    // The old TSK no longer serves at A.
    let old = parsec1::client::seal(&tsk, &sid, "getSessionInfo", Value::dict::<&str>([])).unwrap();
    assert!(parsec1::client::open(&tsk, &rt.block_on(to_a.send(&old)).unwrap()).is_err());

    // Destroyed through B: gone at A.
    rt.block_on(on_b.call_value("destroySession", Value::dict::<&str>([])))
        .unwrap();
    let fresh =
        parsec1::client::seal(&tsk, &sid, "getSessionInfo", Value::dict::<&str>([])).unwrap();
    let e = parsec1::message::decode_answer(&rt.block_on(to_a.send(&fresh)).unwrap())
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::SESSION_NOT_FOUND, "{}", e.text);
}

/// A daemon whose key store is a file may keep its Parsec.1 state in PostgreSQL (TSKs sealed
/// under the file store's master key); an unreachable database stops start-up, naming it.
#[test]
fn a_parsec1_session_store_on_postgres_keeps_tsks_there_and_refuses_an_unreachable_one() {
    let cluster = Cluster::start();
    let url = cluster.create_db("p1refused");
    let dir = tempfile::tempdir().unwrap();
    write_password(dir.path());
    // The key store in a file, its master key beside it: taken.
    let text = |socket: &Path, url: &str| {
        format!(
            "{}\n[parsec1]\nlisten = \"127.0.0.1:0\"\nservice_key_bits = 2048\n\
             session_store = \"{url}\"\nsession_store_password_file = \"{}\"\n\
             session_store_connections = 2\n",
            common::software_config(socket, &dir.path().join("state"), ADMIN_DIRECT),
            dir.path().join("password").display()
        )
    };
    let p1 = p1::serving(Daemon::start(|s| text(s, &url)));
    let mut db = cluster.client("p1refused");
    let rt = p1_runtime();
    let s = p1_session(&p1.url, &p1.service_key, MemoryStorage::new());
    rt.block_on(s.call_value("getSessionInfo", Value::dict::<&str>([])))
        .unwrap();
    let n: i64 = db
        .query_one("SELECT count(*) FROM parsec1_tsks", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "the TSK is in the database");
    p1.daemon.stop();
    // An unreachable database: refused, naming where it looked.
    let nowhere = format!(
        "postgresql://parsec@localhost/x?host={}",
        dir.path().join("nowhere").display()
    );
    let socket = dir.path().join("run").join("parsec.sock");
    let err = Daemon::start_failure(dir.path(), &text(&socket, &nowhere), &[]);
    assert!(err.contains("Parsec.1 session store"), "{err}");
    assert!(err.contains("nowhere"), "{err}");
}

/// Nodes on one key store, each with a device of its own (a SoftHSM2 token, an swtpm): a
/// hardware key made through A is refused by B with `PsaErrorCommunicationFailure`, for use
/// and for destroy (the key stays whole), while A goes on using it; B still lists it.
#[test]
fn hardware_keys_are_served_only_by_the_nodes_that_reach_their_device() {
    let cluster = Cluster::start();
    for kind in [Kind::Pkcs11, Kind::Tpm] {
        let url = cluster.create_db(&format!("hw{}", kind.id() as u8));
        let shared = tempfile::tempdir().unwrap();
        write_password(shared.path());
        let node = |device: &Device| {
            let section = device.provider_section("shared");
            let (url, dir) = (url.clone(), shared.path().to_path_buf());
            Daemon::start_with(
                move |s| format!("{}\n{section}", node_config(s, &url, &dir)),
                |cmd| device.environment(cmd),
            )
        };
        let (device_a, device_b) = (kind.device(), kind.device());
        let (a, b) = (node(&device_a), node(&device_b));
        let client = |daemon: &Daemon| {
            let mut c = common::direct_client(&daemon.socket, "alice");
            c.set_implicit_provider(kind.id());
            c
        };
        let (on_a, on_b) = (client(&a), client(&b));
        on_a.psa_generate_key("hw", ecdsa_p256()).unwrap();
        let hash = [3u8; 32];
        let signature = on_a.psa_sign_hash("hw", &hash, ECDSA_SHA256).unwrap();
        let status = |r: Result<(), parsec_client::error::Error>| match r {
            Err(parsec_client::error::Error::Service(s)) => Some(s),
            _ => None,
        };
        let unreachable = Some(ResponseStatus::PsaErrorCommunicationFailure);
        assert_eq!(
            status(on_b.psa_sign_hash("hw", &hash, ECDSA_SHA256).map(|_| ())),
            unreachable,
            "{kind:?}"
        );
        assert_eq!(status(on_b.psa_destroy_key("hw")), unreachable, "{kind:?}");
        assert!(
            b.stderr().contains("lives in another device"),
            "{kind:?}: {}",
            b.stderr()
        );
        // The public key is in the record: B exports and verifies without the device.
        assert!(on_b.psa_export_public_key("hw").is_ok(), "{kind:?}");
        on_b.psa_verify_hash("hw", &hash, ECDSA_SHA256, &signature)
            .unwrap();
        let listed: Vec<String> = on_b
            .list_keys()
            .unwrap()
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(listed, ["hw"], "{kind:?}");
        // A still has it whole, and destroys it.
        on_a.psa_sign_hash("hw", &hash, ECDSA_SHA256).unwrap();
        on_a.psa_destroy_key("hw").unwrap();
        assert_eq!(
            status(on_b.psa_sign_hash("hw", &hash, ECDSA_SHA256).map(|_| ())),
            Some(ResponseStatus::PsaErrorDoesNotExist),
            "{kind:?}"
        );
    }
}

/// Our client given both nodes' URLs spreads its calls over them; `kill -9` of one node in the
/// middle of key creations and signatures loses no acknowledged key, and the calls go on
/// through the other node in the same session.
#[test]
fn a_parsec1_client_spreads_over_two_nodes_and_a_killed_node_loses_no_acknowledged_key() {
    let (_cluster, _shared, mut a, b) = two_parsec1_nodes("failover");
    let client = parsec_rs_client::Client::builder()
        .endpoint(parsec_rs_client::Endpoint::parse(&format!("{},{}", a.url, b.url)).unwrap())
        .service_keys(vec![a.service_key.clone()])
        .session_in_memory()
        .build()
        .unwrap();
    let work = |from: usize, to: usize, acked: &mut Vec<String>, failed: &mut usize| {
        for i in from..to {
            let name = format!("k{i}");
            match client.create_signing_key(&name) {
                Ok(()) => acked.push(name.clone()),
                Err(_) => *failed += 1,
            }
            if client.sign(&name, b"message").is_err() {
                *failed += 1;
            }
        }
    };
    let (mut acked, mut failed) = (Vec::new(), 0);
    work(0, 20, &mut acked, &mut failed);
    assert_eq!((acked.len(), failed), (20, 0), "both nodes serve");
    // Killed while the client works: in a thread, so that the kill lands mid-call; the
    // client goes on until it has made 20 keys after the kill.
    let killed = Arc::new(AtomicBool::new(false));
    let killer = std::thread::spawn({
        let (pid, killed) = (a.daemon.child.id(), killed.clone());
        move || {
            std::thread::sleep(Duration::from_millis(300));
            let ok = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap()
                .success();
            killed.store(true, Ordering::SeqCst);
            assert!(ok);
        }
    });
    let (mut before, mut during, mut after) = (0, 0, 0);
    let mut i = 20;
    while after < 20 {
        assert!(i < 2000, "the client made no progress after the kill");
        let was_killed = killed.load(Ordering::SeqCst);
        let mut failed = 0;
        let made = acked.len();
        work(i, i + 1, &mut acked, &mut failed);
        i += 1;
        during += failed;
        if !was_killed {
            before += 1;
        } else if acked.len() > made {
            after += 1;
        }
    }
    killer.join().unwrap();
    a.daemon.wait_exit();
    eprintln!("calls: {before} before the kill, {during} failed, {after} keys after");
    assert!(before > 0, "the kill landed before any call");
    // At most the call in flight at the kill fails (outcome unknown); the rest went to B.
    assert!(during <= 2, "{during} calls failed around the kill");
    let listed: std::collections::HashSet<String> = client
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    for name in &acked {
        assert!(listed.contains(name), "acknowledged key {name} lost");
        client.sign(name, b"after").unwrap();
    }
    assert!(
        acked.len() + 2 >= i,
        "{} keys acknowledged of {i}",
        acked.len()
    );
    drop(b);
}

/// A loopback port free now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The two-node example (`config/two-nodes.toml`) as written, but for its places: both nodes
/// serve one service contract listing both URLs, and a client that trusts the contract and
/// was given node A's URL only goes on through node B, which the contract names, once A is
/// killed.
#[test]
fn the_two_node_example_serves_one_contract_whose_urls_a_client_follows() {
    let cluster = Cluster::start();
    let url = cluster.create_db("example");
    let shared = tempfile::tempdir().unwrap();
    write_password(shared.path());
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/two-nodes.toml"),
    )
    .unwrap();
    let contract_path = shared.path().join("service-contract.unicon");
    let (port_a, port_b) = (free_port(), free_port());
    let node_url = |port: u16| format!("http://127.0.0.1:{port}/api/p1");
    let config = |socket: &Path, port: u16, with_contract: bool| {
        let mut text = example.clone();
        let places = [
            (
                "socket_path = \"/run/parsec/parsec.sock\"".to_string(),
                format!("socket_path = {socket:?}"),
            ),
            ("postgresql://parsec@db.example/parsec".into(), url.clone()),
            (
                "/etc/parsec/postgres.password".into(),
                shared.path().join("password").display().to_string(),
            ),
            (
                "/etc/parsec/master.key".into(),
                shared.path().join("master.key").display().to_string(),
            ),
            (
                "/etc/parsec/service-contract.unicon".into(),
                contract_path.display().to_string(),
            ),
            ("0.0.0.0:8373".into(), format!("127.0.0.1:{port}")),
            ("#allow_root = false".into(), "allow_root = true".into()),
        ];
        for (from, to) in places {
            assert!(text.contains(&from), "the example has no `{from}`");
            text = text.replace(&from, &to);
        }
        if !with_contract {
            text = text.replace("service_contract =", "#service_contract =");
        }
        // Quicker to make than the default 4096 bits (the last section is [parsec1]).
        format!("{text}service_key_bits = 2048\n")
    };
    // Node A first, without a contract: it makes the master key and the service key.
    let a = p1::serving(Daemon::start(|s| config(s, port_a, false)));
    assert_eq!(a.url, node_url(port_a));
    let net = common::universa::UniversaNet::start(3);
    let owner = parsec1::PrivateKey::generate(2048).unwrap();
    let now = parsec_boss::Time::now();
    let spec = parsec1::universa::NewContract {
        parsec: parsec1::universa::ParsecSection {
            service_name: "two nodes".into(),
            short_service_name: None,
            service_description: None,
            service_key_addresses: vec![(a.service_key.clone(), false)],
            http: vec![node_url(port_a), node_url(port_b)],
            https: Vec::new(),
        },
        owner: owner.public_key().long_address().unwrap(),
        uns2_name: None,
        created_at: now,
        expires_at: now.plus_seconds(86400),
    };
    let bytes = parsec1::universa::create(&spec, &owner).unwrap();
    std::fs::write(&contract_path, &bytes).unwrap();
    let origin = parsec1::universa::Sealed::read(&bytes).unwrap().hash_id;
    net.set_state(&origin, "APPROVED");
    a.daemon.reload(&config(&a.daemon.socket, port_a, true));
    let b = p1::serving(Daemon::start(|s| config(s, port_b, true)));
    assert_eq!(b.service_key, a.service_key, "the service key is shared");

    let topology = parsec_rs_client::universa::Topology::load(&net.topology_file).unwrap();
    let client = parsec_rs_client::Client::builder()
        .endpoint(parsec_rs_client::Endpoint::Parsec1(a.url.clone()))
        .service_contract(origin)
        .universa_topology(topology)
        .universa_options(parsec_rs_client::universa::NetworkOptions {
            trust: 0.5,
            request_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(8),
            pending_pause: Duration::from_millis(100),
        })
        .session_in_memory()
        .build()
        .unwrap();
    client.create_signing_key("shared-key").unwrap();
    let signature = client.sign("shared-key", b"two nodes").unwrap();
    let mut a = a;
    a.daemon.signal("KILL");
    a.daemon.wait_exit();
    // Only the contract named B: the client goes on there, in the same session.
    client
        .verify("shared-key", b"two nodes", &signature)
        .unwrap();
    client.create_signing_key("after").unwrap();
    drop(b);
}

/// While PostgreSQL is down, Parsec.1 requests fail at once with `parsec_unavailable` (the
/// code our client fails over on); once it is back, the same session goes on through both
/// nodes, without a restart of theirs.
#[test]
fn parsec1_calls_say_unavailable_while_postgresql_is_down_and_the_session_goes_on_after() {
    let (mut cluster, _shared, a, b) = two_parsec1_nodes("p1restart");
    let rt = p1_runtime();
    let on_a = p1_session(&a.url, &a.service_key, MemoryStorage::new());
    rt.block_on(on_a.call_value("getSessionInfo", Value::dict::<&str>([])))
        .unwrap();
    let (sid, tsk_text) = (
        on_a.storage().get(SID).unwrap(),
        on_a.storage().get(TSK).unwrap(),
    );
    let tsk = decode_tsk(&tsk_text).unwrap();
    cluster.stop_server();
    for node in [&a, &b] {
        let transport = HttpTransport::new(&node.url).unwrap();
        let sealed =
            parsec1::client::seal(&tsk, &sid, "getSessionInfo", Value::dict::<&str>([])).unwrap();
        let start = Instant::now();
        let answer = rt.block_on(transport.send(&sealed)).unwrap();
        let e = parsec1::message::decode_answer(&answer)
            .unwrap()
            .unwrap_err();
        assert_eq!(e.code, codes::UNAVAILABLE, "{}", e.text);
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{:?}",
            start.elapsed()
        );
        // Guest requests that need no state still answer.
        let info = rt
            .block_on(transport.send(&parsec1::message::encode_call(
                "info",
                Value::dict::<&str>([]),
            )))
            .unwrap();
        assert!(parsec1::message::decode_answer(&info).unwrap().is_ok());
    }
    cluster.start_server();
    let on_b = p1_session(&b.url, &b.service_key, copy_storage(on_a.storage()));
    for session in [&on_a, &on_b] {
        let start = Instant::now();
        while rt
            .block_on(session.call_value("getSessionInfo", Value::dict::<&str>([])))
            .is_err()
        {
            assert!(start.elapsed() < Duration::from_secs(20), "no recovery");
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(session.storage().get(SID).unwrap(), sid, "the same session");
    }
}
