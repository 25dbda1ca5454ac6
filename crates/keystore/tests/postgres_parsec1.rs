//! The Parsec.1 state in PostgreSQL against a real server (see `pg/mod.rs`): the contract
//! every state keeps, and what several nodes sharing it need.

// Shared with the key store tests; not every helper is used here.
#[allow(dead_code)]
mod pg;

use std::sync::Arc;
use std::time::Duration;

use parsec1::server::conformance;
use parsec1::server::{LiveState, NonceRefused, Remembered, SessionStore, StoreError};
use parsec_keystore::{MasterKey, PostgresOptions, PostgresParsec1};
use pg::Cluster;
use zeroize::Zeroizing;

fn node(url: &str, master: u8) -> PostgresParsec1 {
    let options = PostgresOptions {
        url: url.to_string(),
        password: Some(Zeroizing::new(pg::PASSWORD.to_string())),
        connections: 2,
        wait: Duration::from_secs(2),
    };
    PostgresParsec1::open(options, MasterKey::from_bytes(&[master; 32]).unwrap()).unwrap()
}

#[test]
fn the_postgres_state_keeps_the_contract_of_every_state() {
    let cluster = Cluster::start();
    let state = node(&cluster.create_db("contract"), 1);
    conformance::live_state(&state, &state);
    // Opening again (a second node, a restart) finds the schema made.
    let again = node(&cluster.url("contract"), 1);
    assert!(again.tsk("conformance-s").unwrap().is_none());
}

#[test]
fn two_nodes_share_sessions_tsks_and_replay_sets() {
    let cluster = Cluster::start();
    let url = cluster.create_db("nodes");
    let (a, b) = (node(&url, 1), node(&url, 1));
    let session = conformance::session(&a, "shared", 1000);
    assert_eq!(b.get("shared", 10).unwrap(), Some(session));

    // A TSK made through A is read, unsealed, by B.
    let keys = conformance::keys(false);
    assert!(a.set_tsk("shared", keys.clone(), 500, 1000).unwrap());
    let on_b = b.tsk("shared").unwrap().expect("B sees it");
    assert_eq!(on_b.keys.tsk.as_bytes(), keys.tsk.as_bytes());
    assert_eq!(on_b.keys.id, keys.id);
    assert_eq!((on_b.tsk_expires_at, on_b.session_expires_at), (500, 1000));

    // A message read through A is a replay at B, by its IV or by its tag.
    let remember = |s: &PostgresParsec1, iv, tag| s.remember("shared", &keys, iv, tag, 100);
    assert_eq!(remember(&a, [1; 16], [2; 16]).unwrap(), Remembered::Fresh);
    assert_eq!(
        remember(&b, [1; 16], [2; 16]).unwrap(),
        Remembered::Replayed
    );
    assert_eq!(
        remember(&b, [9; 16], [2; 16]).unwrap(),
        Remembered::Replayed
    );
    assert_eq!(remember(&b, [3; 16], [4; 16]).unwrap(), Remembered::Fresh);

    // Many messages at once through both nodes: each is taken exactly once.
    let (a, b) = (Arc::new(a), Arc::new(b));
    let fresh: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u8)
            .map(|t| {
                let node = if t % 2 == 0 { a.clone() } else { b.clone() };
                let keys = keys.clone();
                s.spawn(move || {
                    (0..20u8)
                        .filter(|i| {
                            // Every message is sent twice, through two threads; none
                            // shares an IV or tag with the four above.
                            let m = (t / 2) * 20 + i;
                            let (mut iv, mut tag) = ([m; 16], [m; 16]);
                            (iv[15], tag[15]) = (0xee, 0xdd);
                            node.remember("shared", &keys, iv, tag, 1000).unwrap()
                                == Remembered::Fresh
                        })
                        .count()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(fresh, 80, "each of the 80 messages once, of 160 sent");
    // Entries held: 2 + 0 + 1 (the new IV of the replay by tag) + 2 above, and 2 per message.
    assert_eq!(a.tsk("shared").unwrap().unwrap().seen, 5 + 160);

    // A createTSK nonce used through A is refused through B.
    assert_eq!(a.use_nonce("shared", b"n", 500, 10).unwrap(), Ok(()));
    assert_eq!(
        b.use_nonce("shared", b"n", 500, 10).unwrap(),
        Err(NonceRefused::Replayed)
    );

    // Destroyed through B: gone for A, with its TSK and nonces; a TSK cannot be set on it.
    assert!(b.delete("shared").unwrap());
    assert!(a.tsk("shared").unwrap().is_none());
    assert_eq!(
        remember(&a, [5; 16], [5; 16]).unwrap(),
        Remembered::Gone,
        "the node's unsealed copy is not used once the row is gone"
    );
    assert!(!a.set_tsk("shared", keys.clone(), 500, 1000).unwrap());
    assert_eq!(
        a.use_nonce("shared", b"m", 500, 10).unwrap(),
        Err(NonceRefused::NoSession)
    );
}

#[test]
fn tsks_are_sealed_and_odd_ids_are_harmless() {
    let cluster = Cluster::start();
    let url = cluster.create_db("sealed");
    let a = node(&url, 1);
    conformance::session(&a, "s1", 1000);
    conformance::session(&a, "s2", 1000);
    let keys = conformance::keys(false);
    assert!(a.set_tsk("s1", keys.clone(), 500, 1000).unwrap());
    let mut db = cluster.client("sealed");
    let sealed: Vec<u8> = db
        .query_one(
            "SELECT sealed FROM parsec1_tsks WHERE session_id = 's1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        !sealed.windows(32).any(|w| w == keys.tsk.as_bytes()),
        "the TSK is not stored in the clear"
    );
    // A node with another master key cannot use it, and says why.
    let other = node(&url, 2);
    let e = other.tsk("s1").unwrap_err();
    assert!(e.to_string().contains("master key"), "{e}");
    // A sealed TSK moved to another session does not open there (its session is bound).
    db.execute(
        "INSERT INTO parsec1_tsks (session_id, tsk_id, sealed, expires_at)
         SELECT 's2', '\\x00112233445566778899aabbccddeeff'::bytea, sealed, expires_at
         FROM parsec1_tsks WHERE session_id = 's1'",
        &[],
    )
    .unwrap();
    assert!(node(&url, 1).tsk("s2").is_err());
    // Ids with NUL never reach the database; they are simply unknown.
    let odd = "a\0b";
    assert!(a.tsk(odd).unwrap().is_none());
    assert!(a.get(odd, 0).unwrap().is_none());
    assert!(!a.delete(odd).unwrap());
    assert!(!a.drop_tsk(odd).unwrap());
    assert_eq!(
        a.remember(odd, &keys, [0; 16], [0; 16], 10).unwrap(),
        Remembered::Gone
    );
}

#[test]
fn calls_fail_as_unavailable_while_the_server_is_down_and_recover_after() {
    let mut cluster = Cluster::start();
    let url = cluster.create_db("down");
    let a = node(&url, 1);
    conformance::session(&a, "s", 1000);
    cluster.stop_server();
    let e = a.tsk("s").unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    let e = a.get("s", 0).unwrap_err();
    assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
    cluster.start_server();
    let keys = conformance::keys(false);
    assert!(a.set_tsk("s", keys, 500, 1000).unwrap());
    assert!(a.get("s", 0).unwrap().is_some());
}

/// Two nodes making a TSK for one session at the same time take turns: both succeed, and the
/// session ends with one of the two.
#[test]
fn concurrent_tsks_for_one_session_from_two_nodes_take_turns() {
    let cluster = Cluster::start();
    let url = cluster.create_db("turns");
    let (a, b) = (node(&url, 1), node(&url, 1));
    conformance::session(&a, "s", 1000);
    for _ in 0..20 {
        let (ka, kb) = (conformance::keys(false), conformance::keys(false));
        let (ra, rb) = std::thread::scope(|s| {
            let ta = s.spawn(|| a.set_tsk("s", ka.clone(), 500, 1000));
            let tb = s.spawn(|| b.set_tsk("s", kb.clone(), 500, 1000));
            (ta.join().unwrap(), tb.join().unwrap())
        });
        assert!(ra.unwrap() && rb.unwrap());
        let live = a.tsk("s").unwrap().unwrap().keys.id;
        assert!(live == ka.id || live == kb.id);
        assert_eq!(b.tsk("s").unwrap().unwrap().keys.id, live);
    }
}
