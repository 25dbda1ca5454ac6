//! Applications see only their own keys, and admins manage clients per authenticator. The
//! service runs in-process here, over a store seeded by the test (so that applications of two
//! authenticators can own keys in one run); the client is the crates.io `parsec-client`.

mod common;

use std::sync::Arc;

use common::direct_client;
use parsec_keystore::{KeyId, KeyRecord, KeyStore, MasterKey, SqliteStore};
use parsec_service::config::Config;
use parsec_service::front::unix::{Front, PoolSize};
use parsec_service::service::Service;
use parsec_service::socket::listen;
use parsec_wire::ProviderId;

/// The service on a temp socket, served by the front end's threads.
struct InProcess {
    _dir: tempfile::TempDir,
    socket: std::path::PathBuf,
    front: Front,
}

impl InProcess {
    fn start(auth: &str, store: Arc<SqliteStore>) -> InProcess {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("parsec.sock");
        let text = common::config(&socket, 3000, auth, "");
        let config = Config::parse(&text).unwrap().config;
        let listener = listen(&config.listener.socket_path).unwrap();
        let store: Arc<dyn KeyStore> = store;
        let service = Service::with_store(config, Some(store)).unwrap();
        let size = PoolSize {
            floor: 2,
            max_connections: 16,
            max_per_uid: 16,
        };
        let front = Front::start(listener.listener, service.dispatcher().clone(), size).unwrap();
        InProcess {
            _dir: dir,
            socket,
            front,
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.front.stop(true);
    }
}

const DIRECT: u8 = 1;
const PEER: u8 = 3;

fn seeded(keys: &[(u8, &str, &str)]) -> Arc<SqliteStore> {
    let store = SqliteStore::in_memory(MasterKey::from_bytes(&[1u8; 32]).unwrap()).unwrap();
    for (auth, app, name) in keys {
        let id = KeyId {
            auth: *auth,
            app: app.to_string(),
            name: name.to_string(),
        };
        let record = KeyRecord {
            provider: ProviderId::MbedCrypto as u8,
            attributes: parsec_psa::encode_key_attributes(&common::ecc_p256_attributes()),
            material: zeroize::Zeroizing::new(vec![0u8; 32]),
        };
        store.create(&id, &record).unwrap();
    }
    Arc::new(store)
}

fn names(keys: Vec<parsec_client::core::interface::operations::list_keys::KeyInfo>) -> Vec<String> {
    let mut names: Vec<String> = keys.into_iter().map(|k| k.name).collect();
    names.sort();
    names
}

#[test]
fn two_direct_applications_cannot_see_each_others_keys() {
    let keys = seeded(&[
        (DIRECT, "alice", "alice-1"),
        (DIRECT, "alice", "shared-name"),
        (DIRECT, "bob", "shared-name"),
        (DIRECT, "bob", "bob-1"),
    ]);
    let service = InProcess::start("[authenticator]\nauth_type = \"Direct\"\n", keys);

    let alice = direct_client(&service.socket, "alice");
    let bob = direct_client(&service.socket, "bob");
    let carol = direct_client(&service.socket, "carol");
    assert_eq!(
        names(alice.list_keys().unwrap()),
        ["alice-1", "shared-name"]
    );
    assert_eq!(names(bob.list_keys().unwrap()), ["bob-1", "shared-name"]);
    assert!(carol.list_keys().unwrap().is_empty());
    // A pattern matching every name reaches only the caller's own keys.
    let listed = |app: &str, pattern: &str| {
        let op = parsec_psa::Operation::ListKeys(parsec_psa::ops::ListKeys {
            pattern: Some(pattern.into()),
        });
        match common::raw_call(&service.socket, 0, app, &op).unwrap() {
            parsec_psa::OpResult::ListKeys(r) => {
                let mut names: Vec<String> = r.keys.into_iter().map(|k| k.name).collect();
                names.sort();
                names
            }
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(listed("alice", "**"), ["alice-1", "shared-name"]);
    assert_eq!(listed("alice", "*-1"), ["alice-1"]);
    assert_eq!(listed("bob", "*"), ["bob-1", "shared-name"]);
    assert!(listed("carol", "**").is_empty());

    // The attributes come back as stored, decoded by the upstream client.
    let info = alice
        .list_keys()
        .unwrap()
        .into_iter()
        .find(|k| k.name == "alice-1")
        .unwrap();
    assert_eq!(info.attributes.bits, 256);
    assert!(info.attributes.policy.usage_flags.sign_hash());
    assert_eq!(
        info.provider_id,
        parsec_client::core::interface::requests::ProviderId::MbedCrypto
    );
}

#[test]
fn admins_list_and_delete_clients_of_their_own_authenticator() {
    // A peer-credentials client named like a Direct one is a different application.
    let keys = seeded(&[
        (DIRECT, "alice", "a"),
        (DIRECT, "bob", "b"),
        (PEER, "alice", "uid-key"),
    ]);
    let service = InProcess::start(
        "[authenticator]\nauth_type = \"Direct\"\nadmins = [{ name = \"admin\" }]\n",
        keys.clone(),
    );
    let admin = direct_client(&service.socket, "admin");
    assert_eq!(admin.list_clients().unwrap(), ["alice", "bob"]);
    admin.delete_client("alice").unwrap();
    assert_eq!(admin.list_clients().unwrap(), ["bob"]);
    assert!(direct_client(&service.socket, "alice")
        .list_keys()
        .unwrap()
        .is_empty());
    assert_eq!(
        names(direct_client(&service.socket, "bob").list_keys().unwrap()),
        ["b"]
    );
    // The peer-credentials application of the same name kept its key.
    assert_eq!(keys.list(PEER, "alice").unwrap().len(), 1);
}
