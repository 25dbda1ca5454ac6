//! The server driven by the client state machines, in memory.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use parsec_boss::{Time, Value};

use super::*;
use crate::client::{self, ClientError, Registered, Tsk};
use crate::{pow, SignedRecord};

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
const T0: u64 = 1_800_000_000;

fn key(i: usize) -> PrivateKey {
    static KEYS: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..4)
            .map(|_| PrivateKey::generate(2048).unwrap())
            .collect()
    })[i]
        .clone()
}

fn empty() -> Value {
    Value::dict::<&str>([])
}

fn settings() -> Settings {
    Settings {
        pow_length: 10,
        test_pow_length: 4,
        tsk_lifetime: 600,
        test_tsk_lifetime: 60,
        session_lifetime: 3600,
        max_sessions_per_key: 2,
        guest_rate: 0,
        ..Settings::default()
    }
}

fn server_with(settings: Settings) -> Server<MemorySessions> {
    let mut commands = Commands::new();
    #[derive(serde::Deserialize)]
    struct Add {
        a: i64,
        b: i64,
    }
    commands.register("add", |_caller, args: Add| Ok(args.a + args.b));
    commands.register("whoami", |caller, _: Value| {
        assert_eq!(caller.address.to_string(), caller.address_text);
        Ok(caller.address_text.to_string())
    });
    commands.register("fail", |_caller, _: Value| -> Result<(), _> {
        Err(RemoteError::new("app_failure", "as asked"))
    });
    Server::new(settings, key(0), MemorySessions::new(), commands).unwrap()
}

fn at(now: u64) -> RequestInfo {
    RequestInfo {
        peer: PEER,
        now,
        now_ms: now * 1000,
    }
}

fn register<S: SessionStore>(server: &Server<S>, sck: PrivateKey, test: bool) -> Registered {
    let (state, call) = client::register(sck, test).unwrap();
    let (state, call) = state.receive(&server.handle(&call, at(T0))).unwrap();
    state.receive(&server.handle(&call, at(T0))).unwrap()
}

fn tsk<S: SessionStore>(server: &Server<S>, r: &Registered, now: u64) -> Result<Tsk, ClientError> {
    let trusted = [server.service_address().clone()];
    let (state, call) = client::create_tsk(&r.sck, &r.session_id, &trusted)?;
    state.receive(&server.handle(&call, at(now)))
}

fn call<S: SessionStore>(
    server: &Server<S>,
    r: &Registered,
    tsk: &Tsk,
    cmd: &str,
    args: Value,
    now: u64,
) -> Result<Result<Value, RemoteError>, ClientError> {
    let call = client::seal(&tsk.key, &r.session_id, cmd, args).unwrap();
    client::open(&tsk.key, &server.handle(&call, at(now)))
}

fn session_info<S: SessionStore>(server: &Server<S>, r: &Registered, t: &Tsk) -> Value {
    call(server, r, t, "getSessionInfo", empty(), T0)
        .unwrap()
        .unwrap()
}

fn remote(e: ClientError) -> RemoteError {
    match e {
        ClientError::Remote(e) => e,
        other => panic!("expected a remote error, got {other:?}"),
    }
}

#[test]
fn handshake_then_commands_with_typed_arguments() {
    let server = server_with(settings());
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    assert_eq!(&t.service_address, server.service_address());
    assert_eq!(t.expires_at, Time(T0 + 600));

    let sum = call(
        &server,
        &r,
        &t,
        "add",
        Value::dict([("a", Value::Int(2)), ("b", Value::Int(40))]),
        T0,
    );
    assert_eq!(sum.unwrap().unwrap(), Value::Int(42));
    let me = call(&server, &r, &t, "whoami", empty(), T0)
        .unwrap()
        .unwrap();
    let sck_address = key(1).public_key().long_address().unwrap();
    assert_eq!(me.as_str(), Some(sck_address.to_string().as_str()));

    let info = session_info(&server, &r, &t);
    assert_eq!(info.get("isTest"), Some(&Value::Bool(false)));
    assert_eq!(
        info.get("expiresAt").and_then(Value::as_time),
        Some(Time(T0 + 3600))
    );
}

#[test]
fn application_errors_and_bad_arguments_reach_the_caller() {
    let server = server_with(settings());
    let r = register(&server, key(1), true);
    let t = tsk(&server, &r, T0).unwrap();
    let e = call(&server, &r, &t, "fail", empty(), T0)
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.text.as_str()),
        ("app_failure", "as asked")
    );
    let e = call(
        &server,
        &r,
        &t,
        "add",
        Value::dict([("a", Value::Text("x".into()))]),
        T0,
    )
    .unwrap()
    .unwrap_err();
    assert_eq!(e.code, codes::BAD_ARGUMENTS);
    assert!(!e.text.is_empty());
    let e = call(&server, &r, &t, "nope", empty(), T0)
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, codes::UNKNOWN_COMMAND);
}

#[test]
fn test_mode_uses_its_own_pow_and_tsk_lifetime() {
    let server = server_with(settings());
    let (_, request) = client::register(key(2), true).unwrap();
    let answer = message::decode_answer(&server.handle(&request, at(T0)))
        .unwrap()
        .unwrap();
    assert_eq!(
        answer.get("POWTask").unwrap().get("length"),
        Some(&Value::Int(4))
    );
    let r = register(&server, key(2), true);
    let t = tsk(&server, &r, T0).unwrap();
    assert_eq!(t.expires_at, Time(T0 + 60));
    let info = session_info(&server, &r, &t);
    assert_eq!(info.get("isTest"), Some(&Value::Bool(true)));
}

#[test]
fn tampered_ciphertext_is_an_hmac_error_clients_recover_from() {
    let server = server_with(settings());
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    let params = t
        .key
        .encrypt(&message::encode_call("add", empty()))
        .unwrap();
    // Bytes of the ciphertext and of the tag (the tag does not cover the IV, spec §4.7).
    for i in [16, 20, params.len() - 1] {
        let mut bad = params.clone();
        bad[i] ^= 1;
        let call = message::encode_call(
            "cmd",
            Value::dict([
                ("authToken", Value::Text(r.session_id.clone())),
                ("params", Value::Bin(bad)),
            ]),
        );
        let e = client::open(&t.key, &server.handle(&call, at(T0))).unwrap_err();
        assert!(e.needs_new_tsk(), "byte {i}: {e:?}");
        let e = remote(e);
        assert_eq!(e.code, codes::UNKNOWN_EXCEPTION);
        assert!(e.text.contains("HMAC"));
    }
}

#[test]
fn a_replayed_message_is_refused_and_new_ones_still_pass() {
    let server = server_with(settings());
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    let args = Value::dict([("a", Value::Int(1)), ("b", Value::Int(1))]);
    let sealed = client::seal(&t.key, &r.session_id, "add", args.clone()).unwrap();
    assert_eq!(
        client::open(&t.key, &server.handle(&sealed, at(T0))).unwrap(),
        Ok(Value::Int(2))
    );
    let e = remote(client::open(&t.key, &server.handle(&sealed, at(T0))).unwrap_err());
    assert_eq!(e.code, codes::REPLAYED_MESSAGE);
    assert_eq!(
        call(&server, &r, &t, "add", args, T0).unwrap(),
        Ok(Value::Int(2))
    );

    // The same ciphertext and tag under another IV authenticates (the tag skips the IV) but
    // is still a replay.
    let mut outer = parsec_boss::decode(&sealed).unwrap();
    let mut params = outer
        .get("args")
        .unwrap()
        .get("params")
        .unwrap()
        .as_bytes()
        .unwrap()
        .to_vec();
    params[3] ^= 0x80;
    let Value::Dict(entries) = &mut outer else {
        unreachable!()
    };
    entries[1].1 = Value::dict([
        ("authToken", Value::Text(r.session_id.clone())),
        ("params", Value::Bin(params.clone())),
    ]);
    let moved = parsec_boss::encode(&outer).unwrap();
    let e = remote(client::open(&t.key, &server.handle(&moved, at(T0))).unwrap_err());
    assert_eq!(e.code, codes::REPLAYED_MESSAGE);
}

#[test]
fn replay_set_is_bounded_by_renewing_the_tsk() {
    let server = server_with(Settings {
        max_messages_per_tsk: 3,
        ..settings()
    });
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    for _ in 0..3 {
        call(&server, &r, &t, "whoami", empty(), T0)
            .unwrap()
            .unwrap();
    }
    let e = call(&server, &r, &t, "whoami", empty(), T0).unwrap_err();
    assert_eq!(remote(e).code, codes::MISSING_TSK);
    let t2 = tsk(&server, &r, T0).unwrap();
    call(&server, &r, &t2, "whoami", empty(), T0)
        .unwrap()
        .unwrap();
}

#[test]
fn expiry_of_tsk_then_of_session() {
    let server = server_with(settings());
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    let e = call(&server, &r, &t, "whoami", empty(), T0 + 600).unwrap_err();
    assert!(e.needs_new_tsk());
    assert_eq!(remote(e).code, codes::MISSING_TSK);
    let t = tsk(&server, &r, T0 + 601).unwrap();
    assert_eq!(t.expires_at, Time(T0 + 1201));
    // A TSK never outlives its session.
    let late = tsk(&server, &r, T0 + 3500).unwrap();
    assert_eq!(late.expires_at, Time(T0 + 3600));
    let e = call(&server, &r, &late, "whoami", empty(), T0 + 3600).unwrap_err();
    assert_eq!(remote(e).code, codes::SESSION_NOT_FOUND);
    let e = tsk(&server, &r, T0 + 3600).unwrap_err();
    assert_eq!(remote(e).code, codes::SESSION_NOT_FOUND);
    assert_eq!(server.purge(T0 + 3600).unwrap(), 1);
}

#[test]
fn dropped_tsk_and_unknown_session() {
    let server = server_with(settings());
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    assert!(server.drop_tsk(&r.session_id).unwrap());
    let e = call(&server, &r, &t, "whoami", empty(), T0).unwrap_err();
    assert_eq!(remote(e).code, codes::MISSING_TSK);
    let ghost = Registered {
        sck: key(1),
        session_id: "no-such-session".into(),
    };
    let e = call(&server, &ghost, &t, "whoami", empty(), T0).unwrap_err();
    assert_eq!(remote(e).code, codes::SESSION_NOT_FOUND);
    let e = tsk(&server, &ghost, T0).unwrap_err();
    assert_eq!(remote(e).code, codes::SESSION_NOT_FOUND);
}

#[test]
fn destroyed_session_is_gone() {
    let server = server_with(settings());
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    assert_eq!(
        call(&server, &r, &t, "destroySession", empty(), T0).unwrap(),
        Ok(empty())
    );
    let e = call(&server, &r, &t, "getSessionInfo", empty(), T0).unwrap_err();
    assert_eq!(remote(e).code, codes::SESSION_NOT_FOUND);
}

#[test]
fn logout_drops_the_tsk_and_the_session_goes_on_with_a_new_one() {
    let server = server_with(settings());
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    assert_eq!(
        call(&server, &r, &t, "logout", empty(), T0).unwrap(),
        Ok(empty())
    );
    let e = call(&server, &r, &t, "whoami", empty(), T0).unwrap_err();
    assert_eq!(remote(e).code, codes::MISSING_TSK);
    // The session itself is kept: a new TSK serves it.
    let t2 = tsk(&server, &r, T0).unwrap();
    assert!(call(&server, &r, &t2, "whoami", empty(), T0)
        .unwrap()
        .is_ok());
}

#[test]
fn session_drop_tsk_is_for_test_sessions_only() {
    let server = server_with(settings());
    let live = register(&server, key(1), false);
    let t = tsk(&server, &live, T0).unwrap();
    let refused = call(&server, &live, &t, "sessionDropTSK", empty(), T0).unwrap();
    assert_eq!(refused.unwrap_err().code, codes::UNKNOWN_COMMAND);
    assert!(call(&server, &live, &t, "whoami", empty(), T0)
        .unwrap()
        .is_ok());

    let test = register(&server, key(2), true);
    let t = tsk(&server, &test, T0).unwrap();
    assert_eq!(
        call(&server, &test, &t, "sessionDropTSK", empty(), T0).unwrap(),
        Ok(empty())
    );
    let e = call(&server, &test, &t, "whoami", empty(), T0).unwrap_err();
    assert_eq!(remote(e).code, codes::MISSING_TSK);
}

mod guest;

/// Two nodes of one service: the same service key, one session store and one live state
/// shared. A session registered on one goes on at the other, and a message already answered
/// by one is refused by the other.
#[test]
fn two_nodes_sharing_their_state_serve_one_session_and_refuse_replays_across() {
    use std::sync::Arc;
    let sessions = Arc::new(MemorySessions::new());
    let state = Arc::new(MemoryState::default());
    let node = || {
        let mut commands = Commands::new();
        commands.register("echo", |_caller, v: Value| Ok(v.get("v").cloned()));
        let mut server = Server::new(settings(), key(0), sessions.clone(), commands).unwrap();
        server.set_live_state(Box::new(state.clone()));
        server
    };
    let (a, b) = (node(), node());
    let r = register(&a, key(1), false);
    let t = tsk(&a, &r, T0).unwrap();
    assert_eq!(
        call(&b, &r, &t, "echo", Value::dict([("v", Value::Int(7))]), T0).unwrap(),
        Ok(Value::Int(7))
    );
    let eight = Value::dict([("v", Value::Int(8))]);
    let sealed = client::seal(&t.key, &r.session_id, "echo", eight).unwrap();
    assert_eq!(
        client::open(&t.key, &a.handle(&sealed, at(T0))).unwrap(),
        Ok(Value::Int(8))
    );
    let e = remote(client::open(&t.key, &b.handle(&sealed, at(T0))).unwrap_err());
    assert_eq!(e.code, codes::REPLAYED_MESSAGE);
    // A TSK dropped on one node is gone on the other.
    assert!(b.drop_tsk(&r.session_id).unwrap());
    let nine = Value::dict([("v", Value::Int(9))]);
    let e = remote(call(&a, &r, &t, "echo", nine, T0).unwrap_err());
    assert_eq!(e.code, codes::MISSING_TSK);
}

/// A state that cannot be reached: every request that needs it fails at once with
/// `parsec_unavailable` (nothing done), another failure with an internal error; neither says
/// where the store is.
#[test]
fn a_state_store_failure_answers_without_its_details() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// The in-memory state, failing every call while `down`.
    struct Flaky {
        inner: MemoryState,
        down: AtomicBool,
        lost: AtomicBool,
    }
    impl Flaky {
        fn check(&self) -> Result<(), StoreError> {
            if self.lost.load(Ordering::SeqCst) {
                return Err(StoreError::Backend("commit lost on db.internal".into()));
            }
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable(
                    "PostgreSQL database p on db.internal".into(),
                ));
            }
            Ok(())
        }
    }
    impl LiveState for Flaky {
        fn add_pending(
            &self,
            context: [u8; 16],
            pending: Pending,
            limits: PendingLimits,
            now: u64,
        ) -> Result<Result<(), Full>, StoreError> {
            self.check()?;
            self.inner.add_pending(context, pending, limits, now)
        }
        fn take_pending(&self, context: &[u8; 16]) -> Result<Option<Pending>, StoreError> {
            self.check()?;
            self.inner.take_pending(context)
        }
        fn use_nonce(
            &self,
            session_id: &str,
            nonce: &[u8],
            expires_at: u64,
            now: u64,
        ) -> Result<Result<(), NonceRefused>, StoreError> {
            self.check()?;
            self.inner.use_nonce(session_id, nonce, expires_at, now)
        }
        fn set_tsk(
            &self,
            session_id: &str,
            keys: Arc<LiveKeys>,
            tsk_expires_at: u64,
            session_expires_at: u64,
        ) -> Result<bool, StoreError> {
            self.check()?;
            self.inner
                .set_tsk(session_id, keys, tsk_expires_at, session_expires_at)
        }
        fn tsk(&self, session_id: &str) -> Result<Option<LiveTsk>, StoreError> {
            self.check()?;
            self.inner.tsk(session_id)
        }
        fn remember(
            &self,
            session_id: &str,
            keys: &LiveKeys,
            iv: [u8; 16],
            tag: [u8; 16],
            max_seen: usize,
        ) -> Result<Remembered, StoreError> {
            self.check()?;
            self.inner.remember(session_id, keys, iv, tag, max_seen)
        }
        fn drop_tsk(&self, session_id: &str) -> Result<bool, StoreError> {
            self.check()?;
            self.inner.drop_tsk(session_id)
        }
        fn drop_tsk_if(&self, session_id: &str, keys: &LiveKeys) -> Result<bool, StoreError> {
            self.check()?;
            self.inner.drop_tsk_if(session_id, keys)
        }
        fn forget_session(&self, session_id: &str) -> Result<(), StoreError> {
            self.check()?;
            self.inner.forget_session(session_id)
        }
        fn purge(&self, now: u64) -> Result<(), StoreError> {
            self.check()?;
            self.inner.purge(now)
        }
    }

    let state = Arc::new(Flaky {
        inner: MemoryState::default(),
        down: AtomicBool::new(false),
        lost: AtomicBool::new(false),
    });
    let mut server = server_with(settings());
    server.set_live_state(Box::new(state.clone()));
    let r = register(&server, key(1), false);
    let t = tsk(&server, &r, T0).unwrap();
    state.down.store(true, Ordering::SeqCst);
    let e = remote(call(&server, &r, &t, "whoami", empty(), T0).unwrap_err());
    assert_eq!(e.code, codes::UNAVAILABLE);
    assert!(!e.text.contains("db.internal"), "{}", e.text);
    let e = tsk(&server, &r, T0).unwrap_err();
    assert_eq!(remote(e).code, codes::UNAVAILABLE);
    state.down.store(false, Ordering::SeqCst);
    state.lost.store(true, Ordering::SeqCst);
    let e = remote(call(&server, &r, &t, "whoami", empty(), T0).unwrap_err());
    assert_eq!(e.code, codes::INTERNAL);
    assert!(!e.text.contains("db.internal"), "{}", e.text);
    state.lost.store(false, Ordering::SeqCst);
    call(&server, &r, &t, "whoami", empty(), T0)
        .unwrap()
        .unwrap();
}
