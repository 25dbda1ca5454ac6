use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Barrier};

use super::*;

fn master() -> MasterKey {
    MasterKey::from_bytes(&[3u8; 32]).unwrap()
}

fn id(app: &str, name: &str) -> KeyId {
    KeyId {
        auth: 1,
        app: app.into(),
        name: name.into(),
    }
}

fn record(material: &[u8]) -> KeyRecord {
    KeyRecord {
        provider: 1,
        attributes: vec![1, 2, 3],
        material: Zeroizing::new(material.to_vec()),
    }
}

#[test]
fn create_get_list_delete() {
    let store = SqliteStore::in_memory(master()).unwrap();
    store.create(&id("a", "/keys/k1"), &record(b"m1")).unwrap();
    store.create(&id("a", "/keys/k2"), &record(b"m2")).unwrap();
    store.create(&id("b", "/keys/k1"), &record(b"m3")).unwrap();
    assert!(matches!(
        store.create(&id("a", "/keys/k1"), &record(b"other")),
        Err(StoreError::AlreadyExists)
    ));
    // The failed create changed nothing.
    assert_eq!(
        &store.get(&id("a", "/keys/k1")).unwrap().unwrap().material[..],
        b"m1"
    );
    let names: Vec<_> = store
        .list(1, "a")
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, ["/keys/k1", "/keys/k2"]);
    assert_eq!(store.list(2, "a").unwrap(), vec![]);
    assert_eq!(store.list_clients(1).unwrap(), ["a", "b"]);
    assert!(store.delete(&id("a", "/keys/k1")).unwrap());
    assert!(!store.delete(&id("a", "/keys/k1")).unwrap());
    assert!(store.get(&id("a", "/keys/k1")).unwrap().is_none());
    assert_eq!(store.delete_client(1, "b").unwrap(), 1);
    assert_eq!(store.list_clients(1).unwrap(), ["a"]);
    assert_eq!(store.check_integrity().unwrap(), 1);
}

#[test]
fn concurrent_creates_of_one_name_give_one_success() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("k.sqlite3"), master()).unwrap());
    for round in 0..20 {
        let name = format!("race-{round}");
        let barrier = Arc::new(Barrier::new(4));
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                let (store, barrier, name) = (store.clone(), barrier.clone(), name.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.create(&id("app", &name), &record(&[t]))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins = results.iter().filter(|r| r.is_ok()).count();
        let lost = results
            .iter()
            .filter(|r| matches!(r, Err(StoreError::AlreadyExists)))
            .count();
        assert_eq!((wins, lost), (1, 3), "round {round}");
    }
    assert_eq!(store.check_integrity().unwrap(), 20);
}

#[test]
fn file_is_private_and_material_is_not_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store").join("keys.sqlite3");
    {
        let store = SqliteStore::open(&path, master()).unwrap();
        store
            .create(&id("a", "k"), &record(b"VERY-SECRET-MATERIAL"))
            .unwrap();
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    let mut bytes = std::fs::read(&path).unwrap();
    if let Ok(wal) = std::fs::read(path.with_extension("sqlite3-wal")) {
        bytes.extend(wal);
    }
    assert!(!bytes.windows(20).any(|w| w == b"VERY-SECRET-MATERIAL"));
    // Reopened with the same master key, the key is there; with another, it is refused.
    let store = SqliteStore::open(&path, master()).unwrap();
    assert_eq!(
        &store.get(&id("a", "k")).unwrap().unwrap().material[..],
        b"VERY-SECRET-MATERIAL"
    );
    drop(store);
    let wrong = SqliteStore::open(&path, MasterKey::from_bytes(&[4u8; 32]).unwrap()).unwrap();
    assert!(matches!(wrong.get(&id("a", "k")), Err(StoreError::Corrupt)));
    assert!(matches!(wrong.check_integrity(), Err(StoreError::Corrupt)));
}

#[test]
fn changed_attributes_make_the_record_fail_to_open() {
    let store = SqliteStore::in_memory(master()).unwrap();
    store.create(&id("a", "k"), &record(b"m")).unwrap();
    store
        .db()
        .execute(
            "UPDATE parsec_keys SET attributes = x'ff' WHERE name = 'k'",
            [],
        )
        .unwrap();
    assert!(matches!(store.get(&id("a", "k")), Err(StoreError::Corrupt)));
    assert!(matches!(store.check_integrity(), Err(StoreError::Corrupt)));
}

#[test]
fn records_are_counted_without_a_master_key_and_probed_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.sqlite3");
    assert_eq!(SqliteStore::count_records(&path).unwrap(), 0, "no file");
    assert!(!path.exists(), "counting creates nothing");
    let store = SqliteStore::open(&path, master()).unwrap();
    assert_eq!(SqliteStore::count_records(&path).unwrap(), 0, "empty");
    assert_eq!(store.probe(8).unwrap(), Probe::default());
    for name in ["a", "b", "c"] {
        store.create(&id("app", name), &record(b"m")).unwrap();
    }
    assert_eq!(SqliteStore::count_records(&path).unwrap(), 3);
    let probe = store.probe(2).unwrap();
    assert_eq!((probe.sampled, probe.opened), (2, 2));
    drop(store);
    let wrong = SqliteStore::open(&path, MasterKey::from_bytes(&[4u8; 32]).unwrap()).unwrap();
    let probe = wrong.probe(8).unwrap();
    assert_eq!((probe.sampled, probe.opened), (3, 0));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.sqlite3");
    drop(SqliteStore::open(&path, master()).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE parsec_meta SET value = 99 WHERE name = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path, master()).unwrap_err().to_string();
    assert!(err.contains("schema version 99"), "{err}");
}

#[test]
fn quotas_bound_an_application_and_its_kind_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("k.sqlite3"), master()).unwrap());
    let quota = Quota {
        per_app: Some(3),
        per_auth: Some(5),
    };
    for name in ["a", "b", "c"] {
        store
            .create_within(&id("x", name), &record(b"m"), quota)
            .unwrap();
    }
    assert!(matches!(
        store.create_within(&id("x", "d"), &record(b"m"), quota),
        Err(StoreError::QuotaExceeded {
            who: QuotaScope::Application,
            limit: 3
        })
    ));
    // Without a quota (another kind's caller) the same application may grow.
    store.create(&id("x", "d"), &record(b"m")).unwrap();
    store
        .create_within(&id("y", "a"), &record(b"m"), quota)
        .unwrap();
    assert!(matches!(
        store.create_within(&id("y", "b"), &record(b"m"), quota),
        Err(StoreError::QuotaExceeded {
            who: QuotaScope::AuthKind,
            limit: 5
        })
    ));
    // Concurrent creates never overshoot: 3 held, room for 2, 4 racing.
    assert!(store.delete(&id("x", "d")).unwrap());
    assert!(store.delete(&id("y", "a")).unwrap());
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store
                    .create_within(&id(&format!("app{i}"), "k"), &record(b"m"), quota)
                    .is_ok()
            })
        })
        .collect();
    let wins = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|won| *won)
        .count();
    assert_eq!(wins, 2);
    assert_eq!(store.list_clients(1).unwrap().len(), 3);
}

/// A full disk (here: the database's page limit, which SQLite reports the same way) refuses
/// creates with `Full`, keeps what was there, and accepts creates again once there is room.
#[test]
fn a_full_disk_is_reported_and_recovered_from() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("k.sqlite3"), master()).unwrap();
    store.create(&id("a", "first"), &record(b"m")).unwrap();
    let pages: i64 = store
        .db()
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    store
        .db()
        .pragma_update(None, "max_page_count", pages)
        .unwrap();
    let big = vec![7u8; 64 * 1024];
    let mut created = vec![];
    let full = (0..100).find_map(|i| {
        let name = format!("k{i}");
        match store.create(&id("a", &name), &record(&big)) {
            Ok(()) => {
                created.push(name);
                None
            }
            Err(e) => Some(e),
        }
    });
    assert!(matches!(full, Some(StoreError::Full)), "{full:?}");
    for name in ["first"]
        .into_iter()
        .chain(created.iter().map(String::as_str))
    {
        assert!(store.get(&id("a", name)).unwrap().is_some(), "{name} kept");
    }
    store
        .db()
        .pragma_update(None, "max_page_count", 1_000_000)
        .unwrap();
    store.create(&id("a", "after"), &record(&big)).unwrap();
    assert_eq!(store.check_integrity().unwrap(), created.len() + 2);
}
