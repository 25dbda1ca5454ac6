//! The PostgreSQL key store against a real server (see `pg/mod.rs`): what the SQLite store
//! guarantees, plus what sharing one database between nodes needs.

mod pg;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use parsec_keystore::{
    KeyId, KeyRecord, KeyStore, MasterKey, PostgresOptions, PostgresStore, Quota, QuotaScope,
    StoreError,
};
use pg::Cluster;
use zeroize::Zeroizing;

fn options(url: String) -> PostgresOptions {
    PostgresOptions {
        url,
        password: Some(Zeroizing::new(pg::PASSWORD.to_string())),
        connections: 4,
        wait: Duration::from_secs(2),
    }
}

/// A store with one connection (one connection thread).
fn one_connection(url: String) -> PostgresStore {
    let options = PostgresOptions {
        connections: 1,
        ..options(url)
    };
    PostgresStore::open(options, master(1)).unwrap()
}

fn master(byte: u8) -> MasterKey {
    MasterKey::from_bytes(&[byte; 32]).unwrap()
}

fn id(app: &str, name: &str) -> KeyId {
    KeyId {
        auth: 1,
        app: app.to_string(),
        name: name.to_string(),
    }
}

fn record(material: &[u8]) -> KeyRecord {
    KeyRecord {
        provider: 1,
        attributes: vec![7, 8, 9],
        material: Zeroizing::new(material.to_vec()),
    }
}

#[test]
fn keys_are_created_read_listed_and_deleted_as_in_the_sqlite_store() {
    let cluster = Cluster::start();
    let store = PostgresStore::open(options(cluster.create_db("keys")), master(1)).unwrap();
    // Listing is in byte order whatever the database's collation.
    for name in ["b", "B", "a", "é"] {
        store
            .create(&id("app", name), &record(name.as_bytes()))
            .unwrap();
    }
    store.create(&id("other", "x"), &record(b"x")).unwrap();
    assert!(matches!(
        store.create(&id("app", "a"), &record(b"again")),
        Err(StoreError::AlreadyExists)
    ));
    let got = store.get(&id("app", "a")).unwrap().unwrap();
    assert_eq!(&got.material[..], b"a");
    assert_eq!(got.attributes, vec![7, 8, 9]);
    assert!(store.get(&id("app", "missing")).unwrap().is_none());
    let names: Vec<String> = store
        .list(1, "app")
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, ["B", "a", "b", "é"]);
    assert_eq!(store.list_clients(1).unwrap(), ["app", "other"]);
    assert!(store.list_clients(2).unwrap().is_empty());
    assert!(store.delete(&id("app", "b")).unwrap());
    assert!(!store.delete(&id("app", "b")).unwrap());
    assert_eq!(store.delete_client(1, "app").unwrap(), 3);
    assert_eq!(store.list_clients(1).unwrap(), ["other"]);
    assert_eq!(store.check_integrity().unwrap(), 1);
}

#[test]
fn material_is_sealed_with_its_identity() {
    let cluster = Cluster::start();
    let url = cluster.create_db("sealed");
    let store = PostgresStore::open(options(url), master(1)).unwrap();
    store
        .create(&id("app", "k1"), &record(b"secret material one"))
        .unwrap();
    store
        .create(&id("app", "k2"), &record(b"secret material two"))
        .unwrap();
    let mut db = cluster.client("sealed");
    let raw: Vec<u8> = db
        .query_one("SELECT material FROM parsec_keys WHERE name = 'k1'", &[])
        .unwrap()
        .get(0);
    assert!(!raw.windows(6).any(|w| w == b"secret"));
    // k2's sealed material moved into k1's row does not open as k1.
    db.batch_execute(
        "UPDATE parsec_keys SET material = (SELECT material FROM parsec_keys WHERE name = 'k2')
         WHERE name = 'k1'",
    )
    .unwrap();
    assert!(matches!(
        store.get(&id("app", "k1")),
        Err(StoreError::Corrupt)
    ));
    assert!(matches!(store.check_integrity(), Err(StoreError::Corrupt)));
    assert_eq!(store.probe(8).unwrap().opened, 1);
    // Attributes changed in the database (say, an export flag added) do not open either.
    assert!(store.get(&id("app", "k2")).unwrap().is_some());
    db.batch_execute("UPDATE parsec_keys SET attributes = '\\x0102' WHERE name = 'k2'")
        .unwrap();
    assert!(matches!(
        store.get(&id("app", "k2")),
        Err(StoreError::Corrupt)
    ));
    assert_eq!(store.probe(8).unwrap().opened, 0);
}

#[test]
fn of_concurrent_creates_of_one_name_exactly_one_succeeds() {
    let cluster = Cluster::start();
    let url = cluster.create_db("race");
    let stores: Vec<Arc<PostgresStore>> = (0..2)
        .map(|_| Arc::new(PostgresStore::open(options(url.clone()), master(1)).unwrap()))
        .collect();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (store, barrier) = (stores[i % 2].clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.create(&id("app", "one"), &record(&[i as u8]))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| r.is_ok() || matches!(r, Err(StoreError::AlreadyExists))));
}

#[test]
fn quotas_hold_under_concurrent_creates_from_two_nodes() {
    let cluster = Cluster::start();
    let url = cluster.create_db("quota");
    let stores: Vec<Arc<PostgresStore>> = (0..2)
        .map(|_| Arc::new(PostgresStore::open(options(url.clone()), master(1)).unwrap()))
        .collect();
    let quota = Quota {
        per_app: Some(5),
        per_auth: None,
    };
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (store, barrier) = (stores[i % 2].clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.create_within(&id("app", &format!("k{i}")), &record(b"m"), quota)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        5,
        "{results:?}"
    );
    assert!(results.iter().all(|r| r.is_ok()
        || matches!(
            r,
            Err(StoreError::QuotaExceeded {
                who: QuotaScope::Application,
                limit: 5
            })
        )));
    // The bound of a whole kind counts every application of it.
    let kind = Quota {
        per_app: None,
        per_auth: Some(6),
    };
    stores[0]
        .create_within(&id("b", "x"), &record(b"m"), kind)
        .unwrap();
    assert!(matches!(
        stores[1].create_within(&id("c", "x"), &record(b"m"), kind),
        Err(StoreError::QuotaExceeded {
            who: QuotaScope::AuthKind,
            limit: 6
        })
    ));
}

#[test]
fn a_node_with_another_master_key_is_refused() {
    let cluster = Cluster::start();
    let url = cluster.create_db("masters");
    // Recorded by the first node, even before any key exists.
    drop(PostgresStore::open(options(url.clone()), master(1)).unwrap());
    let err = PostgresStore::open(options(url.clone()), master(2)).unwrap_err();
    assert!(err.to_string().contains("same master key"), "{err}");
    PostgresStore::open(options(url), master(1)).unwrap();
}

#[test]
fn a_newer_schema_is_refused_and_records_are_counted_without_a_master_key() {
    let cluster = Cluster::start();
    let url = cluster.create_db("schema");
    assert_eq!(
        PostgresStore::count_records(&options(url.clone())).unwrap(),
        0
    );
    let store = PostgresStore::open(options(url.clone()), master(1)).unwrap();
    store.create(&id("app", "k"), &record(b"m")).unwrap();
    drop(store);
    assert_eq!(
        PostgresStore::count_records(&options(url.clone())).unwrap(),
        1
    );
    // Opening again changes nothing.
    drop(PostgresStore::open(options(url.clone()), master(1)).unwrap());
    let mut db = cluster.client("schema");
    let version: i64 = db
        .query_one(
            "SELECT number FROM parsec_meta WHERE name = 'schema_version'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(version, 1);
    db.batch_execute("UPDATE parsec_meta SET number = 99 WHERE name = 'schema_version'")
        .unwrap();
    let err = PostgresStore::open(options(url), master(1)).unwrap_err();
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[test]
fn an_unreachable_or_refusing_database_fails_at_open_without_the_password() {
    let cluster = Cluster::start();
    let nowhere = format!(
        "postgresql://parsec@/x?host={}",
        cluster.path().join("no-such-dir").display()
    );
    let start = Instant::now();
    let err = PostgresStore::open(options(nowhere), master(1)).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(10));
    // A wrong password: refused, and neither password is in the message.
    let mut wrong = options(cluster.url("postgres"));
    wrong.password = Some(Zeroizing::new("not-the-password".into()));
    let err = PostgresStore::open(wrong, master(1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("password"), "{err}");
    assert!(
        !err.contains("not-the-password") && !err.contains(pg::PASSWORD),
        "{err}"
    );
    // A password in the URL is not repeated in a parse error either.
    let bad = PostgresOptions {
        url: format!("postgresql://parsec:{}@localhost:notaport/x", pg::PASSWORD),
        ..options(String::new())
    };
    let err = PostgresStore::open(bad, master(1)).unwrap_err().to_string();
    assert!(!err.contains(pg::PASSWORD), "{err}");
    let err = PostgresStore::open(options("mysql://x".into()), master(1))
        .unwrap_err()
        .to_string();
    assert!(err.contains("postgres://"), "{err}");
}

#[test]
fn the_store_fails_calls_while_the_server_is_down_and_recovers_after() {
    let mut cluster = Cluster::start();
    let url = cluster.create_db("restart");
    let store = PostgresStore::open(options(url), master(1)).unwrap();
    store.create(&id("app", "before"), &record(b"m")).unwrap();
    cluster.stop_server();
    let start = Instant::now();
    assert!(matches!(
        store.get(&id("app", "before")),
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.create(&id("app", "during"), &record(b"m")),
        Err(StoreError::Unavailable(_))
    ));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    cluster.start_server();
    // Every connection thread finds its connection gone and makes a new one.
    for _ in 0..8 {
        assert_eq!(
            &store.get(&id("app", "before")).unwrap().unwrap().material[..],
            b"m"
        );
    }
    store.create(&id("app", "after"), &record(b"m")).unwrap();
    let names: Vec<String> = store
        .list(1, "app")
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, ["after", "before"]);
}

#[test]
fn calls_beyond_the_connections_wait_a_bounded_time() {
    let cluster = Cluster::start();
    let url = cluster.create_db("busy");
    let store = Arc::new(
        PostgresStore::open(
            PostgresOptions {
                connections: 1,
                wait: Duration::from_millis(300),
                ..options(url)
            },
            master(1),
        )
        .unwrap(),
    );
    store.create(&id("app", "k"), &record(b"m")).unwrap();
    // Another session holds the row lock that the store's one connection then waits on.
    let mut holder = cluster.client("busy");
    let mut tx = holder.transaction().unwrap();
    tx.execute("SELECT 1 FROM parsec_keys WHERE name = 'k' FOR UPDATE", &[])
        .unwrap();
    let blocked = {
        let store = store.clone();
        std::thread::spawn(move || store.delete(&id("app", "k")))
    };
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let err = store.get(&id("app", "k")).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
    tx.rollback().unwrap();
    assert!(blocked.join().unwrap().unwrap());
    assert!(store.get(&id("app", "k")).unwrap().is_none());
}

#[test]
fn the_first_write_after_a_server_restart_is_not_lost_to_a_stale_connection() {
    let mut cluster = Cluster::start();
    let url = cluster.create_db("stale");
    let store = one_connection(url);
    store.create(&id("app", "k1"), &record(b"m")).unwrap();
    cluster.stop_server();
    cluster.start_server();
    // The one connection is stale; a connection idle for a while is checked before a write.
    std::thread::sleep(Duration::from_millis(1200));
    store.create(&id("app", "k2"), &record(b"m")).unwrap();
    assert!(store.delete(&id("app", "k1")).unwrap());
}

#[test]
fn a_row_not_as_expected_fails_its_call_and_the_connection_thread_goes_on() {
    let cluster = Cluster::start();
    let url = cluster.create_db("odd");
    let store = one_connection(url);
    store.create(&id("app", "k"), &record(b"m")).unwrap();
    store.create(&id("app", "fine"), &record(b"m")).unwrap();
    let mut db = cluster.client("odd");
    db.batch_execute(
        "ALTER TABLE parsec_keys ALTER COLUMN attributes DROP NOT NULL;
         UPDATE parsec_keys SET attributes = NULL WHERE name = 'k'",
    )
    .unwrap();
    assert!(store.get(&id("app", "k")).is_err());
    // The one connection thread still serves.
    assert!(store.get(&id("app", "fine")).unwrap().is_some());
}

#[test]
fn names_with_nul_are_never_sent_to_the_database() {
    let cluster = Cluster::start();
    let store = PostgresStore::open(options(cluster.create_db("nul")), master(1)).unwrap();
    let odd = id("app", "a\0b");
    assert!(matches!(
        store.create(&odd, &record(b"m")),
        Err(StoreError::Database(_))
    ));
    assert!(store.get(&odd).unwrap().is_none());
    assert!(!store.delete(&odd).unwrap());
    assert!(store.list(1, "a\0").unwrap().is_empty());
    assert_eq!(store.delete_client(1, "a\0").unwrap(), 0);
}
