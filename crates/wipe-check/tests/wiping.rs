//! Key material and plaintexts do not linger in the service's freed memory. The service runs in
//! this process under an allocator that, while armed, looks for a marker in every block freed;
//! a client in another process (this test binary, run again) imports a key made of the marker,
//! exports it, and encrypts and decrypts a plaintext holding it.
//!
//! Only the Rust heap is watched: aws-lc keeps its copies of keys in its own (C) allocations and
//! wipes them itself.

#![allow(unsafe_code)] // the allocator below; see Cargo.toml

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parsec_keystore::{KeyStore, MasterKey, SqliteStore};
use parsec_psa::ops;
use parsec_psa::{Aead, AeadWithDefaultLengthTag, KeyAttributes, OpResult, Operation};
use parsec_rs_client::parsec1::{FixedServiceKeys, HttpTransport, MemoryStorage, Options, Session};
use parsec_service::config::Config;
use parsec_service::front::unix::{Front, PoolSize};
use parsec_service::service::{Listeners, Service};
use parsec_service::socket::listen;

/// 16 bytes no other data in the test contains.
const MARKER: &[u8; 16] = b"\x8fWIPE\x01ME\x7fPLEASE\x93";

struct Watching;

/// Counts a block freed with the marker in it; with `WIPE_CHECK_TRACE` set, prints where.
fn found(size: usize) {
    FOUND.fetch_add(1, Ordering::Relaxed);
    thread_local! {
        static PRINTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if TRACE.load(Ordering::Relaxed) && !PRINTING.with(|p| p.replace(true)) {
        // Allocates: the flag keeps this from recursing.
        eprintln!(
            "a {size}-byte block freed with the secret:\n{}",
            std::backtrace::Backtrace::force_capture()
        );
        PRINTING.with(|p| p.set(false));
    }
}

static TRACE: AtomicBool = AtomicBool::new(false);

static ARMED: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; `dealloc` only reads the
// block it is given, which is still allocated and `layout.size()` bytes long.
unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::Relaxed) && layout.size() >= MARKER.len() {
            // SAFETY: the caller hands over a live block of `layout.size()` bytes.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if block.windows(MARKER.len()).any(|w| w == MARKER) {
                found(layout.size());
            }
        }
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    // `realloc` is the trait's own: a new block, a copy, and `dealloc` of the old one, which
    // is checked. (A system realloc that moves a block frees the old one unwiped as well.)
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

fn aes_attributes() -> KeyAttributes {
    KeyAttributes {
        key_type: parsec_psa::KeyType::Aes,
        bits: 256,
        policy: parsec_psa::Policy {
            usage_flags: parsec_psa::UsageFlags {
                export: true,
                encrypt: true,
                decrypt: true,
                ..Default::default()
            },
            permitted_algorithms: parsec_psa::Algorithm::Aead(Aead::AeadWithDefaultLengthTag(
                AeadWithDefaultLengthTag::Gcm,
            )),
        },
    }
}

/// Every call that carries the marker: import a key made of it, export it, encrypt and decrypt
/// a plaintext holding it.
fn carry_the_marker(call: &mut dyn FnMut(&Operation) -> OpResult) {
    let key = [&MARKER[..], &MARKER[..]].concat();
    call(&Operation::PsaImportKey(ops::ImportKey {
        key_name: "k".into(),
        attributes: aes_attributes(),
        data: parsec_psa::Secret::new(key.clone()),
    }));
    let OpResult::PsaExportKey(exported) = call(&Operation::PsaExportKey(ops::ExportKey {
        key_name: "k".into(),
    })) else {
        panic!("an export result");
    };
    assert_eq!(exported.data.expose(), &key[..]);
    let gcm = Aead::AeadWithDefaultLengthTag(AeadWithDefaultLengthTag::Gcm);
    let nonce = vec![7u8; 12];
    let plaintext = [&b"plaintext:"[..], &MARKER[..]].concat();
    let OpResult::PsaAeadEncrypt(sealed) = call(&Operation::PsaAeadEncrypt(ops::AeadEncrypt {
        key_name: "k".into(),
        alg: gcm,
        nonce: nonce.clone(),
        additional_data: vec![],
        plaintext: parsec_psa::Secret::new(plaintext.clone()),
    })) else {
        panic!("an encryption result");
    };
    let OpResult::PsaAeadDecrypt(opened) = call(&Operation::PsaAeadDecrypt(ops::AeadDecrypt {
        key_name: "k".into(),
        alg: gcm,
        nonce,
        additional_data: vec![],
        ciphertext: sealed.ciphertext,
    })) else {
        panic!("a decryption result");
    };
    assert_eq!(opened.plaintext.expose(), &plaintext[..]);
}

/// The client's side, in its own process: over the socket, or over Parsec.1.
#[test]
#[ignore = "the client process that the tests below start"]
fn wiping_client() {
    if let Ok(socket) = std::env::var("PARSEC_WIPING_SOCKET") {
        let socket = std::path::Path::new(&socket);
        carry_the_marker(&mut |op| raw_call(socket, op).unwrap());
        return;
    }
    let url = std::env::var("PARSEC_WIPING_URL").expect("run by a test below");
    let key = parsec1::KeyAddress::parse(&std::env::var("PARSEC_WIPING_KEY").unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let session = Session::new(
        HttpTransport::new(&url).unwrap(),
        MemoryStorage::new(),
        FixedServiceKeys(vec![key]),
        Options {
            key_bits: 2048,
            test_mode: true,
        },
    );
    carry_the_marker(&mut |op| rt.block_on(session.operation(op)).unwrap());
}

/// Runs the client process with `env`, the watch armed meanwhile; returns the blocks found.
fn watch_client(env: &[(&str, String)]) -> usize {
    FOUND.store(0, Ordering::SeqCst);
    TRACE.store(
        std::env::var_os("WIPE_CHECK_TRACE").is_some(),
        Ordering::SeqCst,
    );
    ARMED.store(true, Ordering::SeqCst);
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--exact", "wiping_client", "--nocapture"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let client = cmd.output().unwrap();
    ARMED.store(false, Ordering::SeqCst);
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    FOUND.load(Ordering::SeqCst)
}

/// One test at a time: the watch is process-wide.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn config_text(socket: &std::path::Path, extra: &str) -> String {
    format!(
        "[core_settings]\nallow_root = true\n[listener]\nlistener_type = \"DomainSocket\"\n\
         timeout = 3000\nsocket_path = \"{}\"\n[authenticator]\nauth_type = \"Direct\"\n\
         [[provider]]\nprovider_type = \"MbedCrypto\"\n{extra}",
        socket.display()
    )
}

fn memory_store() -> Arc<dyn KeyStore> {
    Arc::new(SqliteStore::in_memory(MasterKey::from_bytes(&[1u8; 32]).unwrap()).unwrap())
}

/// Sends `op` to the software provider as the Direct application `app`; decodes the answer.
fn raw_call(socket: &std::path::Path, op: &Operation) -> Result<OpResult, parsec_wire::Status> {
    use std::io::{Read, Write};
    let body = parsec_psa::encode_operation(op);
    let raw = parsec_wire::RawHeader {
        version_maj: 1,
        provider: 1,
        auth_type: 1,
        body_len: u32::try_from(body.len()).unwrap(),
        auth_len: 3,
        opcode: op.opcode().to_u32(),
        ..parsec_wire::RawHeader::default()
    };
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.write_all(&raw.encode()).unwrap();
    stream.write_all(&body).unwrap();
    stream.write_all(b"app").unwrap();
    let mut head = [0u8; parsec_wire::HEADER_LEN];
    stream.read_exact(&mut head).unwrap();
    let (header, len) = parsec_wire::Response::decode_header(&head, 1 << 20).unwrap();
    let mut answer = vec![0u8; len];
    stream.read_exact(&mut answer).unwrap();
    if header.status != parsec_wire::Status::Success {
        return Err(header.status);
    }
    Ok(parsec_psa::decode_result(op.opcode(), &answer).unwrap())
}

#[test]
fn secrets_leave_no_copy_in_freed_memory_on_the_socket() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("parsec.sock");
    let config = Config::parse(&config_text(&socket, "")).unwrap().config;
    let listener = listen(&config.listener.socket_path).unwrap();
    let service = Service::with_store(config, Some(memory_store())).unwrap();
    let size = PoolSize {
        floor: 2,
        max_connections: 8,
        max_per_uid: 8,
    };
    let front = Front::start(listener.listener, service.dispatcher().clone(), size).unwrap();
    let found = watch_client(&[("PARSEC_WIPING_SOCKET", socket.display().to_string())]);
    front.stop(true);
    assert_eq!(found, 0, "blocks freed with the secret still in them");
}

#[test]
fn secrets_leave_no_copy_in_freed_memory_in_the_parsec1_tunnel() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("parsec.sock");
    let text = config_text(
        &socket,
        "[parsec1]\nlisten = \"127.0.0.1:0\"\nservice_key_bits = 2048\ntest_pow_difficulty = 4\n",
    );
    let config = Config::parse(&text).unwrap().config;
    let p1 = config.parsec1.clone().unwrap();
    let service = Arc::new(Service::with_store(config, Some(memory_store())).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let service_key = service.parsec1_endpoints().unwrap().service_key;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}{}", listener.local_addr().unwrap(), p1.path);
    let listeners = Listeners {
        unix: listen(&socket).unwrap().listener,
        shut_unix_on_stop: true,
        parsec1: Some(listener),
        parsec1_tls: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = rt.spawn(parsec_service::service::run(service, listeners, async {
        let _ = stopped.await;
    }));
    let found = watch_client(&[
        ("PARSEC_WIPING_URL", url),
        ("PARSEC_WIPING_KEY", service_key),
    ]);
    let _ = stop.send(());
    rt.block_on(serving).unwrap().unwrap();
    assert_eq!(found, 0, "blocks freed with the secret still in them");
}
