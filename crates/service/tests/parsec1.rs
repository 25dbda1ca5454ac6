//! The Parsec.1 front, end to end: the real daemon, our Rust client and an independent Node
//! client on npm `unicrypto`.
//!
//! The Node test needs `node` and `PARSEC_NODE_MODULES` (a node_modules holding unicrypto);
//! `./test.sh` installs both. Without them it fails and says so: it is never skipped.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::backends::Kind;
use common::p1::{start, start_at, start_with, P1};
use parsec1::message::codes;
use parsec1::{KeyAddress, PrivateKey};
use parsec_boss::Value;
use parsec_psa::ops;
use parsec_psa::{AsymmetricSignature, Hash, OpResult, Operation, SignHash};
use parsec_rs_client::parsec1::{
    decode_sck, decode_tsk, Error, FileStorage, FixedServiceKeys, HttpTransport, MemoryStorage,
    Options, ServiceKeys, Session, Storage, SCK, SID, SIGNER, TSK,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn options() -> Options {
    Options {
        key_bits: 2048,
        test_mode: true,
    }
}

fn session<S: Storage>(p1: &P1, storage: S) -> Session<S, FixedServiceKeys> {
    Session::new(
        HttpTransport::new(&p1.url).unwrap(),
        storage,
        FixedServiceKeys(vec![p1.service_key.clone()]),
        options(),
    )
}

fn empty() -> Value {
    Value::dict::<&str>([])
}

fn ecdsa() -> AsymmetricSignature {
    AsymmetricSignature::Ecdsa {
        hash_alg: SignHash::Specific(Hash::Sha256),
    }
}

fn generate(name: &str) -> Operation {
    Operation::PsaGenerateKey(ops::GenerateKey {
        key_name: name.into(),
        attributes: common::ecc_p256_attributes(),
    })
}

fn key_names<S: Storage, K: ServiceKeys>(
    rt: &tokio::runtime::Runtime,
    s: &Session<S, K>,
) -> Vec<String> {
    match rt
        .block_on(s.operation(&Operation::ListKeys(ops::ListKeys { pattern: None })))
        .unwrap()
    {
        OpResult::ListKeys(r) => r.keys.into_iter().map(|k| k.name).collect(),
        other => panic!("{other:?}"),
    }
}

fn remote_code(e: Error) -> String {
    match e {
        Error::Remote(e) => {
            assert!(!e.text.is_empty(), "every error has a text");
            e.code
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
}

#[test]
fn remote_applications_use_the_hardware_providers() {
    let mut devices = vec![(2u8, Kind::Pkcs11.device())];
    if cfg!(feature = "tpm") {
        devices.push((3, Kind::Tpm.device()));
    }
    for (id, device) in devices {
        let p1 = start_with(None, &device, &format!("provider = {id}"));
        let rt = runtime();
        let s = session(&p1, MemoryStorage::new());
        rt.block_on(s.operation(&generate("remote-hw"))).unwrap();
        let public = match rt
            .block_on(
                s.operation(&Operation::PsaExportPublicKey(ops::ExportPublicKey {
                    key_name: "remote-hw".into(),
                })),
            )
            .unwrap()
        {
            OpResult::PsaExportPublicKey(r) => r.data,
            other => panic!("{other:?}"),
        };
        let message = b"signed by a remote application";
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
        let signature = match rt
            .block_on(s.operation(&Operation::PsaSignHash(ops::SignHash {
                key_name: "remote-hw".into(),
                alg: ecdsa(),
                hash: hash.as_ref().to_vec(),
            })))
            .unwrap()
        {
            OpResult::PsaSignHash(r) => r.signature,
            other => panic!("{other:?}"),
        };
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            &public,
        )
        .verify(message, &signature)
        .unwrap();
        let listed = match rt
            .block_on(s.operation(&Operation::ListKeys(ops::ListKeys { pattern: None })))
            .unwrap()
        {
            OpResult::ListKeys(r) => r.keys,
            other => panic!("{other:?}"),
        };
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].provider_id, id, "the key is the device's");
    }
}

#[test]
fn handshake_operations_and_resume_from_storage() {
    let p1 = start("");
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("session");
    let s = session(&p1, FileStorage::open(&state).unwrap());
    let info = rt.block_on(s.guest("info", empty())).unwrap();
    assert!(info
        .get("parsecVersions")
        .unwrap()
        .as_list()
        .unwrap()
        .contains(&Value::Text("1.1".into())));

    rt.block_on(s.operation(&generate("remote-key"))).unwrap();
    let hash = vec![7u8; 32];
    let signature = match rt
        .block_on(s.operation(&Operation::PsaSignHash(ops::SignHash {
            key_name: "remote-key".into(),
            alg: ecdsa(),
            hash: hash.clone(),
        })))
        .unwrap()
    {
        OpResult::PsaSignHash(r) => r.signature,
        other => panic!("{other:?}"),
    };
    assert_eq!(signature.len(), 64);
    let verify = |hash: Vec<u8>| {
        rt.block_on(s.operation(&Operation::PsaVerifyHash(ops::VerifyHash {
            key_name: "remote-key".into(),
            alg: ecdsa(),
            hash,
            signature: signature.clone(),
        })))
    };
    verify(hash.clone()).unwrap();
    assert_eq!(
        remote_code(verify(vec![8u8; 32]).unwrap_err()),
        "psa_error_invalid_signature"
    );
    let info: Value = rt.block_on(s.call("getSessionInfo", &empty())).unwrap();
    assert_eq!(info.get("isTest"), Some(&Value::Bool(true)));

    // A new client process with the same storage resumes: same session, same TSK.
    let (sid, tsk) = (s.storage().get(SID).unwrap(), s.storage().get(TSK).unwrap());
    drop(s);
    let resumed = session(&p1, FileStorage::open(&state).unwrap());
    assert_eq!(key_names(&rt, &resumed), ["remote-key"]);
    assert_eq!(resumed.storage().get(SID).unwrap(), sid);
    assert_eq!(
        resumed.storage().get(TSK).unwrap(),
        tsk,
        "no new TSK on resume"
    );
}

#[test]
fn lost_tsk_and_killed_session_recover_transparently() {
    let p1 = start("");
    let rt = runtime();
    let s = session(&p1, MemoryStorage::new());
    rt.block_on(s.operation(&generate("k"))).unwrap();
    let sid = s.storage().get(SID).unwrap();

    // A stored TSK the service does not know (lost): a new TSK, same session and keys.
    let other = session(&p1, MemoryStorage::new());
    copy_with_a_lost_tsk(s.storage(), other.storage());
    assert_eq!(key_names(&rt, &other), ["k"]);
    assert_eq!(other.storage().get(SID).unwrap(), sid);
    assert_ne!(
        other.storage().get(TSK).unwrap(),
        s.storage().get(TSK).unwrap()
    );

    // The session is killed on the service: the next call registers the same session key
    // again, in a new session. The identity is the key, so its keys are still its own.
    rt.block_on(s.destroy()).unwrap();
    assert_eq!(s.storage().get(SID), None);
    let sck = other.storage().get(SCK).unwrap();
    assert_eq!(key_names(&rt, &other), ["k"]);
    assert_ne!(other.storage().get(SID).unwrap(), sid);
    assert_eq!(
        other.storage().get(SCK).unwrap(),
        sck,
        "the same session key"
    );
}

/// A stored TSK is resumed only while the key that made it is trusted: with its signer's
/// address replaced by another key's, the client makes a new TSK instead.
#[test]
fn a_stored_tsk_is_resumed_only_while_its_signer_is_trusted() {
    let p1 = start("");
    let rt = runtime();
    let s = session(&p1, MemoryStorage::new());
    rt.block_on(s.call_value("getSessionInfo", empty()))
        .unwrap();
    assert_eq!(
        s.storage().get(SIGNER).unwrap(),
        p1.service_key.to_string(),
        "the TSK's signer is stored"
    );
    let copy = |signer: &str| {
        let other = session(&p1, MemoryStorage::new());
        for key in [SID, SCK, TSK] {
            other
                .storage()
                .set(key, &s.storage().get(key).unwrap())
                .unwrap();
        }
        other.storage().set(SIGNER, signer).unwrap();
        rt.block_on(other.call_value("getSessionInfo", empty()))
            .unwrap();
        other.storage().get(TSK).unwrap()
    };
    let tsk = s.storage().get(TSK).unwrap();
    assert_eq!(copy(&p1.service_key.to_string()), tsk, "resumed");
    let stranger = PrivateKey::generate(2048)
        .unwrap()
        .public_key()
        .long_address()
        .unwrap()
        .to_string();
    assert_ne!(copy(&stranger), tsk, "not resumed: a new TSK");
}

/// Copies the session id and key of `from` into `to`, with a TSK the service does not know.
fn copy_with_a_lost_tsk(from: &MemoryStorage, to: &MemoryStorage) {
    for key in [SID, SCK] {
        to.set(key, &from.get(key).unwrap()).unwrap();
    }
    to.set(TSK, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .unwrap();
}

/// An error answer to `createTSK` (here the guest rate limit; on plain HTTP anyone on the path
/// can forge one) is reported, and never costs the stored session key: the next call, once
/// the service takes requests again, goes on in the same session with the same keys.
#[test]
fn an_error_answer_to_create_tsk_keeps_the_session_key() {
    let p1 = start("guest_requests_per_second = 1\nguest_burst = 3\n");
    let rt = runtime();
    let s = session(&p1, MemoryStorage::new());
    // requestSCK, registerSCK and createTSK: the burst is spent.
    rt.block_on(s.call_value("getSessionInfo", empty()))
        .unwrap();
    let other = session(&p1, MemoryStorage::new());
    copy_with_a_lost_tsk(s.storage(), other.storage());
    let e = rt
        .block_on(other.call_value("getSessionInfo", empty()))
        .unwrap_err();
    assert!(e.to_string().contains("parsec_too_many_requests"), "{e}");
    for key in [SID, SCK] {
        assert_eq!(other.storage().get(key), s.storage().get(key), "{key} kept");
    }
    std::thread::sleep(Duration::from_millis(2100));
    rt.block_on(other.call_value("getSessionInfo", empty()))
        .unwrap();
    assert_eq!(other.storage().get(SID), s.storage().get(SID));
}

#[test]
fn wrong_service_key_fails_after_one_refresh_and_a_refresh_can_fix_it() {
    struct Keys {
        first: KeyAddress,
        refreshed: KeyAddress,
        calls: AtomicUsize,
    }
    impl ServiceKeys for &Keys {
        async fn addresses(&self, refresh: bool) -> Result<Vec<KeyAddress>, Error> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(vec![if refresh {
                self.refreshed.clone()
            } else {
                self.first.clone()
            }])
        }
    }
    let p1 = start("");
    let rt = runtime();
    let wrong = PrivateKey::generate(2048)
        .unwrap()
        .public_key()
        .long_address()
        .unwrap();
    let keys = Keys {
        first: wrong.clone(),
        refreshed: wrong.clone(),
        calls: AtomicUsize::new(0),
    };
    let s = Session::new(
        HttpTransport::new(&p1.url).unwrap(),
        MemoryStorage::new(),
        &keys,
        options(),
    );
    let started = Instant::now();
    let e = rt
        .block_on(s.call_value("getSessionInfo", empty()))
        .unwrap_err();
    assert!(matches!(e, Error::UnknownServiceKey(_)), "{e:?}");
    assert!(e.to_string().contains("trusted service keys"), "{e}");
    assert_eq!(
        keys.calls.load(Ordering::SeqCst),
        2,
        "asked once, refreshed once"
    );
    assert!(started.elapsed() < Duration::from_secs(20), "bounded");

    let keys = Keys {
        first: wrong,
        refreshed: p1.service_key.clone(),
        calls: AtomicUsize::new(0),
    };
    let s = Session::new(
        HttpTransport::new(&p1.url).unwrap(),
        MemoryStorage::new(),
        &keys,
        options(),
    );
    rt.block_on(s.call_value("getSessionInfo", empty()))
        .unwrap();
    assert_eq!(keys.calls.load(Ordering::SeqCst), 2);
}

/// `logout` and `sessionDropTSK` drop the TSK; our client makes a new one by itself, keeping
/// the session (same id, same SCK).
#[test]
fn after_logout_or_a_dropped_tsk_the_client_goes_on_with_a_new_tsk() {
    let p1 = start("");
    let rt = runtime();
    let s = session(&p1, MemoryStorage::new());
    rt.block_on(s.call_value("getSessionInfo", empty()))
        .unwrap();
    let (sid, sck) = (s.storage().get(SID), s.storage().get(SCK));
    for cmd in ["logout", "sessionDropTSK"] {
        let tsk = s.storage().get(TSK).unwrap();
        assert_eq!(rt.block_on(s.call_value(cmd, empty())).unwrap(), empty());
        let info = rt
            .block_on(s.call_value("getSessionInfo", empty()))
            .unwrap();
        assert_eq!(info.get("isTest"), Some(&Value::Bool(true)), "{cmd}");
        assert_ne!(s.storage().get(TSK).unwrap(), tsk, "{cmd}: a new TSK");
        assert_eq!(
            (s.storage().get(SID), s.storage().get(SCK)),
            (sid.clone(), sck.clone())
        );
    }
}

/// Raw tunnel messages: what an attacker on the network can send.
#[test]
fn tampered_and_replayed_messages_are_refused() {
    let p1 = start("");
    let rt = runtime();
    let s = session(&p1, MemoryStorage::new());
    rt.block_on(s.call_value("getSessionInfo", empty()))
        .unwrap();
    let sid = s.storage().get(SID).unwrap();
    let tsk = decode_tsk(&s.storage().get(TSK).unwrap()).unwrap();
    let transport = HttpTransport::new(&p1.url).unwrap();
    let send = |block: Vec<u8>| rt.block_on(transport.send(&block)).unwrap();
    let sealed = parsec1::client::seal(&tsk, &sid, "getSessionInfo", empty()).unwrap();
    assert!(parsec1::client::open(&tsk, &send(sealed.clone()))
        .unwrap()
        .is_ok());
    let outer_error = |answer: Vec<u8>| {
        parsec1::message::decode_answer(&answer)
            .unwrap()
            .unwrap_err()
    };
    let e = outer_error(send(sealed.clone()));
    assert_eq!(e.code, codes::REPLAYED_MESSAGE);

    let mut call = parsec_boss::decode(&sealed).unwrap();
    let Value::Dict(entries) = &mut call else {
        panic!()
    };
    let args = &mut entries
        .iter_mut()
        .find(|(k, _)| k.as_str() == Some("args"))
        .unwrap()
        .1;
    let Value::Dict(args) = args else { panic!() };
    let params = &mut args
        .iter_mut()
        .find(|(k, _)| k.as_str() == Some("params"))
        .unwrap()
        .1;
    let Value::Bin(bytes) = params else { panic!() };
    bytes[20] ^= 0x01;
    let e = outer_error(send(parsec_boss::encode(&call).unwrap()));
    assert_eq!(e.code, codes::UNKNOWN_EXCEPTION);
    assert!(e.text.contains("HMAC"), "{}", e.text);
    // The client recovers from an HMAC error by itself (new TSK) and the session goes on.
    rt.block_on(s.call_value("getSessionInfo", empty()))
        .unwrap();
}

#[test]
fn expired_tsk_then_expired_session_recover() {
    // Times are whole seconds: lifetimes of 2 and 5 s, checked 2.5 and 5.5 s later.
    let p1 = start("test_tsk_lifetime = 2\nsession_lifetime = 5\n");
    let rt = runtime();
    let s = session(&p1, MemoryStorage::new());
    rt.block_on(s.operation(&generate("short-lived"))).unwrap();
    let (sid, tsk) = (s.storage().get(SID).unwrap(), s.storage().get(TSK).unwrap());
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(key_names(&rt, &s), ["short-lived"]);
    assert_eq!(s.storage().get(SID).unwrap(), sid);
    assert_ne!(s.storage().get(TSK).unwrap(), tsk, "expired TSK replaced");
    std::thread::sleep(Duration::from_millis(3000));
    rt.block_on(s.call_value("getSessionInfo", empty()))
        .unwrap();
    assert_ne!(
        s.storage().get(SID).unwrap(),
        sid,
        "expired session replaced"
    );
}

#[test]
fn remote_and_local_applications_never_see_each_others_keys() {
    let p1 = start("");
    let rt = runtime();
    let a = session(&p1, MemoryStorage::new());
    let b = session(&p1, MemoryStorage::new());
    rt.block_on(a.operation(&generate("shared-name"))).unwrap();
    rt.block_on(b.operation(&generate("shared-name"))).unwrap();
    rt.block_on(b.operation(&generate("only-b"))).unwrap();
    assert_eq!(key_names(&rt, &a), ["shared-name"]);

    // A local application whose name is a remote application's identity sees nothing of it.
    let sck = decode_sck(&a.storage().get(SCK).unwrap()).unwrap();
    let remote_name = sck.public_key().long_address().unwrap().to_string();
    let local = common::discovering_client(&p1.daemon.socket, Some(&remote_name));
    assert!(local.list_keys().unwrap().is_empty());
    local
        .psa_generate_key("local-key", common::ecdsa_p256())
        .unwrap();
    assert!(key_names(&rt, &a).iter().all(|n| n != "local-key"));
    let e = rt
        .block_on(
            a.operation(&Operation::PsaExportPublicKey(ops::ExportPublicKey {
                key_name: "local-key".into(),
            })),
        )
        .unwrap_err();
    assert_eq!(remote_code(e), "psa_error_does_not_exist");
    let e = rt
        .block_on(a.operation(&Operation::PsaDestroyKey(ops::DestroyKey {
            key_name: "only-b".into(),
        })))
        .unwrap_err();
    assert_eq!(remote_code(e), "psa_error_does_not_exist");

    // Remote applications are never administrators.
    let e = rt
        .block_on(a.call_value("listClients", empty()))
        .unwrap_err();
    assert_eq!(remote_code(e), codes::UNKNOWN_COMMAND);
}

/// Remote applications could make sessions and keys without bound (test mode is open to
/// anyone), and administrators could neither see nor remove them.
#[test]
fn remote_keys_and_sessions_are_bounded_and_admins_manage_remote_applications() {
    let p1 = start("max_keys_per_session_key = 2\nmax_remote_keys = 3\nmax_sessions = 3\n");
    let rt = runtime();
    let a = session(&p1, MemoryStorage::new());
    let b = session(&p1, MemoryStorage::new());
    rt.block_on(a.operation(&generate("k1"))).unwrap();
    rt.block_on(a.operation(&generate("k2"))).unwrap();
    let e = rt.block_on(a.operation(&generate("k3"))).unwrap_err();
    assert_eq!(remote_code(e), "psa_error_insufficient_storage", "per key");
    rt.block_on(b.operation(&generate("k1"))).unwrap();
    let e = rt.block_on(b.operation(&generate("k2"))).unwrap_err();
    assert_eq!(remote_code(e), "psa_error_insufficient_storage", "in total");
    // Local applications have their own bound.
    let mut local = common::direct_client(&p1.daemon.socket, "local");
    local.set_implicit_provider(parsec_client::core::interface::requests::ProviderId::MbedCrypto);
    local.psa_generate_key("k", common::ecdsa_p256()).unwrap();

    // The administrator sees the remote applications and can remove one.
    let address = |s: &Session<MemoryStorage, FixedServiceKeys>| {
        let sck = decode_sck(&s.storage().get(SCK).unwrap()).unwrap();
        sck.public_key().long_address().unwrap().to_string()
    };
    let admin = common::direct_client(&p1.daemon.socket, "admin");
    let mut clients = admin.list_clients().unwrap();
    clients.sort();
    let mut expected = vec![
        "local".to_string(),
        format!("parsec1:{}", address(&a)),
        format!("parsec1:{}", address(&b)),
    ];
    expected.sort();
    assert_eq!(clients, expected);
    admin
        .delete_client(&format!("parsec1:{}", address(&a)))
        .unwrap();
    assert!(key_names(&rt, &a).is_empty());
    assert_eq!(key_names(&rt, &b), ["k1"]);
    rt.block_on(b.operation(&generate("k2"))).unwrap();
    // A local application of the same name as a remote one is another application.
    assert_eq!(local.list_keys().unwrap().len(), 1);

    // Two sessions exist (a, b); one more fits, then the service is full.
    let c = session(&p1, MemoryStorage::new());
    rt.block_on(c.operation(&Operation::Ping)).unwrap();
    let d = session(&p1, MemoryStorage::new());
    let e = rt.block_on(d.operation(&Operation::Ping)).unwrap_err();
    // Refused at registration: the client reports the service's error as a protocol error.
    let e = format!("{e:?}");
    assert!(
        e.contains(codes::TOO_MANY_SESSIONS) && e.contains("the most it keeps"),
        "{e}"
    );
}

#[test]
fn raw_bodies_cors_and_oversized_requests() {
    let p1 = start("max_message_size = 2048\nallowed_origins = [\"*\"]\n");
    let path = "/api/p1";
    let answer = p1.http(&common::parsec1_info_request(path));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("access-control-allow-origin: *"),
        "{answer}"
    );
    assert!(answer.contains("parsecVersions"));

    let preflight = format!(
        "OPTIONS {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://page.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
    );
    let answer = p1.http(preflight.as_bytes()).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    assert!(answer.contains("access-control-allow-methods"), "{answer}");

    // The TimeService beside the endpoint, and a BOSS error elsewhere.
    let call = parsec1::message::encode_call("time", empty());
    let mut time = format!(
        "POST /api/p0 HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        call.len()
    )
    .into_bytes();
    time.extend_from_slice(&call);
    let answer = p1.http(&time);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("time"),
        "{answer}"
    );
    let answer = p1.http(b"GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(
        answer.starts_with("HTTP/1.1 404") && answer.contains(codes::UNKNOWN_COMMAND),
        "{answer}"
    );

    let big = vec![0u8; 5000];
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    )
    .into_bytes();
    request.extend_from_slice(&big);
    let answer = p1.http(&request);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(codes::MESSAGE_TOO_LARGE), "{answer}");
}

#[test]
fn independent_node_client_on_unicrypto() {
    let p1 = start("allowed_origins = [\"http://example.test\"]\n");
    let modules = std::env::var("PARSEC_NODE_MODULES").expect(
        "PARSEC_NODE_MODULES must name a node_modules directory with unicrypto 1.14.1; \
         ./test.sh installs it",
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node/parsec1_client.cjs");
    let out = std::process::Command::new("node")
        .arg("--no-experimental-fetch")
        .arg(script)
        .arg(&p1.url)
        .arg(p1.service_key.to_string())
        .env("PARSEC_NODE_MODULES", modules)
        .output()
        .expect("node must be installed (./test.sh installs nodejs)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps: Vec<&str> = stdout.lines().collect();
    let step = |name: &str| {
        steps
            .iter()
            .find(|l| l.contains(&format!("\"step\":\"{name}\"")))
            .unwrap_or_else(|| panic!("no step {name}:\n{stdout}"))
            .to_string()
    };
    assert!(step("createTSK").contains("\"signatureVerified\":true"));
    assert!(step("psaSignHash").contains("\"nodeCryptoVerified\":true"));
    assert!(step("tampered").contains(codes::UNKNOWN_EXCEPTION));
    assert!(step("replay").contains(codes::REPLAYED_MESSAGE));
    assert!(step("unknownServiceKey").contains(codes::UNKNOWN_SERVICE_KEY));
    assert!(step("afterDestroy").contains(codes::SESSION_NOT_FOUND));
    assert_eq!(steps.last(), Some(&"{\"done\":true}"));
}

#[test]
fn connections_are_bounded_and_idle_ones_closed() {
    let p1 = start("max_connections = 1\nidle_timeout = 1\n");
    let authority = p1.authority();
    // A silent client holds the only slot until the idle limit closes it.
    let mut silent = std::net::TcpStream::connect(&authority).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let answer = common::http(&authority, &common::parsec1_info_request("/api/p1"));
    let waited = started.elapsed();
    assert!(answer.contains("parsecVersions"), "{answer}");
    assert!(
        waited >= Duration::from_millis(500),
        "served before the slot was free: {waited:?}"
    );
    // The silent connection was closed by the service.
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    use std::io::Read;
    assert_eq!(silent.read(&mut buf).unwrap(), 0, "closed by the service");
}

#[test]
fn sessions_and_the_service_key_survive_a_restart() {
    let mut first = start("");
    let rt = runtime();
    let s = session(&first, MemoryStorage::new());
    rt.block_on(s.operation(&generate("kept"))).unwrap();
    first.daemon.signal("TERM");
    assert!(first.daemon.wait_exit().success());

    let second = start_at(Some(first.daemon.socket.clone()), "");
    assert_eq!(
        second.service_key, first.service_key,
        "service key kept in the key store"
    );
    let resumed = session(&second, MemoryStorage::new());
    for key in [SID, TSK, SCK] {
        resumed
            .storage()
            .set(key, &s.storage().get(key).unwrap())
            .unwrap();
    }
    // The session is in the SQLite store; its TSK was only in memory: a new one is made.
    assert_eq!(key_names(&rt, &resumed), ["kept"]);
    assert_eq!(resumed.storage().get(SID), s.storage().get(SID));
    assert_ne!(resumed.storage().get(TSK), s.storage().get(TSK));
}

/// A service contract listing `key`, signed by a new issuer.
fn contract_listing(key: &KeyAddress) -> Vec<u8> {
    let issuer = PrivateKey::generate(2048).unwrap();
    let now = parsec_boss::Time::now();
    let spec = parsec1::universa::NewContract {
        parsec: parsec1::universa::ParsecSection {
            service_name: "test".into(),
            short_service_name: None,
            service_description: None,
            service_key_addresses: vec![(key.clone(), false)],
            http: vec!["http://127.0.0.1:1/api/p1".into()],
            https: Vec::new(),
        },
        owner: issuer.public_key().long_address().unwrap(),
        uns2_name: None,
        created_at: now,
        expires_at: now.plus_seconds(86400),
    };
    parsec1::universa::create(&spec, &issuer).unwrap()
}

#[test]
fn service_contract_is_served_unless_the_client_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let contract = dir.path().join("contract.unicon");
    let stranger = PrivateKey::generate(2048)
        .unwrap()
        .public_key()
        .long_address()
        .unwrap();
    let bytes = contract_listing(&stranger);
    std::fs::write(&contract, &bytes).unwrap();
    let p1 = start(&format!(
        "service_contract = {:?}\n",
        contract.display().to_string()
    ));
    // Its own key is not listed: it says so.
    assert!(p1
        .daemon
        .stderr()
        .contains("not among the service contract"));
    let rt = runtime();
    let s = session(&p1, MemoryStorage::new());
    let get = |args: Value| rt.block_on(s.guest("getServiceContract", args)).unwrap();
    let full = get(empty());
    assert_eq!(
        full.get("serviceContract").and_then(Value::as_bytes),
        Some(&bytes[..])
    );
    let sealed = parsec1::universa::Sealed::read(&bytes).unwrap();
    let id = parsec1::hash_id::to_base64(&sealed.hash_id);
    assert_eq!(
        get(Value::dict([("knownHashId", Value::Text(id))])),
        empty()
    );
    let info = rt.block_on(s.guest("info", empty())).unwrap();
    let versions = info.get("parsecVersions").unwrap().as_list().unwrap();
    assert_eq!(
        versions,
        [Value::Text("1.1".into()), Value::Text("1.2".into())]
    );
}

#[test]
fn a_service_contract_that_does_not_verify_stops_start_up_with_the_reason() {
    let run = tempfile::tempdir().unwrap();
    let contract = run.path().join("contract.unicon");
    std::fs::write(&contract, b"sealed contract bytes").unwrap();
    let socket = run.path().join("sock/parsec.sock");
    let text = format!(
        "{}\n[parsec1]\nlisten = \"127.0.0.1:0\"\nservice_key_bits = 2048\n\
         service_contract = {:?}\n",
        common::software_config(&socket, &run.path().join("state"), common::p1::ADMIN_DIRECT),
        contract.display().to_string()
    );
    let stderr = common::Daemon::start_failure(run.path(), &text, &[]);
    assert!(stderr.contains("contract.unicon"), "{stderr}");
    assert!(stderr.contains("Universa contract"), "{stderr}");
}

#[test]
fn a_reload_keeps_parsec1_running_and_says_its_changes_need_a_restart() {
    let p1 = start("");
    let config = std::fs::read_to_string(&p1.daemon.config_path).unwrap();
    p1.daemon
        .reload(&config.replace("pow_difficulty = 12", "pow_difficulty = 14"));
    assert!(
        p1.daemon
            .stderr()
            .contains("[parsec1] changes take effect only after a restart"),
        "{}",
        p1.daemon.stderr()
    );
    let rt = runtime();
    let s = session(&p1, MemoryStorage::new());
    rt.block_on(s.call_value("getSessionInfo", empty()))
        .unwrap();
}
