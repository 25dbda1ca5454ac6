//! Crash safety: the daemon is killed with SIGKILL at random moments while clients create, use
//! and destroy keys, 100 times; and one of two daemons sharing a PostgreSQL store, 30 times. After each restart every key whose creation was acknowledged
//! (and not since destroyed) exists and works, no acknowledged destroy is undone, and the store
//! passes its integrity check.

mod common;
// Shared with the key store's own tests; not every helper is used here.
#[allow(dead_code)]
#[path = "../../keystore/tests/pg/mod.rs"]
mod pg;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{direct_client, ecdsa_p256, software_config, Daemon, ECDSA_SHA256};
use parsec_client::core::interface::operations::psa_algorithm::AsymmetricSignature;
use parsec_client::core::interface::requests::ProviderId;
use parsec_keystore::{KeyStore, MasterKey, PostgresOptions, PostgresStore, SqliteStore};

const KILLS: usize = 100;
/// Rounds of the two-node test (each starts two daemons).
const KILLS_TWO_NODES: usize = 30;
const ECDSA: AsymmetricSignature = ECDSA_SHA256;

/// What the clients know for sure about each key name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Creation acknowledged, no destroy attempted since.
    Exists,
    /// Destroy acknowledged.
    Gone,
    /// An operation was cut off by the kill: either outcome is allowed.
    Unknown,
}

/// A small deterministic generator (xorshift), seeded from the clock and printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn acknowledged_changes_survive_sigkill() {
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("keys.sqlite3");
    let nodes = [state.path().join("parsec.sock")];
    let make_config =
        |s: &Path| software_config(s, state.path(), "[authenticator]\nauth_type = \"Direct\"\n");
    let check = || {
        let master =
            MasterKey::load_or_create(&db.with_file_name("keys.sqlite3.master-key")).unwrap();
        SqliteStore::open(&db, master).unwrap().check_integrity()
    };
    kill_loop(&nodes, &make_config, &check, KILLS, (5, 60));
}

/// Two daemons on one PostgreSQL store; each round kills one of them while clients of both
/// create, use and destroy keys.
#[test]
fn acknowledged_changes_survive_sigkill_of_one_of_two_nodes_on_postgresql() {
    let cluster = pg::Cluster::start();
    let url = cluster.create_db("crash");
    let state = tempfile::tempdir().unwrap();
    let password = state.path().join("password");
    std::fs::write(&password, pg::PASSWORD).unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let master = state.path().join("master.key");
    let nodes = [state.path().join("a.sock"), state.path().join("b.sock")];
    let make_config = |s: &Path| {
        format!(
            "[core_settings]\nallow_root = true\n\n[listener]\nlistener_type = \"DomainSocket\"\n\
             timeout = 3000\nsocket_path = \"{}\"\n\n[authenticator]\nauth_type = \"Direct\"\n\n\
             [[key_manager]]\nname = \"shared\"\nmanager_type = \"PostgreSQL\"\nurl = \"{url}\"\n\
             password_file = \"{}\"\nmaster_key_path = \"{}\"\n\n\
             [[provider]]\nprovider_type = \"MbedCrypto\"\nkey_info_manager = \"shared\"\n",
            s.display(),
            password.display(),
            master.display()
        )
    };
    let check = || {
        let options = PostgresOptions {
            url: url.clone(),
            password: Some(zeroize::Zeroizing::new(pg::PASSWORD.to_string())),
            connections: 1,
            wait: Duration::from_secs(5),
        };
        let master = MasterKey::load(&master).unwrap().unwrap();
        PostgresStore::open(options, master)
            .unwrap()
            .check_integrity()
    };
    // Longer windows: each connection thread makes its connection on first use.
    kill_loop(&nodes, &make_config, &check, KILLS_TWO_NODES, (50, 250));
}

/// `kills` rounds: every node in `nodes` (its socket path) is started, its clients work, one
/// node (in turn) is killed with SIGKILL at a random moment and the others are stopped; then
/// `check` runs on the store with no daemon running.
fn kill_loop(
    nodes: &[PathBuf],
    make_config: &dyn Fn(&Path) -> String,
    check: &dyn Fn() -> Result<usize, parsec_keystore::StoreError>,
    kills: usize,
    window_ms: (u64, u64),
) {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let known: Arc<Mutex<BTreeMap<String, Known>>> = Arc::default();
    let mut next_name = 0usize;
    let mut touched = BTreeSet::new();
    for round in 0..kills {
        let mut daemons: Vec<Daemon> = nodes
            .iter()
            .map(|socket| Daemon::start_at(Some(socket.clone()), make_config, |_| {}))
            .collect();
        verify(
            &daemons[round % daemons.len()],
            &known.lock().unwrap(),
            Some(&touched),
            seed,
            round,
        );
        let before = known.lock().unwrap().clone();

        // Two clients per node work until the kill.
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..2 * daemons.len())
            .map(|w| {
                let (stop, known) = (stop.clone(), known.clone());
                let mut client = direct_client(&daemons[w % daemons.len()].socket, "crash");
                client.set_implicit_provider(ProviderId::MbedCrypto);
                let first = next_name + w * 10_000;
                std::thread::spawn(move || {
                    let mut n = first;
                    while !stop.load(Ordering::SeqCst) {
                        let name = format!("k{n}");
                        n += 1;
                        known.lock().unwrap().insert(name.clone(), Known::Unknown);
                        if client.psa_generate_key(&name, ecdsa_p256()).is_err() {
                            break;
                        }
                        known.lock().unwrap().insert(name.clone(), Known::Exists);
                        if client.psa_sign_hash(&name, &[1u8; 32], ECDSA).is_err() {
                            break;
                        }
                        if n % 2 == 0 {
                            known.lock().unwrap().insert(name.clone(), Known::Unknown);
                            if client.psa_destroy_key(&name).is_err() {
                                break;
                            }
                            known.lock().unwrap().insert(name, Known::Gone);
                        }
                    }
                })
            })
            .collect();
        next_name += 100_000;
        std::thread::sleep(Duration::from_millis(
            window_ms.0 + rng.next() % window_ms.1,
        ));
        let victim = round % daemons.len();
        daemons[victim].signal("KILL");
        daemons[victim].wait_exit();
        // The other nodes' clients go on a little while the killed node is gone.
        std::thread::sleep(Duration::from_millis(rng.next() % window_ms.1));
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }
        for (i, daemon) in daemons.drain(..).enumerate() {
            if i != victim {
                daemon.stop();
            }
        }
        touched = known
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, state)| before.get(*name) != Some(state))
            .map(|(name, _)| name.clone())
            .collect();

        // The store is whole while no daemon runs.
        check().unwrap_or_else(|e| panic!("seed {seed} round {round}: integrity: {e}"));
    }
    let daemon = Daemon::start_at(Some(nodes[0].clone()), make_config, |_| {});
    verify(&daemon, &known.lock().unwrap(), None, seed, kills);
    let count = |wanted: Known| {
        known
            .lock()
            .unwrap()
            .values()
            .filter(|k| **k == wanted)
            .count()
    };
    let (exists, gone) = (count(Known::Exists), count(Known::Gone));
    assert!(
        exists > kills && gone > kills,
        "too little work to mean anything: {exists} kept, {gone} destroyed"
    );
}

/// Checks every name's presence; uses (signs with) the keys in `touched`, or all when `None`.
fn verify(
    daemon: &Daemon,
    known: &BTreeMap<String, Known>,
    touched: Option<&BTreeSet<String>>,
    seed: u64,
    round: usize,
) {
    let mut client = direct_client(&daemon.socket, "crash");
    client.set_implicit_provider(ProviderId::MbedCrypto);
    let listed: BTreeSet<String> = client
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    let start = Instant::now();
    for (name, state) in known {
        let present = listed.contains(name);
        let use_it = touched.is_none_or(|t| t.contains(name));
        match state {
            Known::Exists => {
                assert!(
                    present,
                    "seed {seed} round {round}: acknowledged key {name} is missing"
                );
                if !use_it {
                    continue;
                }
                client
                    .psa_sign_hash(name, &[2u8; 32], ECDSA)
                    .unwrap_or_else(|e| {
                        panic!("seed {seed} round {round}: {name} does not work: {e:?}")
                    });
            }
            Known::Gone => assert!(
                !present,
                "seed {seed} round {round}: destroyed key {name} came back"
            ),
            Known::Unknown if present && use_it => {
                client
                    .psa_sign_hash(name, &[2u8; 32], ECDSA)
                    .unwrap_or_else(|e| {
                        panic!("seed {seed} round {round}: {name} is listed but broken: {e:?}")
                    });
            }
            Known::Unknown => {}
        }
    }
    assert!(start.elapsed() < Duration::from_secs(60));
}
