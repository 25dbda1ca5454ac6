//! The service as a library: two services in one process, each on its own socket and store,
//! driven by the upstream client. Neither sees the other's keys, and stopping one leaves the
//! other serving. And the socket-less path the fuzz target drives answers as the socket does.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::{discovering_client, ecdsa_p256, software_config, ECDSA_SHA256};
use parsec_service::config::Config;
use parsec_service::service::{Listeners, Service};
use tokio::sync::oneshot;

struct Running {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    dispatcher: Arc<parsec_service::dispatch::Current>,
    stop: Option<oneshot::Sender<()>>,
    serving: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Opens a service with the software provider in its own directory and serves it on `rt`.
fn start(rt: &tokio::runtime::Runtime) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("parsec.sock");
    let text = software_config(
        &socket,
        dir.path(),
        "[authenticator]\nauth_type = \"Direct\"\n",
    );
    let config = Config::parse(&text).unwrap().config;
    let service = Arc::new(Service::open(config).unwrap());
    let dispatcher = service.dispatcher().clone();
    let unix = parsec_service::socket::listen(&socket).unwrap();
    let listeners = Listeners {
        unix: unix.listener,
        shut_unix_on_stop: true,
        parsec1: None,
        parsec1_tls: None,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = rt.spawn(parsec_service::service::run(service, listeners, async {
        let _ = stopped.await;
    }));
    Running {
        _dir: dir,
        socket,
        dispatcher,
        stop: Some(stop),
        serving,
    }
}

impl Running {
    fn stop(&mut self, rt: &tokio::runtime::Runtime) {
        let _ = self.stop.take().unwrap().send(());
        rt.block_on(&mut self.serving).unwrap().unwrap();
    }
}

#[test]
fn two_services_run_in_one_process_on_separate_sockets_and_stores() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut a = start(&rt);
    let mut b = start(&rt);

    let on_a = discovering_client(&a.socket, Some("app"));
    let on_b = discovering_client(&b.socket, Some("app"));
    on_a.ping().unwrap();
    on_b.ping().unwrap();

    // The same application, the same key name, on each service: two different keys.
    on_a.psa_generate_key("k", ecdsa_p256()).unwrap();
    assert!(
        on_b.list_keys().unwrap().is_empty(),
        "B sees none of A's keys"
    );
    on_b.psa_generate_key("k", ecdsa_p256()).unwrap();
    let a_public = on_a.psa_export_public_key("k").unwrap();
    let b_public = on_b.psa_export_public_key("k").unwrap();
    assert_ne!(a_public, b_public, "each service made its own key");
    let hash = [7u8; 32];
    let signature = on_a.psa_sign_hash("k", &hash, ECDSA_SHA256).unwrap();
    on_a.psa_verify_hash("k", &hash, ECDSA_SHA256, &signature)
        .unwrap();
    assert!(
        on_b.psa_verify_hash("k", &hash, ECDSA_SHA256, &signature)
            .is_err(),
        "A's signature does not verify under B's key"
    );

    // Stopping A leaves B serving; A's socket is gone.
    a.stop(&rt);
    assert!(std::os::unix::net::UnixStream::connect(&a.socket).is_err());
    on_b.ping().unwrap();
    assert_eq!(on_b.list_keys().unwrap().len(), 1);
    b.stop(&rt);
}

/// `serve_bytes` (what the `service_request` fuzz target drives) gives, byte for byte, the
/// answers the socket gives to the same bytes: requests kept on one connection, then a
/// refusal that closes it.
#[test]
fn the_bytes_path_answers_as_the_socket_does() {
    use std::io::{Read, Write};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut running = start(&rt);
    let (socket, dispatcher) = (running.socket.clone(), running.dispatcher.clone());

    let request = |opcode: parsec_wire::Opcode, auth: &[u8]| {
        let raw = parsec_wire::RawHeader {
            version_maj: 1,
            auth_type: u8::from(!auth.is_empty()),
            auth_len: u16::try_from(auth.len()).unwrap(),
            opcode: opcode.to_u32(),
            ..parsec_wire::RawHeader::default()
        };
        let mut bytes = raw.encode().to_vec();
        bytes.extend_from_slice(auth);
        bytes
    };
    let mut input = request(parsec_wire::Opcode::Ping, b"");
    input.extend(request(parsec_wire::Opcode::ListProviders, b""));
    input.extend(request(parsec_wire::Opcode::ListKeys, b"app"));
    input.extend_from_slice(b"not a request at all");

    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    stream.write_all(&input).unwrap();
    let mut from_socket = Vec::new();
    stream.read_to_end(&mut from_socket).unwrap();
    let peer = parsec_service::auth::Peer {
        uid: Some(rustix_uid()),
    };
    let from_bytes = parsec_service::front::unix::serve_bytes(&*dispatcher, &input, peer);
    assert_eq!(from_bytes, from_socket);
    // Four answers: three requests and the refusal.
    let mut rest = from_bytes.as_slice();
    let mut statuses = Vec::new();
    while !rest.is_empty() {
        let head: &[u8; parsec_wire::HEADER_LEN] =
            rest[..parsec_wire::HEADER_LEN].try_into().unwrap();
        let (header, body_len) = parsec_wire::Response::decode_header(head, usize::MAX).unwrap();
        statuses.push(header.status);
        rest = &rest[parsec_wire::HEADER_LEN + body_len..];
    }
    use parsec_wire::Status;
    assert_eq!(
        statuses,
        [
            Status::Success,
            Status::Success,
            Status::Success,
            Status::InvalidHeader
        ]
    );
    running.stop(&rt);
}

fn rustix_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(0, |m| std::os::unix::fs::MetadataExt::uid(&m))
}

/// A key store whose `get` can be held: it then blocks until released, as a store on a slow
/// disk or behind a lock would.
struct HeldStore {
    inner: parsec_keystore::SqliteStore,
    hold: std::sync::Mutex<bool>,
    released: std::sync::Condvar,
    /// Set while a `get` is held.
    holding: std::sync::atomic::AtomicBool,
}

impl HeldStore {
    fn set_hold(&self, hold: bool) {
        *self.hold.lock().unwrap() = hold;
        self.released.notify_all();
    }
}

impl parsec_keystore::KeyStore for HeldStore {
    fn create_within(
        &self,
        id: &parsec_keystore::KeyId,
        record: &parsec_keystore::KeyRecord,
        quota: parsec_keystore::Quota,
    ) -> Result<(), parsec_keystore::StoreError> {
        self.inner.create_within(id, record, quota)
    }
    fn get(
        &self,
        id: &parsec_keystore::KeyId,
    ) -> Result<Option<parsec_keystore::KeyRecord>, parsec_keystore::StoreError> {
        let mut hold = self.hold.lock().unwrap();
        while *hold {
            self.holding
                .store(true, std::sync::atomic::Ordering::SeqCst);
            let (guard, timeout) = self
                .released
                .wait_timeout(hold, std::time::Duration::from_secs(60))
                .unwrap();
            hold = guard;
            assert!(!timeout.timed_out(), "never released");
        }
        drop(hold);
        self.holding
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.inner.get(id)
    }
    fn delete(&self, id: &parsec_keystore::KeyId) -> Result<bool, parsec_keystore::StoreError> {
        self.inner.delete(id)
    }
    fn list(
        &self,
        auth: u8,
        app: &str,
    ) -> Result<Vec<parsec_keystore::Listed>, parsec_keystore::StoreError> {
        self.inner.list(auth, app)
    }
    fn list_clients(&self, auth: u8) -> Result<Vec<String>, parsec_keystore::StoreError> {
        self.inner.list_clients(auth)
    }
    fn delete_client(&self, auth: u8, app: &str) -> Result<usize, parsec_keystore::StoreError> {
        self.inner.delete_client(auth, app)
    }
    fn probe(&self, sample: usize) -> Result<parsec_keystore::Probe, parsec_keystore::StoreError> {
        self.inner.probe(sample)
    }
    fn check_integrity(&self) -> Result<usize, parsec_keystore::StoreError> {
        self.inner.check_integrity()
    }
}

/// A Parsec.1 command whose key store call blocks (a slow disk, a locked database) does not
/// hold up the other requests, even on a runtime with one worker: store calls leave the
/// runtime's threads. Before, the `info` below waited for the held call.
#[test]
fn a_blocked_store_call_does_not_hold_up_other_parsec1_requests() {
    use parsec_rs_client::parsec1::{FixedServiceKeys, HttpTransport, MemoryStorage, Options};
    use std::sync::atomic::Ordering;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("parsec.sock");
    let text = common::config(
        &socket,
        3000,
        "[authenticator]\nauth_type = \"Direct\"\n",
        "[[provider]]\nprovider_type = \"MbedCrypto\"\n\n[parsec1]\nlisten = \"127.0.0.1:0\"\n\
         service_key_bits = 2048\ntest_pow_difficulty = 4\n",
    );
    let config = Config::parse(&text).unwrap().config;
    let path = config.parsec1.as_ref().unwrap().path.clone();
    let master = parsec_keystore::MasterKey::from_bytes(&[3u8; 32]).unwrap();
    let store = Arc::new(HeldStore {
        inner: parsec_keystore::SqliteStore::in_memory(master).unwrap(),
        hold: std::sync::Mutex::new(false),
        released: std::sync::Condvar::new(),
        holding: std::sync::atomic::AtomicBool::new(false),
    });
    let service = Arc::new(Service::with_store(config, Some(store.clone())).unwrap());
    let service_key =
        parsec1::KeyAddress::parse(&service.parsec1_endpoints().unwrap().service_key).unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let url = format!("http://{authority}{path}");
    let listeners = Listeners {
        unix: parsec_service::socket::listen(&socket).unwrap().listener,
        shut_unix_on_stop: true,
        parsec1: Some(listener),
        parsec1_tls: None,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = rt.spawn(parsec_service::service::run(service, listeners, async {
        let _ = stopped.await;
    }));

    // A remote application makes a key, then signs with it while the store's `get` is held.
    let client = {
        let store = store.clone();
        std::thread::spawn(move || {
            let client_rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let session = parsec_rs_client::parsec1::Session::new(
                HttpTransport::new(&url).unwrap(),
                MemoryStorage::new(),
                FixedServiceKeys(vec![service_key]),
                Options {
                    key_bits: 2048,
                    test_mode: true,
                },
            );
            let generate = parsec_psa::Operation::PsaGenerateKey(parsec_psa::ops::GenerateKey {
                key_name: "k".into(),
                attributes: common::ecc_p256_attributes(),
            });
            client_rt.block_on(session.operation(&generate)).unwrap();
            store.set_hold(true);
            let sign = parsec_psa::Operation::PsaSignHash(parsec_psa::ops::SignHash {
                key_name: "k".into(),
                alg: parsec_psa::AsymmetricSignature::Ecdsa {
                    hash_alg: parsec_psa::SignHash::Specific(parsec_psa::Hash::Sha256),
                },
                hash: vec![1u8; 32],
            });
            client_rt.block_on(session.operation(&sign))
        })
    };
    let started = std::time::Instant::now();
    while !store.holding.load(Ordering::SeqCst) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the sign never reached the store"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // The store call is held: a guest request is still answered.
    let answer = common::http(&authority, &common::parsec1_info_request(&path));
    let answered_while_held = store.holding.load(Ordering::SeqCst);
    store.set_hold(false);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("parsecVersions"), "{answer}");
    assert!(
        answered_while_held,
        "answered only once the store call ended"
    );
    let signed = client.join().unwrap().unwrap();
    assert!(matches!(signed, parsec_psa::OpResult::PsaSignHash(_)));
    let _ = stop.send(());
    rt.block_on(serving).unwrap().unwrap();
}
