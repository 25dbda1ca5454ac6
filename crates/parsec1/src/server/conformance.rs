//! What every [`LiveState`] must do, as one check that implementations run in their tests
//! (the in-memory state here, the database ones in the storage crate). It panics on the first
//! difference.

use std::net::IpAddr;
use std::sync::Arc;

use super::pending::{Full, NonceRefused, Pending, MAX_NONCES_PER_SESSION};
use super::sessions::{Limits, Session, SessionStore};
use super::state::{LiveKeys, LiveState, PendingLimits, Remembered};
use crate::{KeyAddress, PrivateKey, SymmetricKey};

fn key() -> PrivateKey {
    static KEY: std::sync::OnceLock<PrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(2048).expect("a key"))
        .clone()
}

fn address() -> KeyAddress {
    key().public_key().long_address().expect("an address")
}

/// A session `id` in `sessions`, live until `expires_at`.
pub fn session(sessions: &dyn SessionStore, id: &str, expires_at: u64) -> Session {
    let session = Session {
        id: id.to_string(),
        key: key().public_key().clone(),
        address: address(),
        test: true,
        created_at: 0,
        expires_at,
    };
    let room = Limits {
        per_key: usize::MAX,
        total: usize::MAX,
    };
    sessions.create(&session, room, 0).expect("a session");
    session
}

/// New TSK keys for a session, with a random id.
pub fn keys(test: bool) -> Arc<LiveKeys> {
    let address = address();
    let mut id = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut id);
    Arc::new(LiveKeys {
        id,
        tsk: SymmetricKey::random().expect("a TSK"),
        address_text: address.to_string(),
        address,
        test,
    })
}

fn pending(peer: &str, expires_at: u64) -> Pending {
    let peer: IpAddr = peer.parse().expect("an address");
    Pending::new(address(), [7; 32], 12, true, expires_at, peer)
}

fn ctx(i: u32) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[..4].copy_from_slice(&i.to_le_bytes());
    c
}

/// Checks `state`, whose sessions are kept by `sessions` (a state in a database may tie its
/// rows to theirs). Session ids used: `conformance-*`.
pub fn live_state(state: &dyn LiveState, sessions: &dyn SessionStore) {
    pending_contexts(state);
    nonces(state, sessions);
    tsks_and_replays(state, sessions);
}

fn pending_contexts(state: &dyn LiveState) {
    let limits = PendingLimits {
        total: 6,
        per_client: 2,
    };
    let add = |i, peer, expires_at, now| {
        state
            .add_pending(ctx(i), pending(peer, expires_at), limits, now)
            .expect("the state answers")
    };
    assert_eq!(add(1, "192.0.2.1", 100, 0), Ok(()));
    assert_eq!(add(2, "192.0.2.1", 100, 0), Ok(()));
    assert_eq!(add(3, "192.0.2.1", 100, 0), Err(Full::Client));
    // An IPv6 /64 is one client.
    assert_eq!(add(4, "2001:db8::1", 100, 0), Ok(()));
    assert_eq!(add(5, "2001:db8::2", 100, 0), Ok(()));
    assert_eq!(add(6, "2001:db8::3", 100, 0), Err(Full::Client));
    assert_eq!(add(7, "192.0.2.2", 100, 0), Ok(()));
    assert_eq!(add(8, "192.0.2.3", 50, 0), Ok(()));
    assert_eq!(add(9, "192.0.2.4", 100, 0), Err(Full::Total));
    // Taken once, with what was kept.
    let taken = state.take_pending(&ctx(1)).expect("answers").expect("kept");
    assert_eq!(
        (
            taken.address,
            taken.source,
            taken.length,
            taken.test,
            taken.expires_at
        ),
        (address(), [7; 32], 12, true, 100)
    );
    assert_eq!(
        taken.client,
        "192.0.2.1".parse::<IpAddr>().expect("an address")
    );
    assert!(
        state.take_pending(&ctx(1)).expect("answers").is_none(),
        "single use"
    );
    assert!(
        state.take_pending(&ctx(3)).expect("answers").is_none(),
        "never kept"
    );
    // Its client has room again; an expired context makes room for everyone.
    assert_eq!(add(10, "192.0.2.1", 100, 0), Ok(()));
    assert_eq!(add(11, "192.0.2.5", 100, 60), Ok(()));
    assert!(
        state.take_pending(&ctx(8)).expect("answers").is_none(),
        "expired, purged"
    );
    state.purge(100).expect("answers");
    for i in [2, 4, 5, 7, 10, 11] {
        assert!(
            state.take_pending(&ctx(i)).expect("answers").is_none(),
            "{i} expired"
        );
    }
}

fn nonces(state: &dyn LiveState, sessions: &dyn SessionStore) {
    session(sessions, "conformance-n", 10_000);
    session(sessions, "conformance-m", 10_000);
    let used = |s, n: &[u8], until, now| state.use_nonce(s, n, until, now).expect("answers");
    assert_eq!(used("conformance-n", b"nonce", 100, 0), Ok(()));
    assert_eq!(
        used("conformance-n", b"nonce", 100, 50),
        Err(NonceRefused::Replayed)
    );
    assert_eq!(
        used("conformance-m", b"nonce", 100, 50),
        Ok(()),
        "another session's"
    );
    // Remembered while the TSK it made lives.
    assert_eq!(used("conformance-n", b"nonce", 200, 100), Ok(()));
    for i in 1..MAX_NONCES_PER_SESSION {
        assert_eq!(used("conformance-n", &i.to_le_bytes(), 200, 100), Ok(()));
    }
    assert_eq!(
        used("conformance-n", b"more", 200, 100),
        Err(NonceRefused::TooMany)
    );
    state.forget_session("conformance-n").expect("answers");
    assert_eq!(
        used("conformance-n", b"nonce", 200, 100),
        Ok(()),
        "forgotten"
    );
    state.purge(200).expect("answers");
    assert_eq!(used("conformance-m", b"nonce", 300, 200), Ok(()), "expired");
    sessions.delete("conformance-n").expect("answers");
    sessions.delete("conformance-m").expect("answers");
}

fn tsks_and_replays(state: &dyn LiveState, sessions: &dyn SessionStore) {
    session(sessions, "conformance-s", 1000);
    let (first, second) = (keys(true), keys(true));
    assert!(state.tsk("conformance-s").expect("answers").is_none());
    assert!(state
        .set_tsk("conformance-s", first.clone(), 100, 1000)
        .expect("answers"));
    let live = state.tsk("conformance-s").expect("answers").expect("set");
    assert_eq!(live.keys.id, first.id);
    assert_eq!(live.keys.tsk.as_bytes(), first.tsk.as_bytes());
    assert_eq!(
        (live.keys.address.clone(), live.keys.test),
        (address(), true)
    );
    assert_eq!(live.keys.address_text, address().to_string());
    assert_eq!(
        (live.tsk_expires_at, live.session_expires_at, live.seen),
        (100, 1000, 0)
    );

    let remember = |keys: &LiveKeys, iv, tag, max| {
        state
            .remember("conformance-s", keys, iv, tag, max)
            .expect("answers")
    };
    assert_eq!(remember(&first, [1; 16], [2; 16], 100), Remembered::Fresh);
    assert_eq!(
        remember(&first, [1; 16], [3; 16], 100),
        Remembered::Replayed,
        "same IV"
    );
    assert_eq!(
        remember(&first, [4; 16], [2; 16], 100),
        Remembered::Replayed,
        "same tag"
    );
    assert_eq!(
        state
            .tsk("conformance-s")
            .expect("answers")
            .expect("set")
            .seen,
        4
    );
    assert_eq!(remember(&first, [5; 16], [5; 16], 5), Remembered::Full);
    // A new TSK starts an empty set; messages of the old one are not counted against it.
    assert!(state
        .set_tsk("conformance-s", second.clone(), 100, 1000)
        .expect("answers"));
    assert_eq!(remember(&first, [6; 16], [6; 16], 100), Remembered::Gone);
    assert_eq!(remember(&second, [1; 16], [2; 16], 100), Remembered::Fresh);
    assert_eq!(
        state
            .tsk("conformance-s")
            .expect("answers")
            .expect("set")
            .seen,
        2
    );
    // A TSK replaced meanwhile is not dropped in place of the new one.
    assert!(!state.drop_tsk_if("conformance-s", &first).expect("answers"));
    assert!(state.tsk("conformance-s").expect("answers").is_some());
    // Expiry: of the TSK, then of the session.
    state.purge(99).expect("answers");
    assert!(state.tsk("conformance-s").expect("answers").is_some());
    state.purge(100).expect("answers");
    assert!(state.tsk("conformance-s").expect("answers").is_none());
    assert_eq!(remember(&second, [7; 16], [7; 16], 100), Remembered::Gone);
    let third = keys(true);
    assert!(state
        .set_tsk("conformance-s", third.clone(), 2000, 1000)
        .expect("answers"));
    state.purge(1000).expect("answers");
    assert!(
        state.tsk("conformance-s").expect("answers").is_none(),
        "the session expired"
    );
    // Dropping.
    assert!(state
        .set_tsk("conformance-s", third.clone(), 100, 1000)
        .expect("answers"));
    assert!(state.drop_tsk_if("conformance-s", &third).expect("answers"));
    assert!(!state.drop_tsk("conformance-s").expect("answers"));
    assert!(state
        .set_tsk("conformance-s", third, 100, 1000)
        .expect("answers"));
    assert!(state.drop_tsk("conformance-s").expect("answers"));
    assert!(state.tsk("conformance-s").expect("answers").is_none());
    sessions.delete("conformance-s").expect("answers");
}
