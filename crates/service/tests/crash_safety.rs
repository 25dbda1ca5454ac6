//! Crash safety: the daemon is killed with SIGKILL at random moments while clients create, use
//! and destroy keys, 100 times. After each restart every key whose creation was acknowledged
//! (and not since destroyed) exists and works, no acknowledged destroy is undone, and the store
//! passes its integrity check.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{direct_client, ecdsa_p256, software_config, Daemon, ECDSA_SHA256};
use parsec_client::core::interface::operations::psa_algorithm::AsymmetricSignature;
use parsec_client::core::interface::requests::ProviderId;
use parsec_keystore::{KeyStore, MasterKey, SqliteStore};

const KILLS: usize = 100;
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
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("keys.sqlite3");
    let make_config = |s: &std::path::Path| {
        software_config(s, state.path(), "[authenticator]\nauth_type = \"Direct\"\n")
    };
    let socket = state.path().join("parsec.sock");
    let known: Arc<Mutex<BTreeMap<String, Known>>> = Arc::default();
    let mut next_name = 0usize;
    let mut touched = BTreeSet::new();
    for round in 0..KILLS {
        let mut daemon = Daemon::start_at(Some(socket.clone()), make_config, |_| {});
        verify(&daemon, &known.lock().unwrap(), Some(&touched), seed, round);
        let before = known.lock().unwrap().clone();

        // Two clients work until the kill.
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let (stop, known) = (stop.clone(), known.clone());
                let mut client = direct_client(&daemon.socket, "crash");
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
        std::thread::sleep(Duration::from_millis(5 + rng.next() % 60));
        daemon.signal("KILL");
        daemon.wait_exit();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.join().unwrap();
        }
        drop(daemon);
        touched = known
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, state)| before.get(*name) != Some(state))
            .map(|(name, _)| name.clone())
            .collect();

        // The store is whole while no daemon runs.
        let master =
            MasterKey::load_or_create(&db.with_file_name("keys.sqlite3.master-key")).unwrap();
        let store = SqliteStore::open(&db, master).unwrap();
        store
            .check_integrity()
            .unwrap_or_else(|e| panic!("seed {seed} round {round}: integrity: {e}"));
    }
    let daemon = Daemon::start_at(Some(socket), make_config, |_| {});
    verify(&daemon, &known.lock().unwrap(), None, seed, KILLS);
    let exists = known
        .lock()
        .unwrap()
        .values()
        .filter(|k| **k == Known::Exists)
        .count();
    let gone = known
        .lock()
        .unwrap()
        .values()
        .filter(|k| **k == Known::Gone)
        .count();
    assert!(
        exists > 100 && gone > 100,
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
