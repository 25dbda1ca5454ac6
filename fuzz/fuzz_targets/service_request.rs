//! The whole service on the bytes of one connection: read by the socket front's reader, then
//! authentication, dispatch and the software provider on an in-memory store. Never a panic;
//! every answer is a well-formed response, and there is never more than one per request read.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use parsec_keystore::{KeyStore, MasterKey, SqliteStore};
use parsec_service::auth::Peer;
use parsec_service::config::Config;
use parsec_service::front::unix::serve_bytes;
use parsec_service::service::Service;
use parsec_wire::{Response, HEADER_LEN};

/// Direct and peer-credential clients, with an admin of each, and the software provider.
const CONFIG: &str = r#"
[core_settings]
log_level = "off"
[listener]
listener_type = "DomainSocket"
socket_path = "/nonexistent/parsec-fuzz.sock"
[[authenticator]]
auth_type = "Direct"
admins = [{ name = "admin" }]
[[authenticator]]
auth_type = "UnixPeerCredentials"
admins = [{ name = "0" }]
[[key_manager]]
name = "memory"
manager_type = "SQLite"
sqlite_db_path = "/nonexistent/keys.sqlite3"
[[provider]]
provider_type = "MbedCrypto"
key_info_manager = "memory"
"#;

fuzz_target!(|data: &[u8]| {
    let config = Config::parse(CONFIG).expect("the fuzz config loads").config;
    let master = MasterKey::from_bytes(&[7u8; 32]).expect("a 32-byte master key");
    let store: Arc<dyn KeyStore> =
        Arc::new(SqliteStore::in_memory(master).expect("an in-memory store"));
    let service = Service::with_store(config, Some(store)).expect("the service opens");
    let peer = Peer { uid: Some(1000) };
    let answered = serve_bytes(&**service.dispatcher(), data, peer);
    let mut out = answered.as_slice();
    // Requests read: at most one per HEADER_LEN bytes of input, plus one refusal.
    let mut answers = 0;
    while !out.is_empty() {
        let head: &[u8; HEADER_LEN] = out[..HEADER_LEN].try_into().expect("a whole header");
        let (_, body_len) =
            Response::decode_header(head, usize::MAX).expect("a well-formed response header");
        let end = HEADER_LEN + body_len;
        Response::decode(&out[..end], usize::MAX).expect("a well-formed response");
        out = &out[end..];
        answers += 1;
    }
    assert!(answers <= data.len() / HEADER_LEN + 1);
});
